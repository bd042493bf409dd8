// Training data sources: what the trainer reads (images at the model's resolution + captions).
import type { TrainingData, TrainingExample } from '../train/trainer';
import { builtinSample, type SplitName, type TaskMix } from './builtin/dataset';

/**
 * Rendered images kept per source (12 KiB each at 32×32): a post-training split (512) stays whole, while a
 * pretraining stream of a million images, each seen once or a few times, keeps only its recent ones.
 */
const CACHED_EXAMPLES = 16_384;

/**
 * A split of the built-in procedural dataset, rendered lazily; the most recent renders are kept. `mixOf` picks
 * broad's task mix per example (a pretraining curriculum); every example stays a pure function of its index.
 */
export function builtinData(split: SplitName, count: number, size: number, seed?: number, mixOf?: (index: number) => TaskMix): TrainingData {
  const cache = new Map<number, TrainingExample>();
  return {
    size: count,
    example(i: number): TrainingExample {
      if (!(i >= 0 && i < count)) throw new RangeError(`builtin ${split} example ${i} is outside 0..${count - 1}`);
      let x = cache.get(i);
      if (!x) {
        const s = builtinSample(split, i, { size, seed, mix: mixOf?.(i) });
        x = { image: s.image, caption: s.caption };
        if (cache.size >= CACHED_EXAMPLES) cache.delete(cache.keys().next().value as number); // oldest first
        cache.set(i, x);
      }
      return x;
    },
  };
}

/** Examples already in memory (a dropped folder after decoding). */
export function memoryData(examples: readonly TrainingExample[]): TrainingData {
  return { size: examples.length, example: (i) => examples[i] };
}
