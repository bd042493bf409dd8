// linear and linearLora: GPU (matmul forced to v1 naive and to v2 tiled) vs the float64 reference, forward and
// every gradient; frozen weights get no gradient; several adapters; an empty adapter list is plain linear; the
// reference gradients vs finite differences; shape errors.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import { linear, linearLora } from '../../src/tensor/ops/linear';
import type { MatmulVariant } from '../../src/tensor/ops/matmul';
import { MATMUL_VARIANTS } from '../../src/tensor/kernels';
import { linearLoraRef, linearLoraRefBackward, linearRef, type LoraRefAdapter } from '../../src/tensor/reference/matmul';
import type { Tensor } from '../../src/tensor/tensor';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand, type Tolerance } from './harness';

const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
const scaled = (tol: Tolerance, length: number): Tolerance => ({ atol: tol.atol * Math.max(1, Math.sqrt(length / 16)), rtol: tol.rtol });

interface LoraCase {
  name: string;
  x: number[];
  inF: number;
  outF: number;
  bias: boolean;
  /** Trainable base weight (normally frozen). */
  trainW: boolean;
  adapters: Array<{ rank: number; scale: number }>;
  /** Call with (A, B, scale) instead of a list (one adapter). */
  positional?: boolean;
}

const CASES: LoraCase[] = [
  { name: 'plain linear, batched x [2, 3, 20], trainable W and bias', x: [2, 3, 20], inF: 20, outF: 33, bias: true, trainW: true, adapters: [] },
  { name: 'one adapter (A, B, scale), frozen W, rows 67', x: [67, 20], inF: 20, outF: 33, bias: true, trainW: false, adapters: [{ rank: 4, scale: 0.5 }], positional: true },
  { name: 'two adapters (base + SFT + SOAR preview), ranks 4 and 3, no bias', x: [5, 20], inF: 20, outF: 33, bias: false, trainW: false, adapters: [{ rank: 4, scale: 2 }, { rank: 3, scale: -0.75 }] },
];

async function runCase(variant: MatmulVariant, c: LoraCase, seed: number): Promise<void> {
  const e = await getEngine();
  const rows = size(c.x.slice(0, -1));
  const X = f32(rand(size(c.x), seed));
  const Wt = f32(rand(c.outF * c.inF, seed + 1));
  const bias = c.bias ? f32(rand(c.outF, seed + 2)) : null;
  const refAdapters: LoraRefAdapter[] = c.adapters.map((ad, i) => ({
    A: f32(rand(ad.rank * c.inF, seed + 10 + i)),
    B: f32(rand(c.outF * ad.rank, seed + 20 + i)),
    rank: ad.rank,
    scale: ad.scale,
  }));
  const G = f32(rand(rows * c.outF, seed + 3));
  const before = e.gpu.pool.bytesInUse;

  const x = e.parameter(X, c.x, 'x');
  const w = c.trainW ? e.parameter(Wt, [c.outF, c.inF], 'W') : e.fromArray(Wt, [c.outF, c.inF], 'W');
  const b = bias ? e.parameter(bias, [c.outF], 'bias') : null;
  const adapters = refAdapters.map((ad, i) => ({
    A: e.parameter(ad.A, [ad.rank, c.inF], `A${i}`),
    B: e.parameter(ad.B, [c.outF, ad.rank], `B${i}`),
    scale: ad.scale,
  }));
  const y = !c.adapters.length
    ? linear(x, w, b, { variant })
    : c.positional
      ? linearLora(x, w, b, adapters[0].A, adapters[0].B, adapters[0].scale, { variant })
      : linearLora(x, w, b, adapters, { variant });
  expect(y.shape).toEqual([...c.x.slice(0, -1), c.outF]);
  const ref = linearLoraRef(X, c.x, Wt, [c.outF, c.inF], bias, refAdapters);
  expectClose(await y.toArray(), ref.y, scaled(FWD, c.inF), `${variant} ${c.name}: y`);

  const g = e.fromArray(G, y.shape, 'g');
  backward(y, g);
  for (const t of [y, g]) t.release();
  const rg = linearLoraRefBackward(X, c.x, Wt, [c.outF, c.inF], refAdapters, G);
  const check = async (t: Tensor, expected: Float64Array, length: number, what: string) => {
    expect(t.grad, `${what} has a gradient`).not.toBe(null);
    expectClose(await t.grad!.toArray(), expected, scaled(GRAD, length), `${variant} ${c.name}: ${what}`);
  };
  await check(x, rg.dx, c.outF, 'dx');
  if (c.trainW) await check(w, rg.dw, rows, 'dW');
  else expect(w.grad).toBe(null); // frozen: no gradient computed
  if (b) await check(b, rg.dbias, rows, 'dbias');
  for (const [i, ad] of adapters.entries()) {
    await check(ad.A, rg.dA[i], rows * c.outF, `dA${i}`);
    await check(ad.B, rg.dB[i], rows, `dB${i}`);
  }
  for (const t of [x, w, ...(b ? [b] : []), ...adapters.flatMap((ad) => [ad.A, ad.B])]) t.release();
  expect(e.gpu.pool.bytesInUse).toBe(before);
}

