// LayerNorm, RMSNorm and the fused adaLN norm LN(x)·(1 + scale) + shift, over the last dim, forward and backward.
// One row kernel serves all three (shaders/norm.wgsl); dweight/dbias/dscale/dshift are sums over rows done by
// `broadcastGrads` (ops/modulate.ts), a second kernel, not float atomics. Float64 spec: reference/norm.ts.
//
// The forward saves per-row stats (k, m, rstd, 0) = 16 bytes per row, so the backward never recomputes the
// reductions of the forward; the mean is k + m (see the kernel's header for why it is split).
import type { Kernel } from '../../gpu/runtime';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import { fmtShape, type Shape, type Tensor } from '../tensor';
import { broadcastGrads, broadcastGradsBytes, checkModulation, sameShape, vecPrelude, vecWidth, type Traffic, type VecWidth } from './modulate';
import normWgsl from '../../../shaders/norm.wgsl?raw';

const CODE: Record<VecWidth, string> = { 1: vecPrelude(1) + normWgsl, 4: vecPrelude(4) + normWgsl };
const WG = 256; // threads per workgroup: the WebGPU default maxComputeInvocationsPerWorkgroup

/**
 * Tuning flag: how many threads share a row. 'gpu': lanesFor's tree-reduced rows. 'cpu': one thread per row, no
 * cross-thread reduction. 'auto' (default) picks 'cpu' on software adapters: SwiftShader runs a workgroup's
 * invocations as coroutines and every barrier switches all of them, so on 2 cores a [512, 1536] LayerNorm takes
 * 31 ms with one thread per row and 680 ms with 128 lanes (12 288 rows of 64: 140 ms vs 640 ms). On a GPU one
 * thread per row would be uncoalesced (neighbours 6 KiB apart) and leave most of the machine idle.
 */
export const normFlags: { lanes: 'auto' | 'gpu' | 'cpu' } = { lanes: 'auto' };

/** Threads per row on a GPU: a power of two (tree reduction) giving each thread about 4 vectors (loads in
 *  flight to hide DRAM latency, few registers), at most the whole workgroup. D = 1536 as vec4: 128 lanes,
 *  3 vectors each; Dh = 64 (q/k norm): 4 lanes, 64 rows per workgroup. */
export function lanesFor(nv: number): number {
  let lanes = 1;
  while (lanes < WG && lanes * 4 < nv) lanes *= 2;
  return lanes;
}

interface RowNorm {
  op: string;
  center: boolean; // LayerNorm (true) or RMSNorm
  w: Tensor | null; // weight [D], or scale [B, D] with onePlus
  b: Tensor | null; // bias [D], or shift [B, D]
  onePlus: boolean;
  groups: number; // rows of w/b: 1 for a plain affine, B for adaLN
  eps: number;
}

function kernel(entry: 'norm_fwd' | 'norm_bwd', vw: VecWidth, lanes: number, n: RowNorm): Kernel {
  const constants: Record<string, number> = { LANES: lanes, CENTER: Number(n.center), HAS_W: Number(n.w !== null), ONE_PLUS: Number(n.onePlus) };
  if (entry === 'norm_fwd') constants.HAS_B = Number(n.b !== null); // norm_bwd has no bias binding
  return { name: `norm.${entry}.v${vw}`, code: CODE[vw], entryPoint: entry, constants };
}

function dispatchRows(x: Tensor, n: RowNorm, entry: 'norm_fwd' | 'norm_bwd', buffers: Tensor[], detail: string): void {
  const d = x.shape[x.shape.length - 1];
  const rows = x.size / d;
  if (rows === 0) return;
  const vw = vecWidth(d);
  const nv = d / vw;
  // 'auto': the engine's reduction choice (tuned per adapter): tree lanes per row, or one thread per row.
  const policy = normFlags.lanes === 'auto' ? (x.engine.kernels.reduction === 'serial' ? 'cpu' : 'gpu') : normFlags.lanes;
  const lanes = policy === 'cpu' ? 1 : lanesFor(nv);
  x.engine.gpu.dispatch({
    kernel: kernel(entry, vw, lanes, n),
    buffers: buffers.map((t) => t.buffer),
    uniforms: uniforms([['u32', rows], ['u32', nv], ['u32', rows / n.groups], ['f32', d], ['f32', n.eps]]),
    workgroups: grid1d(rows, WG / lanes),
    detail,
  });
}

