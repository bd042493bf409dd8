// Image corruptions for evaluator tests: what a diffusion model's samples look like compared to crisp renders.
import { Rng } from '../../src/data/builtin/prng';

function side(image: Float32Array): number {
  return Math.round(Math.sqrt(image.length / 3));
}

/** 3×3 box blur per channel, edges clamped (a model's samples are softer than this at 32 px only when bad). */
export function boxBlur3(image: Float32Array): Float32Array {
  const n = side(image);
  const out = new Float32Array(image.length);
  for (let c = 0; c < 3; c++) {
    const base = c * n * n;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = Math.min(n - 1, Math.max(0, y + dy));
          for (let dx = -1; dx <= 1; dx++) s += image[base + yy * n + Math.min(n - 1, Math.max(0, x + dx))];
        }
        out[base + y * n + x] = s / 9;
      }
    }
  }
  return out;
}

/** Additive Gaussian noise, sigma in [-1, 1] units, clamped back to [-1, 1]. */
export function addNoise(image: Float32Array, sigma: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return image.map((v) => Math.min(1, Math.max(-1, v + sigma * rng.normal())));
}

/** Pure Gaussian noise image (what an untrained model returns at sigma 1). */
export function noiseImage(size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: 3 * size * size }, () => Math.min(1, Math.max(-1, rng.normal())));
}
