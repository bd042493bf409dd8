// A held-out split of a user's dataset: a fixed share of the examples kept out of training, chosen by a seeded
// hash of each example's id (its path, or md5 for the reference JSONL), so the same files are held out whatever
// order the folder lists them in, and adding files does not reshuffle the ones already held out.
import { fmix32, fnv1a32 } from '../../encode/tokenizer';
import type { IngestExample } from './types';

export interface HeldOutSplit {
  train: IngestExample[];
  heldOut: IngestExample[];
  /** Why nothing was held out, when nothing was. */
  note: string | null;
}

/** Fewest held-out images worth a validation loss, and the least a dataset needs for a split at all. */
export const MIN_HELD_OUT = 4;
const MIN_FOR_SPLIT = 2 * MIN_HELD_OUT;

/**
 * Holds out `fraction` of the examples (at least MIN_HELD_OUT, at most a quarter). Fewer than MIN_FOR_SPLIT
 * examples, or fraction 0: nothing is held out, and `note` says so.
 */
export function heldOutSplit(examples: readonly IngestExample[], fraction: number, seed: number): HeldOutSplit {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`the held-out fraction must be in [0, 1), got ${fraction}`);
  if (fraction === 0) return { train: [...examples], heldOut: [], note: 'no held-out split was asked for (--held-out 0)' };
  if (examples.length < MIN_FOR_SPLIT) {
    return { train: [...examples], heldOut: [], note: `${examples.length} examples are too few to hold any out (a split needs ${MIN_FOR_SPLIT}); the validation loss is measured on training images` };
  }
  const k = Math.min(Math.floor(examples.length / 4), Math.max(MIN_HELD_OUT, Math.round(examples.length * fraction)));
  const ranked = examples.map((e, i) => ({ i, h: fmix32(fnv1a32(e.id) ^ seed) })).sort((a, b) => a.h - b.h || a.i - b.i);
  const out = new Set(ranked.slice(0, k).map((r) => r.i));
  return {
    train: examples.filter((_, i) => !out.has(i)),
    heldOut: examples.filter((_, i) => out.has(i)),
    note: null,
  };
}
