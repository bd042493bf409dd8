// Object detection for generated images of the built-in dataset:
//  1. label pixels by colour direction relative to the background, with a coverage estimate (segment.ts);
//  2. group same-colour pixels into components; re-threshold each at half its own peak coverage, so a dim or
//     blurred object is cut at its own 50% outline and two same-coloured objects joined by a faint blur bridge
//     fall apart again;
//  3. drop specks: too small, too faint (against the palette and against the frame's noise), or too thin;
//  4. per object: the mask's box (centre = box centre, as GenEval), size from area, and shape from
//     coverage-weighted moments over the mask plus a 2-px ring it owns (shape.ts).

import type { Box } from '../data/builtin/relations';
import { AREA_FACTOR } from '../data/builtin/shapes';
import { SIZE_RADIUS, type Color, type RGB, type Shape, type Size } from '../data/builtin/vocab';
import { colorOfLabel, components, contrastOf, coverageOf, labelPixels, toUnitRgb, MIN_ALPHA } from './segment';
import { classifyShape, momentFeatures, maskFeatures, type MomentFeatures, type MaskFeatures } from './shape';

export interface DetectedObject {
  color: Color;
  /** null when the component matches no shape well enough (irregular blob, noise, merged objects). */
  shape: Shape | null;
  /** Nearest shape prototype and its distance, even when rejected. */
  nearestShape: Shape;
  shapeDistance: number;
  size: Size;
  /** Box in continuous pixel coordinates (x1, y1 exclusive). */
  box: Box;
  cx: number;
  cy: number;
  /** Pixels in the (half-peak) mask. */
  area: number;
  mask: MaskFeatures;
  moments: MomentFeatures;
}

export interface Detection {
  width: number;
  height: number;
  background: RGB;
  /** Median deviation of the frame from the background colour (sRGB): the noise level objects must stand above. */
  backgroundNoise: number;
  /** Components big enough to be objects, recognised or not, largest first. */
  objects: DetectedObject[];
  /** Components dropped as specks (too small, too faint or too thin to be a drawn object). */
  specks: number;
}

export interface DetectOptions {
  width?: number;
  height?: number;
}

/**
 * Minimum object area as a fraction of the image: 30% of the smallest shape the dataset draws (a small triangle:
 * 2·(0.13·W)² ≈ 0.034·W²), so 40%-eroded objects still count while noise specks do not.
 */
const MIN_AREA_FRACTION = 0.3 * AREA_FACTOR.triangle * SIZE_RADIUS.small ** 2;
/** An object covering more than 2.5× the largest shape's area is not a drawn object (a wash, a wrong background). */
const MAX_AREA_FRACTION = 2.5 * AREA_FACTOR.circle * SIZE_RADIUS.large ** 2;
/** Small/large boundary on the estimated radius: the geometric mean of the two nominal radii. */
const SIZE_SPLIT = Math.sqrt(SIZE_RADIUS.small * SIZE_RADIUS.large);
/**
 * An object must reach this coverage somewhere (40% of the way from background to its palette colour): fainter
 * smudges — smooth noise, a colour cast — are not drawn objects, however their outline happens to look.
 */
const MIN_PEAK = 0.4;
/**
 * …and stand this many times above the background's own noise level (median frame deviation): in an image with no
 * plain background (noise, texture) smooth colour fluctuations would otherwise pass for faint objects.
 */
const PEAK_OVER_NOISE = 4;
/**
 * Minimum mean thickness (area / longest box side, pixels). The anti-aliased seam where two objects of different
 * colours touch is a line of mixed colour (red|blue gives magenta) one pixel wide; no drawn shape is that thin.
 */
const MIN_THICKNESS = 1.5;
/** Soft moments look this many pixels beyond the mask, where a blurred edge's low coverage still carries shape. */
const RING = 2;
/** Coverage (relative to the peak) below which a pixel is treated as noise in the soft moments. */
const SOFT_FLOOR = 0.3;

/**
 * Which component each pixel within RING steps of one belongs to: a multi-source breadth-first search from all
 * components at once, so a blurred edge between two close objects is split between them instead of being
 * counted twice (it skews both shapes' moments otherwise).
 */
