// Reductions: sum / mean over any axes, sumToShape (the backward of broadcasting) and its adjoint expand, and
// the per-sample MSE of the flow-matching loss. One two-pass kernel family (shaders/reduce.wgsl; the header says
// why two passes and no atomics). Results are deterministic: the same inputs give the same bits every run.
import reduceWgsl from '../../../shaders/reduce.wgsl?raw';
import stridedWgsl from '../../../shaders/strided.wgsl?raw';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import { fmtShape, shapeSize, type Shape, type Tensor } from '../tensor';
import { assertSameEngine, broadcastStrides, contiguousStrides, gatherStrided, mergeDims, pad4, sameShape, wgslSection } from './shape';

const WG = 256; // matches WG in shaders/reduce.wgsl

/**
 * Tuning knobs (tests shrink them to reach the two-pass path with tiny shapes). The reasons:
 * - targetWorkgroups: pass 1 splits the reduced range into chunks until about this many workgroups exist. An
 *   H100 holds 132 SMs x 8 resident 256-thread workgroups ~ 1056; fewer leave SMs idle on a big sum; more only
 *   add pass-2 work. Smaller GPUs just run more waves.
 * - rowValuesPerThread: a row-mode thread adds at least this many values before the 8-step tree, whose barriers
 *   cost about as much as that many loads.
 * - colRowsPerChunk: a col-mode thread sums at least this many rows per chunk, so the partial it writes is
 *   at most 1/32 of what it reads.
 * - colMinOutputs: col mode gives one thread per output; below this many outputs most of a 256-thread
 *   workgroup would idle, so row mode (a whole workgroup per output) is used even if reads are strided.
 * - rowMinLength: row mode gives 256 threads to one output; for shorter rows (a [N, 2] sum) most of them would
 *   idle, so col mode runs instead: each thread reads its own short contiguous row, and a warp's 32 rows of
 *   at most 32 floats (4 KiB) stay in L1 while it walks them. (A warp-per-row kernel with subgroup adds would
 *   serve mid-length rows better; not needed by the trainer's shapes.)
 */
export const reduceTuning = {
  targetWorkgroups: 1024,
  rowValuesPerThread: 8,
  colRowsPerChunk: 32,
  colMinOutputs: 64,
  rowMinLength: 32,
};

function pickMode(plan: ReducePlan): 'row' | 'col' {
  const t = reduceTuning;
  return (plan.innerReduced && plan.nRed >= t.rowMinLength) || plan.nOut < t.colMinOutputs ? 'row' : 'col';
}

/** What is summed at flat input index i (WGSL). Inputs share one contiguous layout. */
const LOADS = {
  x: 'IN0[i]',
  sqdiff: 'sq(IN0[i] - IN1[i])', // per-sample MSE
  gdiff: 'IN0[i] * (IN2[i] - IN1[i])', // lerp's t gradient: g·(b − a)
} as const;
export type ReduceLoad = keyof typeof LOADS;

const prelude = stridedWgsl + wgslSection(reduceWgsl, 'prelude');
const reduceCode = (load: ReduceLoad) => prelude + wgslSection(reduceWgsl, 'reduce').replace('$LOAD', LOADS[load]);
const KERNELS = Object.fromEntries(
  (Object.keys(LOADS) as ReduceLoad[]).map((k) => [k, { name: `reduce.${k}`, code: reduceCode(k) }]),
) as Record<ReduceLoad, { name: string; code: string }>;
const MSE_GRAD = { name: 'reduce.mse_grad', code: prelude + wgslSection(reduceWgsl, 'mse_grad') };

interface Strided {
  dims: number[];
  strides: number[];
}
interface ReducePlan {
  kept: Strided;
  red: Strided;
  nOut: number;
  nRed: number;
  /** The innermost (stride-1) dim is reduced: row mode reads coalesced. */
  innerReduced: boolean;
}

/** Kept and reduced dims of a contiguous `shape`, each list merged (see mergeDims). */
function planReduce(shape: Shape, reduced: readonly boolean[]): ReducePlan {
  const strides = contiguousStrides(shape);
  const pick = (want: boolean) => {
    const idx = shape.map((_, i) => i).filter((i) => reduced[i] === want);
    const m = mergeDims(
      idx.map((i) => shape[i]),
      [idx.map((i) => strides[i])],
    );
    return { dims: m.dims, strides: m.strides[0] };
  };
  const kept = pick(false);
  const red = pick(true);
  const inner = shape.map((_, i) => i).filter((i) => shape[i] !== 1).pop();
  return { kept, red, nOut: shapeSize(kept.dims), nRed: shapeSize(red.dims), innerReduced: inner !== undefined && reduced[inner] };
}

