// The kernel autotuner: a short measurement at start-up that picks, per shape class, the fastest kernel variant
// that computes the right numbers on this adapter, and caches the choice per adapter. A GPU keeps its
// workgroup-tiled kernels; a software adapter (SwiftShader, WARP, llvmpipe), where workgroupBarrier() switches
// every invocation of a workgroup in and out on the CPU, gets the barrier-free ones. Nothing is assumed from
// the adapter's name: the same measurement runs everywhere.
import type { AdapterSummary } from '../gpu/device';
import { backward } from './autograd';
import type { Engine } from './engine';
import {
  ATTENTION_VARIANTS,
  DEFAULT_KERNELS,
  MATMUL_VARIANTS,
  parseKernelChoices,
  REDUCTION_VARIANTS,
  type AttentionVariant,
  type KernelChoices,
  type ReductionVariant,
  type MatmulClass,
  type MatmulVariant,
} from './kernels';
import { attention } from './ops/attention';
import { matmulWith } from './ops/matmul';
import { broadcastGrads } from './ops/modulate';
import { layerNorm } from './ops/norm';
import { gradNorm } from './ops/optim';
import type { Tensor } from './tensor';

/** Bump when a kernel or a workload below changes: cached choices from older code are measured again. */
export const TUNING_VERSION = 7;

export interface Measurement {
  op: 'matmul' | 'attention' | 'reduction';
  shapeClass: string;
  variant: string;
  /** Fastest of the timed runs, ms of wall time per workload (null: refused). */
  ms: number | null;
  /** Why the variant was not eligible (its numbers differ from the reference kernel's). */
  refused?: string;
}

export interface TuneResult {
  choices: KernelChoices;
  measurements: Measurement[];
  /** Wall time of the whole tuning, ms. */
  ms: number;
}

/** Where choices persist between runs (a file in Node, IndexedDB in the studio's worker). */
export interface KernelCache {
  load(key: string): Promise<unknown>;
  save(key: string, value: unknown): Promise<void>;
}

export interface CachedChoices {
  choices: KernelChoices;
  /** The measurements behind a fresh tuning (absent when the choice came from the cache). */
  tuned: TuneResult | null;
  key: string;
}

/** The cache key: the adapter as it names itself, and the tuning code's version. */
export function tuningKey(s: AdapterSummary): string {
  return `v${TUNING_VERSION}|${s.vendor}|${s.architecture}|${s.device}|${s.description}`;
}

// Workloads per shape class, shaped like a LoRA training step of the built-in base (token counts of a SOAR aux
// batch of 6 images; what users run most): matmuls as [M, N, K, transA, transB], attention as [B, H, T, Dh].
// Small on purpose: on a software adapter the first start waits for the whole measurement.
type MatmulShape = [number, number, number, boolean, boolean];
const MATMUL_WORKLOADS: Record<MatmulClass, MatmulShape[]> = {
  // The context tokens' LoRA products at batch 4, and adaLN at batch 4.
  tiny: [[64, 4, 64, false, true], [64, 64, 4, false, true], [4, 64, 64, true, false], [4, 64, 64, false, true]],
  // LoRA down (x·Aᵀ), up (h·Bᵀ) and the A gradient (gᵀ·x summed over tokens); adaLN at batch rows.
  skinny: [[384, 4, 64, false, true], [384, 64, 4, false, true], [4, 64, 384, true, false], [24, 384, 64, false, true]],
  // Weight gradients: gᵀ·x summed over the tokens of the batch.
  reduce: [[64, 64, 384, true, false], [96, 64, 768, true, false], [64, 96, 768, true, false]],
  // Projections and the MLP forward (x·Wᵀ), and the input gradients (g·W).
  general: [[384, 64, 64, false, true], [384, 256, 64, false, true], [384, 64, 256, false, true], [384, 64, 64, false, false]],
};
const ATTENTION_WORKLOAD = { batch: 4, heads: 2, tokens: 80, dh: 32 };
// SOAR's aux batch of image tokens at width 64 (adaLN sums per image), and a pretraining step's parameters.
const REDUCTION_WORKLOAD = { rows: 384, width: 64, groups: 6, params: [65536, 16384, 4096, 130, 64] };