function ownership(comps: readonly number[][], width: number, height: number): Int32Array {
  const owner = new Int32Array(width * height).fill(-1);
  let frontier: number[] = [];
  comps.forEach((comp, id) => {
    for (const i of comp) {
      owner[i] = id;
      frontier.push(i);
    }
  });
  for (let step = 0; step < RING; step++) {
    const next: number[] = [];
    for (const i of frontier) {
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (owner[j] >= 0) continue;
          owner[j] = owner[i];
          next.push(j);
        }
      }
    }
    frontier = next;
  }
  return owner;
}

function dims(image: Float32Array, opts: DetectOptions): [number, number] {
  if (opts.width && opts.height) return [opts.width, opts.height];
  const side = Math.round(Math.sqrt(image.length / 3));
  if (side * side * 3 !== image.length) throw new Error(`detectObjects: cannot infer a square size from ${image.length} values`);
  return [side, side];
}

/** Detect the objects in a CHW image in [-1, 1]. */
export function detectObjects(image: Float32Array, opts: DetectOptions = {}): Detection {
  const [width, height] = dims(image, opts);
  const plane = width * height;
  if (image.length !== 3 * plane) throw new Error(`detectObjects: ${image.length} values for 3×${height}×${width}`);
  const rgb = toUnitRgb(image);
  const map = labelPixels(rgb, width, height);
  const { label, alpha, background } = map;
  const minArea = Math.max(2, MIN_AREA_FRACTION * plane);

  // Pass 1: loose components; pass 2: inside each, keep pixels at ≥ half its peak coverage and re-split.
  const looseId = new Int32Array(plane).fill(-1);
  const peakOf: number[] = [];
  components(width, height, label, () => true).forEach((comp, id) => {
    let peak = 0;
    for (const i of comp) peak = Math.max(peak, alpha[i]);
    for (const i of comp) looseId[i] = id;
    peakOf.push(Math.min(peak, 1));
  });
  const keep = (i: number) => alpha[i] >= Math.max(MIN_ALPHA, 0.5 * peakOf[looseId[i]]);
  const finals = components(width, height, label, keep);
  const owner = ownership(finals, width, height);

  const objects: DetectedObject[] = [];
  let specks = 0;
  finals.forEach((comp, id) => {
    const k = label[comp[0]];
    const loose = looseId[comp[0]];
    const peak = peakOf[loose];
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const i of comp) {
      const x = i % width;
      const y = (i - x) / width;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x + 1);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y + 1);
    }
    const minPeak = Math.max(MIN_PEAK, (PEAK_OVER_NOISE * map.backgroundNoise) / contrastOf(background, k));
    const thickness = comp.length / Math.max(x1 - x0, y1 - y0);
    if (comp.length < minArea || peak < minPeak || thickness < MIN_THICKNESS) {
      specks++;
      return;
    }
    // Soft moments over the mask and the ring it owns, skipping pixels labelled with another colour.
    const xs: number[] = [], ys: number[] = [], ws: number[] = [];
    for (let y = Math.max(0, y0 - RING); y < Math.min(height, y1 + RING); y++) {
      for (let x = Math.max(0, x0 - RING); x < Math.min(width, x1 + RING); x++) {
        const i = y * width + x;
        if (owner[i] !== id || (label[i] >= 0 && label[i] !== k)) continue;
        const a = coverageOf(rgb, plane, i, background, k) / peak;
        const w = Math.min(1, Math.max(0, (a - SOFT_FLOOR) / (1 - SOFT_FLOOR)));
        if (w <= 0) continue;
        xs.push(x + 0.5);
        ys.push(y + 0.5);
        ws.push(w);
      }
    }
    const features = maskFeatures(comp, width);
    const moments = momentFeatures(xs, ys, ws);
    const guess = classifyShape(features, moments);
    const radius = Math.sqrt(comp.length / AREA_FACTOR[guess.nearest]) / width;
    objects.push({
      color: colorOfLabel(k),
      shape: comp.length > MAX_AREA_FRACTION * plane ? null : guess.shape,
      nearestShape: guess.nearest,
      shapeDistance: guess.distance,
      size: radius < SIZE_SPLIT ? 'small' : 'large',
      box: { x0, y0, x1, y1 },
      cx: (x0 + x1) / 2,
      cy: (y0 + y1) / 2,
      area: comp.length,
      mask: features,
      moments,
    });
  });
  objects.sort((a, b) => b.area - a.area);
  return { width, height, background, backgroundNoise: map.backgroundNoise, objects, specks };
}
