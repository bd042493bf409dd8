// What the end of a pretraining chunk measures besides the evaluator, on unseen single objects (a stream of its
// own, never trained on), with fixed noise: long before samples show shapes, these say whether and where the
// denoiser is learning them.
//
// - Shape use: the flow-matching loss with each image's own caption against the same images, noise and noise
//   levels with the shape word swapped for another shape. A model that draws the shape it is told loses more
//   with the wrong word. Small and large objects apart (a shape word moves 2.4 times as many pixels on a large
//   one). 64 images per size: the 32 mixed images of every checkpoint (pretrain.ts) swing by more than the effect.
// - Loss by noise level: the clean-image error at fixed noise levels (σ²·velocity loss = the mean squared error
//   of x̂0 = x − σ·v̂). A sample commits to its layout at high noise; at σ = 1 the input holds nothing about the
//   image, and a model whose error there is above the images' own variance around their mean image invents
//   layouts out of the noise (measured on studio-s: scattered blocks in its samples).
import { builtinSample } from '../data/builtin/dataset';
import type { Size } from '../data/builtin/vocab';
import { memoryData } from '../data/source';
import type { Trainer } from '../train/trainer';
import { swapShape } from './word-separation';

/** Relative loss increase with the shape word swapped, in percent of the loss with the right word (a size the
 * renderer never drew at this resolution is absent). */
export type ShapeUse = Partial<Record<Size, number>>;

export interface NoiseLoss {
  /** Noise level → mean squared error of the clean-image guess. */
  bySigma: Record<string, number>;
  /** The error of guessing the probe images' mean image: what a model that knows nothing scores at σ = 1. */
  meanImage: number;
}

export interface ChunkProbes {
  shapeUse: ShapeUse;
  noiseLoss: NoiseLoss;
}

/** Images per size: 64 keeps the probes to about a minute on a software adapter. */
export const PROBE_IMAGES = 64;
export const PROBE_SIGMAS = [0.3, 0.5, 0.7, 0.9, 1] as const;

type Example = { image: Float32Array; caption: string };

export async function chunkProbes(trainer: Trainer, resolution: number, seed: number, perSize = PROBE_IMAGES): Promise<ChunkProbes> {
  const bySize: Record<Size, Example[]> = { small: [], large: [] };
  // Single objects, split by the size the renderer drew. Bounded: at a resolution too small for large objects
  // the renderer draws every one small.
  for (let i = 0; i < perSize * 20 && (bySize.small.length < perSize || bySize.large.length < perSize); i++) {
    const s = builtinSample('broad', i, { size: resolution, seed, mix: 'single' });
    const list = bySize[s.scene.objects[0].size];
    if (list.length < perSize) list.push({ image: s.image, caption: s.caption });
  }
  const shapeUse: ShapeUse = {};
  for (const size of ['small', 'large'] as const) {
    const examples = bySize[size];
    if (!examples.length) continue;
    const data = memoryData(examples);
    const right = await trainer.validationLoss({ data, caption: (c) => c, count: examples.length });
    const swapped = await trainer.validationLoss({ data, caption: swapShape, count: examples.length });
    shapeUse[size] = ((swapped - right) / right) * 100;
  }
  const all = [...bySize.small, ...bySize.large];
  const bySigma: Record<string, number> = {};
  for (const s of PROBE_SIGMAS) bySigma[s] = s * s * (await trainer.validationLoss({ data: memoryData(all), count: all.length, sigma: s }));
  return { shapeUse, noiseLoss: { bySigma, meanImage: meanImageError(all) } };
}

/** Mean squared distance of the images to their mean image, per value. */
function meanImageError(examples: readonly Example[]): number {
  const n = examples.length;
  const size = examples[0].image.length;
  const mean = new Float64Array(size);
  for (const x of examples) for (let k = 0; k < size; k++) mean[k] += x.image[k] / n;
  let sq = 0;
  for (const x of examples) for (let k = 0; k < size; k++) sq += (x.image[k] - mean[k]) ** 2;
  return sq / (n * size);
}
