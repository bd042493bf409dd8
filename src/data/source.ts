// Training data sources: what the trainer reads (images at the model's resolution + captions).
import type { TrainingData, TrainingExample } from '../train/trainer';
import { builtinSample, type SplitName } from './builtin/dataset';

/** A split of the built-in procedural dataset, rendered lazily and kept (a few KiB per image). */
export function builtinData(split: SplitName, count: number, size: number, seed?: number): TrainingData {
  const cache = new Map<number, TrainingExample>();
  return {
    size: count,
    example(i: number): TrainingExample {
      if (!(i >= 0 && i < count)) throw new RangeError(`builtin ${split} example ${i} is outside 0..${count - 1}`);
      let x = cache.get(i);
      if (!x) {
        const s = builtinSample(split, i, { size, seed });
        x = { image: s.image, caption: s.caption };
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
