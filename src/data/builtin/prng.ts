// A small seeded PRNG for the procedural dataset. Deliberately separate from the training RNG (Philox on the GPU):
// the dataset must be the same bytes in every environment, with or without a GPU, and a sample must be a pure
// function of (seed, split, index) so any index can be generated alone, in any order, by any worker.

import { fmix32 } from '../../encode/tokenizer';
import { SeededRandom } from '../../model/random';

/** Hash a list of 32-bit integers (and short strings, hashed by char codes) into one 32-bit seed. */
export function hashSeed(...parts: (number | string)[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (typeof part === 'number') {
      // Split into two 32-bit halves so indices ≥ 2^32 still hash distinctly.
      h = fmix32(h ^ (part >>> 0)) + 0x632be5ab;
      h = fmix32(h ^ Math.floor(part / 0x1_0000_0000));
    } else {
      for (let i = 0; i < part.length; i++) h = fmix32(h ^ part.charCodeAt(i)) + 0x7f4a7c15;
    }
    h >>>= 0;
  }
  return fmix32(h);
}

/** Seeded random source for layouts: the weights' mulberry32 (SeededRandom), started at state = seed. */
export class Rng {
  private readonly source: SeededRandom;

  constructor(seed: number) {
    // SeededRandom starts at seed ^ 0x9e3779b9; pre-xoring makes the dataset's state the seed itself.
    this.source = new SeededRandom((seed ^ 0x9e3779b9) >>> 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.source.uniform();
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.int(items.length)];
  }

  /** Index drawn proportionally to non-negative weights. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((s, w) => s + w, 0);
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    // Rounding can leave u at 0 after the last subtraction: the last index that can be drawn at all.
    let last = weights.length - 1;
    while (last > 0 && !(weights[last] > 0)) last--;
    return last;
  }

  /** Standard normal (Box–Muller; one value per call keeps the stream simple to reason about). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}
