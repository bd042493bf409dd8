// Which kernel variant each op runs, per shape class. The defaults are what GPUs run fastest (workgroup tiles
// in shared memory); the autotuner (tuning.ts) measures the alternatives on the adapter at hand and may pick
// others, e.g. the barrier-free variants on a software adapter, where workgroupBarrier() is expensive.

export type MatmulVariant = 'naive' | 'tiled' | 'reg';
export type AttentionVariant = 'flash' | 'rows';

/**
 * Shape classes of matmul, by what limits a kernel there:
 * - skinny: an output edge ≤ 16 (LoRA's rank-r products, adaLN at batch rows): a 64-wide tile is mostly idle;
 * - general: everything else above the tiny size (below 32³ multiply-adds v1 always runs: launch-bound).
 */
export type MatmulClass = 'skinny' | 'general';

export interface KernelChoices {
  matmul: Record<MatmulClass, MatmulVariant>;
  /** Short sequences (see ROWS_MAX_SCORES in ops/attention.ts); longer ones always run 'flash'. */
  attention: AttentionVariant;
}

/** What the engine runs before (or without) tuning: the GPU-shaped kernels. */
export const DEFAULT_KERNELS: KernelChoices = { matmul: { skinny: 'tiled', general: 'tiled' }, attention: 'flash' };

export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['naive', 'tiled', 'reg'];
export const ATTENTION_VARIANTS: readonly AttentionVariant[] = ['flash', 'rows'];

export function matmulClass(M: number, N: number): MatmulClass {
  return Math.min(M, N) <= 16 ? 'skinny' : 'general';
}

/** Parses stored choices (a cache file, IndexedDB); anything unknown falls back to the defaults. */
export function parseKernelChoices(value: unknown): KernelChoices | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as { matmul?: Record<string, unknown>; attention?: unknown };
  const pick = <T extends string>(x: unknown, options: readonly T[], fallback: T): T => (options.includes(x as T) ? (x as T) : fallback);
  if (!v.matmul || typeof v.matmul !== 'object') return null;
  return {
    matmul: {
      skinny: pick(v.matmul.skinny, MATMUL_VARIANTS, DEFAULT_KERNELS.matmul.skinny),
      general: pick(v.matmul.general, MATMUL_VARIANTS, DEFAULT_KERNELS.matmul.general),
    },
    attention: pick(v.attention, ATTENTION_VARIANTS, DEFAULT_KERNELS.attention),
  };
}

export function describeKernelChoices(k: KernelChoices): string {
  return `matmul skinny ${k.matmul.skinny}, general ${k.matmul.general}; attention ${k.attention}`;
}
