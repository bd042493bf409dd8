// Batched matmul with fused epilogue (bias, residual, alpha, activation), forward and backward.
//
//   y = act(alpha · opA(a) · opB(b) + bias + residual)
//   a: [..., M, K] ([..., K, M] with transA); b: [..., K, N] ([..., N, K] with transB); y: [..., M, N].
//   Batch dims are equal, or one side has none (broadcast: weights shared by every batch, the linear-layer case).
//
// Kernels (see the shader headers): v1 'naive' (shaders/matmul.wgsl, one thread per output) and v2 'tiled'
// (shaders/matmul_tiled.wgsl, 64x64 tiles, 4x4 per thread, vec4 loads), plus shaders/matmul_grad.wgsl for the
// epilogue's backward (act' and the bias column sum). `matmul` picks the variant by shape; `matmulWith` forces
// one (for tests and benchmarks), backward included.
//
// Backward: the activation needs its input, so the forward SAVES the pre-activation (one extra [.., M, N] write,
// only when grad is recorded) rather than recomputing it (a second full GEMM in the backward). Then
//   gp = g ⊙ act'(pre) (fused with dbias = Σ_rows gp), dresidual = gp,
//   dA = alpha·gp·opB(b)ᵀ, dB = alpha·opA(a)ᵀ·gp (each as one GEMM with the transposes folded into the flags;
//   a broadcast operand's gradient sums over the batch inside the kernel's K loop, without a temporary).
// The forward saves a only when b needs a gradient and b only when a does (a frozen weight does not keep the
// layer input alive).
import activationWgsl from '../../../shaders/activation.wgsl?raw';
import commonWgsl from '../../../shaders/matmul_common.wgsl?raw';
import naiveWgsl from '../../../shaders/matmul.wgsl?raw';
import tiledWgsl from '../../../shaders/matmul_tiled.wgsl?raw';
import regWgsl from '../../../shaders/matmul_reg.wgsl?raw';
import vec4Wgsl from '../../../shaders/matmul_vec4.wgsl?raw';
import gradWgsl from '../../../shaders/matmul_grad.wgsl?raw';
import type { PooledBuffer } from '../../gpu/runtime';
import { needsGrad, record } from '../autograd';
import { uniforms } from '../dispatch';
import type { Engine } from '../engine';
import { fmtShape, type Shape, type Tensor } from '../tensor';
import type { Activation } from '../reference/activation';

export type { Activation } from '../reference/activation';
import { DEFAULT_KERNELS, matmulClass, type KernelChoices, type MatmulVariant } from '../kernels';

export type { MatmulVariant } from '../kernels';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** [N], added to every row. */
  bias?: Tensor | null;
  /** Same shape as the output, added before the activation (fused `y = ... + residual`, e.g. a LoRA update). */
  residual?: Tensor | null;
  /** Scales the product only (not bias or residual). Default 1. */
  alpha?: number;
  activation?: Activation;
  /** Name of the output tensor. */
  name?: string;
}

const ACTIVATIONS: readonly Activation[] = ['none', 'gelu_tanh', 'silu'];
/** Codes of the ACT override constant in shaders/matmul_common.wgsl and matmul_grad.wgsl. */
const ACT_CODE: Record<Activation, number> = { none: 0, gelu_tanh: 1, silu: 2 };

const NAIVE = { name: 'matmul_naive', code: activationWgsl + commonWgsl + naiveWgsl };
const TILED = { name: 'matmul_tiled', code: activationWgsl + commonWgsl + vec4Wgsl + tiledWgsl };
const REG = { name: 'matmul_reg', code: activationWgsl + commonWgsl + vec4Wgsl + regWgsl };
/** v3 workgroup: 8x8 threads, 4x4 outputs each (a 32x32 tile of C; 'reg8': 4x8 each, 32x64). */
const REG_WG = 8;
const GRAD = { name: 'matmul_grad', code: activationWgsl + gradWgsl };
const NAIVE_WG = 16; // v1 workgroup edge (16x16 threads, one output each)
const TILE = 64; // v2 C tile edge (16x16 threads x 4x4 outputs)
const GRAD_COLS = 64; // matmul_grad workgroup: 64 columns...
const GRAD_ROWS = 256; // ...by 256 rows

// ------------------------------------------------------------------ shapes

export interface MatmulDims {
  M: number;
  N: number;
  K: number;
  /** Product of the output's batch dims (1 without). */
  batch: number;
  aBatched: boolean;
  bBatched: boolean;
  outShape: number[];
}