function dispatchReduce(mode: 'row' | 'col', load: ReduceLoad, inputs: Tensor[], out: Tensor, plan: ReducePlan, chunks: number, chunkLen: number, scale: number): void {
  const what = `reduce ${inputs[0].describe()} -> ${out.describe()}`;
  const k = pad4(plan.kept.dims, plan.kept.strides, what);
  const r = pad4(plan.red.dims, plan.red.strides, what);
  const u32s = (xs: number[]) => xs.map((v): ['u32', number] => ['u32', v]);
  const groups = (mode === 'row' ? plan.nOut : Math.ceil(plan.nOut / WG)) * chunks;
  const bufs = [0, 1, 2].map((i) => (inputs[i] ?? inputs[0]).buffer);
  out.engine.gpu.dispatch({
    kernel: { ...KERNELS[load], entryPoint: mode },
    buffers: [...bufs, out.buffer],
    uniforms: uniforms([
      ...u32s([plan.nOut, plan.nRed, chunkLen, chunks]),
      ['f32', scale],
      ...u32s([0, 0, 0, ...k.dims, ...k.strides, ...r.dims, ...r.strides]),
    ]),
    workgroups: grid1d(groups * WG, WG),
    detail: `${mode} ${what}`,
  });
}

/**
 * out = scale · Σ over the dims flagged in `reduced` of LOAD(inputs) (no autograd: callers record). `outShape`
 * is any shape of the kept elements' count (they come out contiguous in their row-major order).
 */
export function reduceMasked(load: ReduceLoad, inputs: Tensor[], reduced: readonly boolean[], scale: number, outShape: Shape, name: string): Tensor {
  const e = inputs[0].engine;
  const plan = planReduce(inputs[0].shape, reduced);
  const out = e.empty(outShape, name);
  if (plan.nOut === 0) return out;
  if (plan.nRed === 0) {
    e.fill(out, Number.isFinite(scale) ? 0 : Number.NaN); // an empty sum is 0; an empty mean is NaN (as torch)
    return out;
  }
  const t = reduceTuning;
  const mode = pickMode(plan);
  const byWork = mode === 'row' ? Math.ceil(plan.nRed / (WG * t.rowValuesPerThread)) : Math.ceil(plan.nRed / t.colRowsPerChunk);
  const byFill = Math.ceil(t.targetWorkgroups / (mode === 'row' ? plan.nOut : Math.ceil(plan.nOut / WG)));
  const chunkLen = Math.ceil(plan.nRed / Math.max(1, Math.min(byWork, byFill)));
  const chunks = Math.ceil(plan.nRed / chunkLen);
  if (chunks === 1) {
    dispatchReduce(mode, load, inputs, out, plan, 1, plan.nRed, scale);
    return out;
  }
  // Pass 1 into partial[chunk][o]; pass 2 sums the chunks (kept o innermost, reduced over the chunk stride).
  const partial = e.empty([chunks, plan.nOut], `${name}.partial`);
  dispatchReduce(mode, load, inputs, partial, plan, chunks, chunkLen, 1);
  const plan2: ReducePlan = {
    kept: { dims: [plan.nOut], strides: [1] },
    red: { dims: [chunks], strides: [plan.nOut] },
    nOut: plan.nOut,
    nRed: chunks,
    innerReduced: plan.nOut === 1,
  };
  dispatchReduce(pickMode(plan2), 'x', [partial], out, plan2, 1, chunks, scale);
  partial.release(); // safe: later users of the buffer are recorded after this dispatch
  return out;
}

function axesMask(op: string, x: Tensor, axes: number | readonly number[] | undefined): boolean[] {
  const r = x.shape.length;
  if (axes === undefined) return x.shape.map(() => true);
  const mask = x.shape.map(() => false);
  for (const a of typeof axes === 'number' ? [axes] : axes) {
    const n = a < 0 ? a + r : a;
    if (!Number.isInteger(a) || n < 0 || n >= r || mask[n]) throw new RangeError(`${op}: axis ${a} is out of range or repeated for ${x.describe()}`);
    mask[n] = true;
  }
  return mask;
}

function reduceAxes(op: 'sum' | 'mean', x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const mask = axesMask(op, x, axes);
  const count = shapeSize(x.shape.filter((_, i) => mask[i]));
  const scale = op === 'mean' ? 1 / count : 1;
  const kept = x.shape.map((d, i) => (mask[i] ? 1 : d));
  const outShape = keepDims ? kept : x.shape.filter((_, i) => !mask[i]);
  const y = reduceMasked('x', [x], mask, scale, outShape, op);
  // d(sum)/dx broadcasts g back over the reduced axes (times 1/count for the mean).
  return record(y, op, [x], [], (g) => [gatherStrided(g, x.shape, broadcastStrides(kept, x.shape), 0, scale, `${op}.grad`)]);
}

