// The benchmark's cases: DiT-like shapes (tokens·batch = 64..2048 rows, widths 64..1536), their cost (FLOPs
// and compulsory bytes, from the ops' own counting helpers) and the default/full sets.
//
// The default set is small on purpose: SwiftShader runs WebGPU at ~1 GFLOPS on 2 shared cores, and every case
// runs three implementations in two environments. `--full` is the grid from the design brief; on SwiftShader it
// takes far longer than the default (tens of minutes), on a real GPU seconds.
import { attentionFlops } from '../../src/tensor/ops/attention';
import { matmulCost } from '../../src/tensor/ops/matmul';
import { binaryBytes } from '../../src/tensor/ops/elementwise';
import { normBytes } from '../../src/tensor/ops/norm';

export type Case =
  /** y[M, N] = x[M, K] · w[K, N]; M = tokens·batch (a linear layer without bias). */
  | { op: 'matmul'; M: number; K: number; N: number }
  /** Non-causal self-attention, q/k/v [B, T, H·Dh]. */
  | { op: 'attention'; B: number; H: number; T: number; Dh: number }
  /** LayerNorm over D of x [rows, D] with weight and bias [D]. */
  | { op: 'layernorm'; rows: number; D: number }
  /** y = a + b, all [rows, D] (the residual add; the elementwise family's simplest member). */
  | { op: 'add'; rows: number; D: number }
  /** softmax over the last dim of x [rows, N] (attention scores: rows = B·H·T, N = T). */
  | { op: 'softmax'; rows: number; N: number };

export type Op = Case['op'];

export interface Cost {
  flops: number;
  /** Compulsory DRAM traffic: each input read once, each output written once. */
  bytes: number;
  /** Which rate the table reports: GFLOPS for compute-bound ops, GB/s for memory-bound ones. */
  bound: 'compute' | 'memory';
}

export function caseCost(c: Case): Cost {
  switch (c.op) {
    case 'matmul': {
      const { flops, bytes } = matmulCost([c.M, c.K], [c.K, c.N]);
      return { flops, bytes, bound: 'compute' };
    }
    case 'attention': {
      const flops = attentionFlops(c.B, c.H, c.T, c.T, c.Dh).forward;
      return { flops, bytes: 4 * 4 * c.B * c.T * c.H * c.Dh, bound: 'compute' };
    }
    case 'layernorm': {
      // The op's count includes the per-row stats it saves for the backward (16 bytes a row); ORT and the
      // naive kernel do not write them, so the rate is taken over the traffic all three share.
      const bytes = normBytes([c.rows, c.D], 2).forward - 16 * c.rows;
      return { flops: 8 * c.rows * c.D, bytes, bound: 'memory' };
    }
    case 'add': {
      const shape = [c.rows, c.D];
      return { flops: c.rows * c.D, bytes: binaryBytes('add', shape, shape, shape).forward, bound: 'memory' };
    }
    case 'softmax':
      // Read x, write y; the kernels' re-reads of a row are assumed to hit cache (softmax.ts has no helper).
      return { flops: 5 * c.rows * c.N, bytes: 4 * 2 * c.rows * c.N, bound: 'memory' };
  }
}

export function caseLabel(c: Case): string {
  switch (c.op) {
    case 'matmul':
      return `M=${c.M} K=${c.K} N=${c.N}`;
    case 'attention':
      return `B=${c.B} H=${c.H} T=${c.T} Dh=${c.Dh}`;
    case 'layernorm':
    case 'add':
      return `rows=${c.rows} D=${c.D}`;
    case 'softmax':
      return `rows=${c.rows} N=${c.N}`;
  }
}

/** Small enough for SwiftShader on a shared 2-core machine: every case is at most 50 MFLOP. */
export const DEFAULT_CASES: Case[] = [
  { op: 'matmul', M: 256, K: 256, N: 256 },
  { op: 'matmul', M: 1024, K: 256, N: 64 },
  { op: 'matmul', M: 256, K: 1536, N: 64 }, // LoRA down-projection (rank 64) of a 1536-wide layer
  { op: 'matmul', M: 256, K: 64, N: 1536 }, // LoRA up-projection
  { op: 'attention', B: 1, H: 2, T: 64, Dh: 64 },
  { op: 'attention', B: 1, H: 2, T: 256, Dh: 64 },
  { op: 'layernorm', rows: 1024, D: 256 },
  { op: 'layernorm', rows: 256, D: 1536 },
  { op: 'add', rows: 1024, D: 256 },
  { op: 'add', rows: 256, D: 1536 },
  { op: 'softmax', rows: 512, N: 256 }, // B=1, H=2, T=256 attention scores
  { op: 'softmax', rows: 256, N: 1024 },
];

/** The brief's grid: matmul M ∈ {256, 1024} × K, N ∈ {64, 256, 1536}; attention B ∈ {1, 2} × H ∈ {2, 4} ×
 *  T ∈ {64, 256, 1024}, Dh 64; layernorm and add over the same rows and widths; softmax over the score rows
 *  of those attention shapes. */
export function fullCases(): Case[] {
  const out: Case[] = [];
  for (const M of [256, 1024]) for (const K of [64, 256, 1536]) for (const N of [64, 256, 1536]) out.push({ op: 'matmul', M, K, N });
  for (const B of [1, 2]) for (const H of [2, 4]) for (const T of [64, 256, 1024]) out.push({ op: 'attention', B, H, T, Dh: 64 });
  for (const rows of [256, 1024]) for (const D of [64, 256, 1536]) out.push({ op: 'layernorm', rows, D }, { op: 'add', rows, D });
  for (const [rows, N] of [[128, 64], [1024, 256], [8192, 1024]]) out.push({ op: 'softmax', rows, N });
  return out;
}

export function selectCases(full: boolean, only?: readonly Op[]): Case[] {
  const all = full ? fullCases() : DEFAULT_CASES;
  return only?.length ? all.filter((c) => only.includes(c.op)) : all;
}

/** The inputs every implementation receives (same names as the ONNX graph inputs, same row-major data). */
export function caseInputs(c: Case): Array<{ name: string; shape: number[] }> {
  switch (c.op) {
    case 'matmul':
      return [
        { name: 'A', shape: [c.M, c.K] },
        { name: 'B', shape: [c.K, c.N] },
      ];
    case 'attention': {
      const shape = [c.B, c.T, c.H * c.Dh];
      return [
        { name: 'Q', shape },
        { name: 'K', shape },
        { name: 'V', shape },
      ];
    }
    case 'layernorm':
      return [
        { name: 'X', shape: [c.rows, c.D] },
        { name: 'W', shape: [c.D] },
        { name: 'Bias', shape: [c.D] },
      ];
    case 'add':
      return [
        { name: 'A', shape: [c.rows, c.D] },
        { name: 'B', shape: [c.rows, c.D] },
      ];
    case 'softmax':
      return [{ name: 'X', shape: [c.rows, c.N] }];
  }
}

/** The output's shape (all three ops keep it row-major and identical across implementations). */
export function caseOutputShape(c: Case): number[] {
  switch (c.op) {
    case 'matmul':
      return [c.M, c.N];
    case 'attention':
      return [c.B, c.T, c.H * c.Dh];
    case 'layernorm':
    case 'add':
      return [c.rows, c.D];
    case 'softmax':
      return [c.rows, c.N];
  }
}

/** LayerNorm epsilon used by every implementation (the engine's default). */
export const LN_EPS = 1e-6;
