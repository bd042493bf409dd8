// Pixel labelling and connected components for the programmatic evaluator.
//
// Colour is decided per pixel, before any grouping, from the direction of (pixel − background) in RGB. An edge
// pixel of a blurred or anti-aliased object is  bg + α·(colour − bg)  for some coverage α, so that direction is the
// object's whatever α is — only its length (α) changes. Each pixel gets the palette colour whose direction is
// nearest (cosine ≥ MIN_COS) and a coverage estimate α; pixels with too little coverage or no clear colour are
// background. Components are then formed per colour, so two touching objects of different colours stay apart.

import { COLORS, PALETTE, type Color, type RGB } from '../data/builtin/vocab';

/** A pixel must point within ~25° of a palette direction to get that colour (neighbours are ≥ 33° apart). */
const MIN_COS = 0.9;
/** Pixels with coverage below this are background (the evaluator re-thresholds each component later). */
export const MIN_ALPHA = 0.2;
/** Absolute floor on |pixel − background| (sRGB units): below it, noise dominates the direction. */
const MIN_DIFF = 0.1;

export interface LabelMap {
  width: number;
  height: number;
  background: RGB;
  /** Median distance of the frame pixels from the background colour: the image's noise level (sRGB units). */
  backgroundNoise: number;
  /** Per pixel: index into COLORS, or −1 for background/unclassified. */
  label: Int8Array;
  /** Per pixel: estimated coverage α of its label's colour (0 where unlabelled). */
  alpha: Float32Array;
}

/** Background colour: per-channel median of the one-pixel frame (objects rarely touch it; noise averages out). */
export function estimateBackground(rgb: Float32Array, width: number, height: number): RGB {
  const plane = width * height;
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(x, (height - 1) * width + x);
  for (let y = 1; y < height - 1; y++) border.push(y * width, y * width + width - 1);
  const median = (c: number) => {
    const vals = border.map((i) => rgb[c * plane + i]).sort((a, b) => a - b);
    const m = vals.length >> 1;
    return vals.length % 2 ? vals[m] : (vals[m - 1] + vals[m]) / 2;
  };
  return [median(0), median(1), median(2)];
}

/** Median |frame pixel − background| (Euclidean, sRGB): how noisy the plain background is. */
export function backgroundNoise(rgb: Float32Array, width: number, height: number, bg: RGB): number {
  const plane = width * height;
  const d: number[] = [];
  const add = (i: number) => d.push(Math.hypot(rgb[i] - bg[0], rgb[plane + i] - bg[1], rgb[2 * plane + i] - bg[2]));
  for (let x = 0; x < width; x++) add(x), add((height - 1) * width + x);
  for (let y = 1; y < height - 1; y++) add(y * width), add(y * width + width - 1);
  d.sort((a, b) => a - b);
  return d[d.length >> 1];
}

/** Map a CHW image in [-1, 1] to per-channel planes in [0, 1] (clamped: models overshoot). */
export function toUnitRgb(image: Float32Array): Float32Array {
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.min(1, Math.max(0, (image[i] + 1) / 2));
  return out;
}

export function labelPixels(rgb: Float32Array, width: number, height: number): LabelMap {
  const plane = width * height;
  const bg = estimateBackground(rgb, width, height);
  const dirs = COLORS.map((c) => {
    const p = PALETTE[c];
    const u = [p[0] - bg[0], p[1] - bg[1], p[2] - bg[2]];
    const n2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
    return { u, n2, n: Math.sqrt(n2) };
  });
  const label = new Int8Array(plane).fill(-1);
  const alpha = new Float32Array(plane);
  for (let i = 0; i < plane; i++) {
    const d0 = rgb[i] - bg[0];
    const d1 = rgb[plane + i] - bg[1];
    const d2 = rgb[2 * plane + i] - bg[2];
    const dn = Math.hypot(d0, d1, d2);
    if (dn < MIN_DIFF) continue;
    let best = -1;
    let bestCos = MIN_COS;
    for (let k = 0; k < dirs.length; k++) {
      const { u, n } = dirs[k];
      if (n < 1e-6) continue; // palette colour equal to the background: cannot be seen, cannot be classified
      const cos = (d0 * u[0] + d1 * u[1] + d2 * u[2]) / (dn * n);
      if (cos >= bestCos) {
        bestCos = cos;
        best = k;
      }
    }
    if (best < 0) continue;
    const { u, n2 } = dirs[best];
    const a = (d0 * u[0] + d1 * u[1] + d2 * u[2]) / n2;
    if (a < MIN_ALPHA) continue;
    label[i] = best;
    alpha[i] = a;
  }
  return { width, height, background: bg, backgroundNoise: backgroundNoise(rgb, width, height, bg), label, alpha };
}

/** Coverage α of palette colour k at pixel i: projection of (pixel − background) onto (colour − background). */
export function coverageOf(rgb: Float32Array, plane: number, i: number, bg: RGB, k: number): number {
  const p = PALETTE[COLORS[k]];
  const u0 = p[0] - bg[0], u1 = p[1] - bg[1], u2 = p[2] - bg[2];
  const n2 = u0 * u0 + u1 * u1 + u2 * u2;
  if (n2 < 1e-12) return 0;
  return ((rgb[i] - bg[0]) * u0 + (rgb[plane + i] - bg[1]) * u1 + (rgb[2 * plane + i] - bg[2]) * u2) / n2;
}

/** Length of (palette colour k − background): the contrast a fully covered pixel of colour k has. */
export function contrastOf(bg: RGB, k: number): number {
  const p = PALETTE[COLORS[k]];
  return Math.hypot(p[0] - bg[0], p[1] - bg[1], p[2] - bg[2]);
}

export function colorOfLabel(k: number): Color {
  return COLORS[k];
}

/**
 * 8-connected components of the pixels where keep(i) holds and labels agree. Returns, per component, its pixel
 * indices (row-major order not guaranteed).
 */
export function components(width: number, height: number, label: Int8Array, keep: (i: number) => boolean): number[][] {
  const seen = new Uint8Array(width * height);
  const out: number[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < width * height; start++) {
    if (seen[start] || label[start] < 0 || !keep(start)) continue;
    const k = label[start];
    const comp: number[] = [];
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      comp.push(i);
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (seen[j] || label[j] !== k || !keep(j)) continue;
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    out.push(comp);
  }
  return out;
}
