// Which kernel variant each op runs, per shape class. The defaults are what GPUs run fastest (workgroup tiles
// in shared memory); the autotuner (tuning.ts) measures the alternatives on the adapter at hand and may pick
// others, e.g. the barrier-free variants on a software adapter, where workgroupBarrier() is expensive.

/** naive: v1, one thread per output; tiled: v2, 64x64 workgroup tiles in shared memory; reg / reg8: v3, 4x4 or
 *  4x8 register blocks per thread straight from storage, no barrier. */
export type MatmulVariant = 'naive' | 'tiled' | 'reg' | 'reg8';
export type AttentionVariant = 'flash' | 'rows';
/**
 * Reductions over many rows (the gradient norm's per-chunk sums, the column sums behind adaLN / norm weight
 * gradients): 'tree' = many threads and a workgroup tree (GPUs); 'serial' = one thread per output, no barrier.
 */
export type ReductionVariant = 'tree' | 'serial';

/**
 * Shape classes of matmul, by what limits a kernel there:
 * - tiny: below 32³ multiply-adds (the context tokens' LoRA products at small batch): the launch dominates;
 * - skinny: an edge ≤ 16 (LoRA's rank-r products: N = r down, K = r up; adaLN at batch rows): a 64-wide tile,
 *   or a 16-deep K step, is mostly idle;
 * - reduce: a long reduction into a small output (K ≥ 4·max(M, N): weight gradients summed over tokens), where
 *   few threads each run a long loop;
 * - general: everything else.
 */
export type MatmulClass = 'tiny' | 'skinny' | 'reduce' | 'general';

export interface KernelChoices {
  matmul: Record<MatmulClass, MatmulVariant>;
  /** Short sequences (see ROWS_MAX_SCORES in ops/attention.ts); longer ones always run 'flash'. */
  attention: AttentionVariant;
  reduction: ReductionVariant;
}

/** What the engine runs before (or without) tuning: the GPU-shaped kernels. */
export const DEFAULT_KERNELS: KernelChoices = { matmul: { tiny: 'naive', skinny: 'tiled', reduce: 'tiled', general: 'tiled' }, attention: 'flash', reduction: 'tree' };

/**
 * The untuned start for an adapter: the GPU-shaped kernels, with barrier-free reductions on an adapter that
 * reports itself as software (the norms' one-thread-per-row layout predates the tuner and the tests rely on
 * its speed there). The tuner measures and replaces all of it.
 */
export function defaultKernels(isSoftware: boolean): KernelChoices {
  return isSoftware ? { ...DEFAULT_KERNELS, reduction: 'serial' } : DEFAULT_KERNELS;
}

export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['naive', 'tiled', 'reg', 'reg8'];
export const ATTENTION_VARIANTS: readonly AttentionVariant[] = ['flash', 'rows'];
export const REDUCTION_VARIANTS: readonly ReductionVariant[] = ['tree', 'serial'];

export function matmulClass(M: number, N: number, K: number, batch = 1): MatmulClass {
  if (M * N * Math.max(K, 1) * batch < 32 ** 3) return 'tiny';
  if (Math.min(M, N, K) <= 16) return 'skinny';
  return K >= 4 * Math.max(M, N) ? 'reduce' : 'general';
}

/** Parses stored choices (a cache file, IndexedDB); anything unknown falls back to the defaults. */
export function parseKernelChoices(value: unknown): KernelChoices | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as { matmul?: Record<string, unknown>; attention?: unknown; reduction?: unknown };
  const pick = <T extends string>(x: unknown, options: readonly T[], fallback: T): T => (options.includes(x as T) ? (x as T) : fallback);
  if (!v.matmul || typeof v.matmul !== 'object') return null;
  return {
    matmul: {
      tiny: pick(v.matmul.tiny, MATMUL_VARIANTS, DEFAULT_KERNELS.matmul.tiny),
      skinny: pick(v.matmul.skinny, MATMUL_VARIANTS, DEFAULT_KERNELS.matmul.skinny),
      reduce: pick(v.matmul.reduce, MATMUL_VARIANTS, DEFAULT_KERNELS.matmul.reduce),
      general: pick(v.matmul.general, MATMUL_VARIANTS, DEFAULT_KERNELS.matmul.general),
    },
    attention: pick(v.attention, ATTENTION_VARIANTS, DEFAULT_KERNELS.attention),
    reduction: pick(v.reduction, REDUCTION_VARIANTS, DEFAULT_KERNELS.reduction),
  };
}

export function describeKernelChoices(k: KernelChoices): string {
  return `matmul tiny ${k.matmul.tiny}, skinny ${k.matmul.skinny}, reduce ${k.matmul.reduce}, general ${k.matmul.general}; attention ${k.attention}; reductions ${k.reduction}`;
}
