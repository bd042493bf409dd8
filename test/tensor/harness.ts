// Shared test harness for kernels: one engine per test file on Dawn (SwiftShader here), deterministic random
// data, tolerance checks that print the first mismatches, and central finite differences.
import { afterAll } from 'vitest';
import { nodeGpu, closeNodeGpu } from '../../src/gpu/node';
import { Gpu } from '../../src/gpu/runtime';
import { Engine } from '../../src/tensor/engine';

let enginePromise: Promise<Engine> | null = null;

/** The engine for this test file, with NaN-poisoned outputs so a skipped element cannot pass. */
export function getEngine(): Promise<Engine> {
  enginePromise ??= nodeGpu().then((ctx) => {
    const e = new Engine(new Gpu(ctx));
    e.poisonOutputs = true;
    return e;
  });
  return enginePromise;
}

afterAll(async () => {
  if (enginePromise) (await enginePromise).gpu.destroy();
  enginePromise = null;
  await closeNodeGpu();
});

/** Deterministic uniform [lo, hi) numbers (mulberry32), as float64. */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** Rounds to float32, as the GPU sees the data. */
export function f32(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(x as ArrayLike<number>));
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** fp32 forward: a few ulps of the accumulated magnitude. */
export const FWD: Tolerance = { atol: 1e-5, rtol: 1e-4 };
/** Gradients accumulate over more terms and through more ops than forwards. */
export const GRAD: Tolerance = { atol: 5e-5, rtol: 5e-4 };

/**
 * Throws when |actual − expected| > atol + rtol·|expected| anywhere (NaN fails), listing the first ten
 * mismatches with their indices, as llm.c's validate_result does.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label: string): void {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  const bad: string[] = [];
  let nBad = 0;
  let maxErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = Math.abs(a - e);
    if (!(err <= tol.atol + tol.rtol * Math.abs(e))) {
      nBad++;
      if (bad.length < 10) bad.push(`  [${i}] got ${a}, expected ${e} (|diff| ${err.toExponential(2)})`);
    }
    if (Number.isFinite(err)) maxErr = Math.max(maxErr, err);
  }
  if (nBad > 0) {
    throw new Error(`${label}: ${nBad} of ${expected.length} values outside atol ${tol.atol} + rtol ${tol.rtol}·|ref| (max |diff| ${maxErr.toExponential(2)}):\n${bad.join('\n')}`);
  }
}

/** Central finite differences of a scalar float64 function. */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const v = xp[i];
    xp[i] = v + eps;
    const fp = f(xp);
    xp[i] = v - eps;
    const fm = f(xp);
    xp[i] = v;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/** Σ w·y, the scalar used to check gradients: its gradient w.r.t. y is w. */
export function dot(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}