/** Deterministic values in [-1, 1) (the tuner must not depend on Math.random). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** max |x − ref| / max(|ref|, 1e-6) */
function relativeError(x: Float32Array, ref: Float32Array): number {
  let err = 0;
  let mag = 1e-6;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(x[i] - ref[i]));
    mag = Math.max(mag, Math.abs(ref[i]));
  }
  return Number.isFinite(err) ? err / mag : Infinity;
}

/** fp32 sums in another order differ by a few ulps of the magnitude; a wrong kernel is off by far more. */
const MAX_RELATIVE_ERROR = 1e-4;

export interface Candidate {
  /** Records the workload on the GPU; returns the tensors whose values identify a correct result. */
  record(): Tensor[];
}

/**
 * Times `c`: one warm-up (pipeline compilation), then the fastest of `reps` runs, each awaited. A run slower than
 * twice `toBeat` (the best variant so far) ends the timing early: it cannot win, and on a software adapter the
 * losers are the slow part of the tuning.
 */
async function time(engine: Engine, c: Candidate, reps: number, toBeat = Infinity): Promise<number> {
  const run = () => {
    for (const t of engine.scope(() => c.record())) t.release();
  };
  run();
  await engine.gpu.sync();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    run();
    await engine.gpu.sync();
    best = Math.min(best, performance.now() - t0);
    if (best > 2 * toBeat) break;
  }
  return best;
}

async function outputs(engine: Engine, c: Candidate): Promise<Float32Array[]> {
  const ts = engine.scope(() => c.record());
  const out = await Promise.all(ts.map((t) => t.toArray()));
  for (const t of ts) t.release();
  return out;
}

/**
 * Picks the fastest correct variant of `variants`. `reference` (default: the first variant) computes the
 * numbers the others must agree with; a reference that is not among the variants is run once, not timed.
 */
export async function chooseVariant<V extends string>(
  engine: Engine,
  op: Measurement['op'],
  shapeClass: string,
  variants: readonly V[],
  candidate: (v: V) => Candidate,
  reps: number,
  log: (m: Measurement) => void,
  referenceVariant: V = variants[0],
): Promise<{ best: V; measurements: Measurement[] }> {
  const reference = await outputs(engine, candidate(referenceVariant));
  const measurements: Measurement[] = [];
  let best = variants[0];
  let bestMs = Infinity;
  for (const v of variants) {
    const c = candidate(v);
    const got = v === referenceVariant ? reference : await outputs(engine, c);
    const err = Math.max(...got.map((g, i) => relativeError(g, reference[i])));
    const m: Measurement = err <= MAX_RELATIVE_ERROR
      ? { op, shapeClass, variant: v, ms: await time(engine, c, reps, bestMs) }
      : { op, shapeClass, variant: v, ms: null, refused: `relative error ${err.toExponential(1)} against ${referenceVariant}` };
    measurements.push(m);
    log(m);
    if (m.ms !== null && m.ms < bestMs) {
      best = v;
      bestMs = m.ms;
    }
  }
  return { best, measurements };
}