/** Validates the operand shapes and returns the matmul's dimensions; errors name both shapes. */
export function matmulDims(aShape: Shape, bShape: Shape, transA = false, transB = false): MatmulDims {
  const what = `matmul: a ${fmtShape(aShape)}${transA ? ' (transA)' : ''} and b ${fmtShape(bShape)}${transB ? ' (transB)' : ''}`;
  if (aShape.length < 2 || bShape.length < 2) throw new RangeError(`${what}: both need at least 2 dimensions`);
  const ar = aShape.length;
  const br = bShape.length;
  const [M, K] = transA ? [aShape[ar - 1], aShape[ar - 2]] : [aShape[ar - 2], aShape[ar - 1]];
  const [Kb, N] = transB ? [bShape[br - 1], bShape[br - 2]] : [bShape[br - 2], bShape[br - 1]];
  if (K !== Kb) throw new RangeError(`${what}: inner dimensions ${K} and ${Kb} differ`);
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  if (aBatch.length && bBatch.length && (aBatch.length !== bBatch.length || aBatch.some((d, i) => d !== bBatch[i]))) {
    throw new RangeError(`${what}: batch dimensions ${fmtShape(aBatch)} and ${fmtShape(bBatch)} differ (they must be equal, or one side must have none)`);
  }
  const batchShape = aBatch.length ? aBatch : bBatch;
  const batch = batchShape.reduce((x, y) => x * y, 1);
  return { M, N, K, batch, aBatched: aBatch.length > 0, bBatched: bBatch.length > 0, outShape: [...batchShape, M, N] };
}

/**
 * The engine's choice for the shape class (src/tensor/kernels.ts). GPU defaults: v1 for tiny problems (below 32³
 * multiply-adds the launch dominates and any tile would be mostly empty), v2 tiled otherwise, including skinny
 * shapes, where its coalesced vec4 staging beats v1's strided reads even when part of the tile idles.
 */
export function pickVariant(M: number, N: number, K: number, batch = 1, kernels: KernelChoices = DEFAULT_KERNELS): MatmulVariant {
  return kernels.matmul[matmulClass(M, N, K, batch)];
}

export interface MatmulCost {
  /** 2·M·N·K·batch (multiply + add; the epilogue is not counted). */
  flops: number;
  /** Compulsory DRAM traffic: every operand read once, every output written once (4 bytes per element). */
  bytes: number;
}

/** FLOPs and minimum bytes moved by one forward matmul call (for benchmarks: GFLOP/s and GB/s). */
export function matmulCost(
  aShape: Shape,
  bShape: Shape,
  opts: { transA?: boolean; transB?: boolean; bias?: boolean; residual?: boolean; storePre?: boolean } = {},
): MatmulCost {
  const d = matmulDims(aShape, bShape, opts.transA, opts.transB);
  const size = (s: Shape) => s.reduce((x, y) => x * y, 1);
  const out = d.batch * d.M * d.N;
  const elements = size(aShape) + size(bShape) + out * (1 + (opts.residual ? 1 : 0) + (opts.storePre ? 1 : 0)) + (opts.bias ? d.N : 0);
  return { flops: 2 * d.M * d.N * d.K * d.batch, bytes: 4 * elements };
}

// ------------------------------------------------------------------ one kernel launch

interface Operand {
  buf: PooledBuffer;
  /** Stored transposed (see matmul_common.wgsl). */
  trans: boolean;
  /** Has a batch dim (batch stride = its matrix size); otherwise broadcast over the batch. */
  batched: boolean;
}

interface GemmCall {
  a: Operand;
  b: Operand;
  M: number;
  N: number;
  K: number;
  batch: number;
  /** Sum the batch's products into one [M, N] output instead of writing [batch, M, N]. */
  reduce: boolean;
  alpha: number;
  bias: Tensor | null;
  residual: Tensor | null;
  act: Activation;
  /** Receives the pre-activation when given. */
  pre: Tensor | null;
  out: Tensor;
  variant: MatmulVariant | 'auto';
}