/** Σ of x over `axes` (default: all, giving shape []); negative axes count from the end. */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return reduceAxes('sum', x, axes, keepDims);
}

/** Mean of x over `axes` (default: all, giving shape []). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return reduceAxes('mean', x, axes, keepDims);
}

/** Checks that `small` broadcasts to `big` (NumPy rules) and returns the dims of `big` it repeats. */
function broadcastMask(op: string, small: Shape, bigShape: Shape, name: string): boolean[] {
  const lead = bigShape.length - small.length;
  const fail = () => new RangeError(`${op}: ${name}${fmtShape(small)} does not broadcast to ${fmtShape(bigShape)}`);
  if (lead < 0) throw fail();
  return bigShape.map((d, i) => {
    if (i < lead) return true;
    const s = small[i - lead];
    if (s !== d && s !== 1) throw fail();
    return s === 1 && d !== 1;
  });
}

/** Sums x over the dims that broadcasting `shape` to x.shape would repeat: the gradient of a broadcast input. */
export function sumToShape(x: Tensor, shape: Shape): Tensor {
  const mask = broadcastMask('sumToShape', shape, x.shape, 'target');
  const y = reduceMasked('x', [x], mask, 1, shape, 'sumToShape');
  return record(y, 'sumToShape', [x], [], (g) => [expand(g, x.shape)]);
}

/** x broadcast (copied) to `shape` (NumPy rules). */
export function expand(x: Tensor, shape: Shape): Tensor {
  broadcastMask('expand', x.shape, shape, x.name || 'x');
  const y = gatherStrided(x, shape, broadcastStrides(x.shape, shape), 0, 1, 'expand');
  return record(y, 'expand', [x], [], (g) => [sumToShape(g, x.shape)]);
}

function mseGrad(pred: Tensor, target: Tensor, g: Tensor, scale: number): Tensor {
  const gp = pred.engine.empty(pred.shape, 'mse.grad');
  if (gp.size === 0) return gp;
  pred.engine.gpu.dispatch({
    kernel: MSE_GRAD,
    buffers: [pred.buffer, target.buffer, g.buffer, gp.buffer],
    uniforms: uniforms([
      ['u32', gp.size],
      ['u32', gp.size / g.size],
      ['f32', scale],
    ]),
    workgroups: grid1d(gp.size, WG),
    detail: pred.describe(),
  });
  return gp;
}

/**
 * Per-sample mean squared error: pred, target [B, ...] -> [B], mean over every non-batch element (the
 * flow-matching loss before the batch weighting). Fused: (pred − target)² is never written to memory.
 * Gradients for pred and, when it requires grad, target (= −grad pred).
 */
export function perSampleMse(pred: Tensor, target: Tensor): Tensor {
  assertSameEngine('perSampleMse', [pred, target]);
  if (!sameShape(pred.shape, target.shape) || pred.shape.length === 0) {
    throw new RangeError(`perSampleMse: pred ${pred.describe()} and target ${target.describe()} must have the same [B, ...] shape`);
  }
  const inner = pred.size / pred.shape[0];
  const mask = pred.shape.map((_, i) => i > 0);
  const y = reduceMasked('sqdiff', [pred, target], mask, 1 / inner, [pred.shape[0]], 'perSampleMse');
  return record(y, 'perSampleMse', [pred, target], [pred, target], (g, [p, t]) => [
    pred.requiresGrad ? mseGrad(p, t, g, 2 / inner) : null,
    target.requiresGrad ? mseGrad(p, t, g, -2 / inner) : null,
  ]);
}

// ------------------------------------------------------------------------------------------ traffic

/** Compulsory DRAM bytes of an op (each operand read once, each output written once), for a benchmark's GB/s. */
export interface Traffic {
  forward: number;
  backward: number;
}

/**
 * sum / mean / sumToShape from `inShape` to `outShape` over `inputs` fused operands: read every input once,
 * write the output once. The two-pass partials add chunks·nOut·8 bytes, under ~1% by the tuning. Backward:
 * read g, write the broadcast gradient.
 */
export function reduceBytes(inShape: Shape, outShape: Shape, inputs = 1): Traffic {
  const [n, out] = [shapeSize(inShape), shapeSize(outShape)];
  return { forward: 4 * (inputs * n + out), backward: 4 * (out + n) };
}

/** perSampleMse: forward reads pred and target, writes [B]; the backward (pred only, as in training: the
 *  target is frozen) reads pred, target and g, writes the gradient. A trainable target costs as much again. */
export function perSampleMseBytes(shape: Shape): Traffic {
  const n = shapeSize(shape);
  const b = shape[0] ?? 1;
  return { forward: 4 * (2 * n + b), backward: 4 * (3 * n + b) };
}