/** Measures every variant on every shape class and returns the fastest correct choice of each. */
export async function tuneKernels(engine: Engine, opts: { reps?: number; log?: (m: Measurement) => void } = {}): Promise<TuneResult> {
  const reps = opts.reps ?? 3;
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const e = engine;
  const kept: Tensor[] = [];
  const keep = (t: Tensor) => (kept.push(e.keep(t)), t);
  const measurements: Measurement[] = [];
  const choices: KernelChoices = { ...DEFAULT_KERNELS, matmul: { ...DEFAULT_KERNELS.matmul } };
  try {
    for (const cls of Object.keys(MATMUL_WORKLOADS) as MatmulClass[]) {
      const operands = MATMUL_WORKLOADS[cls].map(([M, N, K, tA, tB], i) => ({
        a: keep(e.fromArray(values(M * K, 2 * i + 1), tA ? [K, M] : [M, K], 'tune.a')),
        b: keep(e.fromArray(values(K * N, 2 * i + 2), tB ? [N, K] : [K, N], 'tune.b')),
        tA,
        tB,
      }));
      // v1 (naive), the simplest kernel, is the reference the register-blocked ones must agree with; it is a
      // candidate only for tiny problems (elsewhere it is many times slower: timing it would only cost seconds).
      const variants = cls === 'tiny' ? MATMUL_VARIANTS : MATMUL_VARIANTS.filter((v) => v !== 'naive');
      const r = await chooseVariant<MatmulVariant>(e, 'matmul', cls, variants, (v) => ({
        record: () => e.noGrad(() => operands.map((o) => matmulWith(v, o.a, o.b, { transA: o.tA, transB: o.tB }))),
      }), reps, log, 'naive');
      choices.matmul[cls] = r.best;
      measurements.push(...r.measurements);
    }

    const { batch, heads, tokens, dh } = ATTENTION_WORKLOAD;
    const n = batch * tokens * heads * dh;
    const [q, k, v, g] = [1, 2, 3, 4].map((s) => keep(e.fromArray(values(n, 100 + s), [batch, tokens, heads * dh], 'tune.qkv')));
    for (const t of [q, k, v]) t.requiresGrad = true;
    const r = await chooseVariant<AttentionVariant>(e, 'attention', 'short', ATTENTION_VARIANTS, (variant) => ({
      // Forward and backward: a training step runs both, and the variants split the work differently.
      record: () => {
        for (const t of [q, k, v]) {
          t.grad?.release();
          t.grad = null;
        }
        backward(attention(q, k, v, heads, { variant }), g);
        const grads = [q.grad!, k.grad!, v.grad!];
        for (const t of [q, k, v]) t.grad = null;
        return grads;
      },
    }), reps, log);
    choices.attention = r.best;
    measurements.push(...r.measurements);

    // Reductions over many rows: the gradient norm of a step's parameters, adaLN's column sums, a LayerNorm.
    const { rows, width, groups, params } = REDUCTION_WORKLOAD;
    const x = keep(e.fromArray(values(rows * width, 200), [rows, width], 'tune.x'));
    const dy = keep(e.fromArray(values(rows * width, 201), [rows, width], 'tune.dy'));
    const ps = params.map((n, i) => keep(e.fromArray(values(n, 300 + i), [n], 'tune.param')));
    const before = e.kernels;
    try {
      const red = await chooseVariant<ReductionVariant>(e, 'reduction', 'rows', REDUCTION_VARIANTS, (variant) => ({
        record: () => {
          e.kernels = { ...before, reduction: variant };
          const out = e.noGrad(() => {
            const g = broadcastGrads(dy, x, null, groups, [groups, width], { a: true, b: true });
            return [gradNorm(ps), g.a!, g.b!, layerNorm(x)];
          });
          e.kernels = before;
          return out;
        },
      }), reps, log);
      choices.reduction = red.best;
      measurements.push(...red.measurements);
    } finally {
      e.kernels = before;
    }
  } finally {
    for (const t of kept) t.release();
  }
  return { choices, measurements, ms: performance.now() - t0 };
}

/**
 * The choices for this engine's adapter: from the cache when this code measured them before, else measured
 * now and saved. Installs them on the engine. A failing cache is not fatal: it only costs a new measurement.
 */
export async function loadOrTuneKernels(engine: Engine, cache: KernelCache | null, opts: { log?: (m: Measurement) => void; retune?: boolean } = {}): Promise<CachedChoices> {
  const key = tuningKey(engine.gpu.summary);
  if (cache && !opts.retune) {
    const stored = parseKernelChoices(await cache.load(key).catch(() => null));
    if (stored) {
      engine.kernels = stored;
      return { choices: stored, tuned: null, key };
    }
  }
  const tuned = await tuneKernels(engine, { log: opts.log });
  engine.kernels = tuned.choices;
  await cache?.save(key, tuned.choices).catch(() => {});
  return { choices: tuned.choices, tuned, key };
}