for (const variant of MATMUL_VARIANTS) {
  describe(`linear / linearLora on matmul ${variant} vs float64 reference`, () => {
    CASES.forEach((c, i) => it(c.name, () => runCase(variant, c, 100 * i + 5)));
  });
}

describe('linear details', () => {
  it('a 1-D x gives a 1-D y; the fused activation applies after the bias', async () => {
    const e = await getEngine();
    const X = f32(rand(20, 1));
    const Wt = f32(rand(33 * 20, 2));
    const bias = f32(rand(33, 3));
    const ins = [e.fromArray(X, [20]), e.fromArray(Wt, [33, 20]), e.fromArray(bias, [33])];
    const y = linear(ins[0], ins[1], ins[2], { activation: 'gelu_tanh' });
    expect(y.shape).toEqual([33]);
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    expectClose(await y.toArray(), linearRef(X, [20], Wt, [33, 20], bias).y.map(gelu), FWD, 'linear 1-D gelu');
    for (const t of [y, ...ins]) t.release();
  });

  it('linearLora with no adapters is exactly linear', async () => {
    const e = await getEngine();
    const x = e.fromArray(f32(rand(6 * 20, 4)), [6, 20]);
    const w = e.fromArray(f32(rand(33 * 20, 5)), [33, 20]);
    const b = e.fromArray(f32(rand(33, 6)), [33]);
    const [y0, y1] = [linearLora(x, w, b, []), linear(x, w, b)];
    expect(Array.from(await y0.toArray())).toEqual(Array.from(await y1.toArray()));
    for (const t of [x, w, b, y0, y1]) t.release();
  });

  it('shape errors name the op, the shapes and the mismatch', async () => {
    const e = await getEngine();
    e.scope(() => {
      const t = (shape: number[]) => e.zeros(shape);
      const x = t([4, 8]);
      const w = t([6, 8]);
      expect(() => linear(t([4, 7]), w)).toThrow("linear: x [4, 7] and weight [6, 8]: x's last dimension 7 differs from weight's in 8");
      expect(() => linear(x, t([6, 8, 1]))).toThrow('linear: x [4, 8] and weight [6, 8, 1]: weight must be [out, in]');
      expect(() => linear(x, w, t([8]))).toThrow('linear: x [4, 8] and weight [6, 8]: bias [8] must be [6]');
      expect(() => linearLora(x, w, null, t([2, 7]), t([6, 2]), 1)).toThrow('linearLora: adapter 0: A [2, 7] must be [rank, 8] (weight [6, 8])');
      expect(() => linearLora(x, w, null, [{ A: t([2, 8]), B: t([6, 2]), scale: 1 }, { A: t([2, 8]), B: t([6, 3]), scale: 1 }])).toThrow(
        'linearLora: adapter 1: B [6, 3] must be [6, 2] ([out, rank] with A [2, 8])',
      );
      expect(() => linearLora(x, w, null, t([2, 8]), t([6, 2]), Number.NaN)).toThrow('linearLora: adapter 0: scale NaN is not a finite number');
    });
  });
});

describe('linearLora reference gradients vs finite differences', () => {
  it('dx, dW, dbias, dA, dB with two adapters', () => {
    const xs = [2, 3, 5];
    const [inF, outF] = [5, 4];
    const X = rand(size(xs), 31);
    const Wt = rand(outF * inF, 32);
    const bias = rand(outF, 33);
    const mk = (rank: number, scale: number, s: number): LoraRefAdapter => ({ A: rand(rank * inF, s), B: rand(outF * rank, s + 1), rank, scale });
    const ads = [mk(2, 0.5, 34), mk(3, -1.5, 36)];
    const G = rand(6 * outF, 38);
    const loss = (x: Float64Array, w: Float64Array, b: Float64Array, a: LoraRefAdapter[]) => dot(linearLoraRef(x, xs, w, [outF, inF], b, a).y, G);
    const g = linearLoraRefBackward(X, xs, Wt, [outF, inF], ads, G);
    const tol = { atol: 1e-7, rtol: 1e-6 };
    expectClose(g.dx, finiteDiff((x) => loss(x, Wt, bias, ads), X), tol, 'dx');
    expectClose(g.dw, finiteDiff((w) => loss(X, w, bias, ads), Wt), tol, 'dW');
    expectClose(g.dbias, finiteDiff((b) => loss(X, Wt, b, ads), bias), tol, 'dbias');
    ads.forEach((ad, i) => {
      const withA = (A: Float64Array) => ads.map((o, j) => (j === i ? { ...o, A } : o));
      const withB = (B: Float64Array) => ads.map((o, j) => (j === i ? { ...o, B } : o));
      expectClose(g.dA[i], finiteDiff((A) => loss(X, Wt, bias, withA(A)), ad.A), tol, `dA${i}`);
      expectClose(g.dB[i], finiteDiff((B) => loss(X, Wt, bias, withB(B)), ad.B), tol, `dB${i}`);
    });
  });
});