/** The shared forward and backward of the three norms. */
function rowNorm(x: Tensor, n: RowNorm): Tensor {
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] < 1) throw new RangeError(`${n.op}: x ${fmtShape(x.shape)} has no last dim to normalise`);
  const e = x.engine;
  const d = x.shape[x.shape.length - 1];
  const rows = x.size / d;
  const y = e.empty(x.shape, n.op);
  const stats = e.empty([rows, 4], `${n.op}.stats`);
  dispatchRows(x, n, 'norm_fwd', [x, n.w ?? x, n.b ?? x, y, stats], `${n.op} ${x.describe()}`);

  const inputs = [x, n.w, n.b].filter((t): t is Tensor => t !== null);
  record(y, n.op, inputs, [x, stats, ...(n.w ? [n.w] : [])], (dy, [xs, st, ws]) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = e.empty(x.shape, `${n.op}.dx`);
      dispatchRows(xs, n, 'norm_bwd', [dy, xs, ws ?? xs, st, dx], `${n.op}.dx ${x.describe()}`);
    }
    const wantW = n.w?.requiresGrad ?? false;
    const wantB = n.b?.requiresGrad ?? false;
    const v = wantW || wantB ? broadcastGrads(dy, xs, st, n.groups, (n.w ?? n.b)!.shape, { a: wantW, b: wantB }) : { a: null, b: null };
    return [dx, ...(n.w ? [v.a] : []), ...(n.b ? [v.b] : [])];
  });
  stats.release(); // the tape holds its own reference when it saved it
  return y;
}

function checkAffine(op: string, x: Tensor, params: Record<string, Tensor | null | undefined>): void {
  const d = x.shape[x.shape.length - 1];
  for (const [name, p] of Object.entries(params)) {
    if (p && !sameShape(p.shape, [d])) throw new RangeError(`${op}: ${name} ${fmtShape(p.shape)} does not match x ${fmtShape(x.shape)}: expected [${d}]`);
  }
}

// ------------------------------------------------------------------------------------------------- ops

/** LayerNorm over the last dim of x [..., D] (biased variance, as torch); weight and bias [D] optional
 *  (SD3's norm1/norm2 have none: elementwise_affine=False). */
export function layerNorm(x: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-6): Tensor {
  checkAffine('layerNorm', x, { weight, bias });
  return rowNorm(x, { op: 'layerNorm', center: true, w: weight ?? null, b: bias ?? null, onePlus: false, groups: 1, eps });
}

/** RMSNorm over the last dim of x [..., D]: x / sqrt(mean(x²) + eps) · weight. SD3.5's q/k norm: reshape to
 *  [B, T, H, Dh] first, weight [Dh]. */
export function rmsNorm(x: Tensor, weight?: Tensor | null, eps = 1e-6): Tensor {
  checkAffine('rmsNorm', x, { weight });
  return rowNorm(x, { op: 'rmsNorm', center: false, w: weight ?? null, b: null, onePlus: false, groups: 1, eps });
}

/** SD3's AdaLayerNormZero norm in one pass: LN(x)·(1 + scale) + shift, x [B, T, D], shift and scale [B, D].
 *  Equal to modulate(layerNorm(x), shift, scale) and saves one write and one read of the activations. */
export function layerNormModulate(x: Tensor, shift: Tensor, scale: Tensor, eps = 1e-6): Tensor {
  const [bs] = checkModulation('layerNormModulate', x, { shift, scale });
  return rowNorm(x, { op: 'layerNormModulate', center: true, w: scale, b: shift, onePlus: true, groups: bs, eps });
}

// ------------------------------------------------------------------------------------------------- traffic

/**
 * DRAM bytes of one call on x of `shape` (for GB/s): each tensor read or written once; the kernels' row
 * re-reads are assumed to hit cache. `vectors` = rows of weight/bias (1) or of shift/scale (B); `params` = how
 * many of them there are (0, 1, 2). Backward assumes every input needs its gradient.
 */
export function normBytes(shape: Shape, params: 0 | 1 | 2, vectors = 1): Traffic {
  const d = shape[shape.length - 1];
  const rows = shape.reduce((a, b) => a * b, 1) / d;
  const act = rows * d;
  const vec = params * vectors * d;
  const stats = 4 * rows;
  return {
    forward: 4 * (2 * act + vec + stats),
    backward: 4 * (3 * act + stats + (params > 0 ? vectors * d : 0)) + (params > 0 ? broadcastGradsBytes(rows, d, vectors, true) : 0),
  };
}