function gemm(e: Engine, g: GemmCall): void {
  const { M, N, K, batch } = g;
  const gridZ = g.reduce ? 1 : batch;
  if (M * N * gridZ === 0) return;
  const variant = g.variant === 'auto' ? pickVariant(M, N, K, batch, e.kernels) : g.variant;
  const aStride = g.a.batched ? M * K : 0;
  const bStride = g.b.batched ? K * N : 0;
  const params = uniforms([
    ['u32', M],
    ['u32', N],
    ['u32', K],
    ['u32', g.reduce ? batch : 1], // nRed
    ['u32', g.reduce ? 0 : aStride], // aBatch
    ['u32', g.reduce ? 0 : bStride], // bBatch
    ['u32', g.reduce ? aStride : 0], // aRed
    ['u32', g.reduce ? bStride : 0], // bRed
    ['f32', g.alpha],
  ]);
  const constants: Record<string, number> = {
    TRANS_A: +g.a.trans,
    TRANS_B: +g.b.trans,
    HAS_BIAS: +!!g.bias,
    HAS_RESIDUAL: +!!g.residual,
    STORE_PRE: +!!g.pre,
    ACT: ACT_CODE[g.act],
  };
  let kernel = NAIVE;
  let workgroups: [number, number, number] = [Math.ceil(N / NAIVE_WG), Math.ceil(M / NAIVE_WG), gridZ];
  if (variant === 'tiled' || variant === 'reg' || variant === 'reg8') {
    kernel = variant === 'tiled' ? TILED : REG;
    if (variant === 'reg8') constants.WIDE = 1; // 4x8 per thread
    // Whole register blocks everywhere (then every batch offset is 16-byte aligned too): loads without bounds
    // checks, which on a software adapter cost more than the FMAs they guard (measured: ~2.5x on 1536x256x64).
    if (variant !== 'tiled') constants.EXACT = +(M % 4 === 0 && N % (variant === 'reg8' ? 8 : 4) === 0 && K % 4 === 0);
    const tile = variant === 'tiled' ? TILE : 4 * REG_WG;
    workgroups = [Math.ceil(N / (variant === 'reg8' ? 2 * tile : tile)), Math.ceil(M / tile), gridZ];
    // vec4 loads need the stored contiguous dimension to be a multiple of 4 (then every batch offset is too).
    constants.A_VEC4 = +((g.a.trans ? M : K) % 4 === 0);
    constants.B_VEC4 = +((g.b.trans ? K : N) % 4 === 0);
  }
  // Unused epilogue bindings still need a buffer: read-only ones alias an operand, pre gets a scratch buffer.
  const scratch = g.pre ? null : e.gpu.alloc(16, 'matmul.scratch');
  e.gpu.dispatch({
    kernel: { ...kernel, constants },
    buffers: [g.a.buf, g.b.buf, g.bias?.buffer ?? g.b.buf, g.residual?.buffer ?? g.a.buf, g.out.buffer, g.pre?.buffer ?? scratch!],
    uniforms: params,
    workgroups,
    detail: `${variant} ${batch > 1 ? `${batch}${g.reduce ? '(sum)' : ''}x` : ''}${M}x${N}x${K}${g.a.trans ? ' tA' : ''}${g.b.trans ? ' tB' : ''}`,
  });
  if (scratch) e.gpu.release(scratch);
}

// ------------------------------------------------------------------ epilogue backward

/**
 * gp = g ⊙ act'(pre) (null when act is none: the caller uses g) and dbias = Σ_rows gp (when wanted), g viewed
 * as [rows, cols]. The column sum runs in passes of 256 rows per workgroup until one row is left.
 */
function epilogueGrad(e: Engine, g: Tensor, pre: Tensor | null, act: Activation, wantSum: boolean, rows: number, cols: number) {
  const gp = act !== 'none' ? e.empty(g.shape, 'matmul.gradPre') : null;
  if (!gp && !wantSum) return { gp, dbias: null };
  let src = g.buffer;
  let srcRows = rows;
  let code = ACT_CODE[act];
  let partial: Tensor | null = null;
  for (;;) {
    const blocks = Math.max(1, Math.ceil(srcRows / GRAD_ROWS));
    const out = wantSum ? e.empty(blocks === 1 ? [cols] : [blocks, cols], 'matmul.dbias') : null;
    const scratch = code === 0 || !out ? e.gpu.alloc(16, 'matmul.scratch') : null;
    e.gpu.dispatch({
      kernel: { ...GRAD, constants: { ACT: code, SUM: +wantSum } },
      buffers: [src, code ? pre!.buffer : src, code ? gp!.buffer : scratch!, out ? out.buffer : scratch!],
      uniforms: uniforms([['u32', srcRows], ['u32', cols]]),
      workgroups: [Math.ceil(cols / GRAD_COLS), blocks],
      detail: `${srcRows}x${cols}${code ? ' act' : ''}${wantSum ? ' sum' : ''}`,
    });
    if (scratch) e.gpu.release(scratch);
    partial?.release();
    partial = out;
    if (!out || blocks === 1) break;
    src = out.buffer;
    srcRows = blocks;
    code = 0;
  }
  return { gp, dbias: partial };
}

/** A fresh copy (a gradient returned to the tape must not share storage with the gradient it came from). */
function copyOf(e: Engine, t: Tensor, name: string): Tensor {
  const out = e.empty(t.shape, name);
  if (t.size) e.gpu.copy(t.buffer, 0, out.buffer, 0, t.bytes);
  return out;
}

// ------------------------------------------------------------------ the op

/** y = act(alpha·opA(a)·opB(b) + bias + residual), the kernel chosen by shape. Recorded for autograd. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return matmulWith('auto', a, b, opts);
}

/** matmul with the kernel variant forced (forward and backward) or 'auto'; tests and benchmarks compare them. */
export function matmulWith(variant: MatmulVariant | 'auto', a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const e = a.engine;
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  const bias = opts.bias ?? null;
  const residual = opts.residual ?? null;
  const act = opts.activation ?? 'none';
  const alpha = opts.alpha ?? 1;
  const d = matmulDims(a.shape, b.shape, transA, transB);
  const what = `matmul: a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}`;
  if (!ACTIVATIONS.includes(act)) throw new RangeError(`${what}: unknown activation '${act}' (${ACTIVATIONS.join(' | ')})`);
  if (!Number.isFinite(alpha)) throw new RangeError(`${what}: alpha ${alpha} is not finite`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== d.N)) {
    throw new RangeError(`${what}: bias ${fmtShape(bias.shape)} must be [${d.N}]`);
  }
  if (residual && (residual.shape.length !== d.outShape.length || residual.shape.some((s, i) => s !== d.outShape[i]))) {
    throw new RangeError(`${what}: residual ${fmtShape(residual.shape)} must match the output ${fmtShape(d.outShape)}`);
  }

  // a [batch, M, K] times a shared b is one [batch·M, K] x [K, N] matmul: bigger tiles, no batch dimension.
  const p = { ...d };
  if (d.aBatched && !d.bBatched && !transA) Object.assign(p, { M: d.batch * d.M, batch: 1, aBatched: false });

  const inputs = [a, b, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  const grad = needsGrad(e, inputs);
  const out = e.empty(d.outShape, opts.name ?? 'matmul');
  const pre = grad && act !== 'none' ? e.empty(d.outShape, `${opts.name ?? 'matmul'}.pre`) : null;
  gemm(e, {
    a: { buf: a.buffer, trans: transA, batched: p.aBatched },
    b: { buf: b.buffer, trans: transB, batched: p.bBatched },
    M: p.M,
    N: p.N,
    K: p.K,
    batch: p.batch,
    reduce: false,
    alpha,
    bias,
    residual,
    act,
    pre,
    out,
    variant,
  });
  if (!grad) return out;

  const needA = a.requiresGrad;
  const needB = b.requiresGrad;
  const needBias = !!bias?.requiresGrad;
  const needResidual = !!residual?.requiresGrad;
  // saved: [a if b needs grad, b if a needs grad, pre if any]
  const save = [...(needB ? [a] : []), ...(needA ? [b] : []), ...(pre ? [pre] : [])];
  record(out, 'matmul', inputs, save, (g, saved) => {
    let i = 0;
    const sa = needB ? saved[i++] : null;
    const sb = needA ? saved[i++] : null;
    const spre = pre ? saved[i++] : null;
    const { gp, dbias } = epilogueGrad(e, g, spre, act, needBias, d.batch * d.M, d.N);
    const G: Operand = { buf: (gp ?? g).buffer, trans: false, batched: true };
    const common = { batch: p.batch, alpha, bias: null, residual: null, act: 'none' as const, pre: null, variant };
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needA) {
      da = e.empty(a.shape, `${a.name || 'a'}.grad`);
      const B: Operand = { buf: sb!.buffer, trans: transB, batched: p.bBatched };
      const reduce = !p.aBatched && p.batch > 1;
      if (!transA) gemm(e, { ...common, a: G, b: { ...B, trans: !transB }, M: p.M, N: p.K, K: p.N, reduce, out: da }); // gp·opBᵀ
      else gemm(e, { ...common, a: B, b: { ...G, trans: true }, M: p.K, N: p.M, K: p.N, reduce, out: da }); // (gp·opBᵀ)ᵀ = opB·gpᵀ
    }
    if (needB) {
      db = e.empty(b.shape, `${b.name || 'b'}.grad`);
      const A: Operand = { buf: sa!.buffer, trans: transA, batched: p.aBatched };
      const reduce = !p.bBatched && p.batch > 1;
      if (!transB) gemm(e, { ...common, a: { ...A, trans: !transA }, b: G, M: p.K, N: p.N, K: p.M, reduce, out: db }); // opAᵀ·gp
      else gemm(e, { ...common, a: { ...G, trans: true }, b: A, M: p.N, N: p.K, K: p.M, reduce, out: db }); // gpᵀ·opA
    }
    let dres: Tensor | null = null;
    if (needResidual) dres = gp ?? copyOf(e, g, 'residual.grad');
    if (gp && gp !== dres) gp.release();
    return [da, db, ...(bias ? [dbias] : []), ...(residual ? [dres] : [])];
  });
  pre?.release(); // the tape holds its own reference
  return out;
}
