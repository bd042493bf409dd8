// Shape features of a detected component, and the shape classifier.
//
// An 8-px shape's binary mask depends on where it falls on the pixel grid, so classification uses coverage-
// weighted moments instead (sub-pixel accurate, and a blur changes them smoothly). Ideal values, continuous shapes:
//
//                 squareness   skewY   kurtosis   aspect (sqrt var x / var y)
//     circle          0          0       2.0         1
//     square        +0.6         0       2.1         1
//     diamond       −0.6         0       2.1         1
//     triangle        0        −0.57     2.4        0.87
//
// squareness = mean kurtosis along the diagonals − along the axes (a square's x-marginal is flat, its diagonal
// marginal peaked; a diamond the reverse). The binary mask still provides the box, the area and a solidity check.

import type { Shape } from '../data/builtin/vocab';

/** Features of the binary (half-peak) mask. */
export interface MaskFeatures {
  area: number;
  /** Area / axis-aligned bounding-box area (square 1, circle 0.79, diamond and triangle 0.5). */
  fill: number;
  /** Area / 45°-rotated bounding-box area (diamond 1, circle 0.79, square 0.5, triangle 0.44). */
  diagFill: number;
  /** Box width / height. */
  boxAspect: number;
}

export function maskFeatures(pixels: readonly number[], width: number): MaskFeatures {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  let u0 = Infinity, u1 = -Infinity, v0 = Infinity, v1 = -Infinity;
  for (const i of pixels) {
    const x = i % width;
    const y = (i - x) / width;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
    u0 = Math.min(u0, x + y);
    u1 = Math.max(u1, x + y);
    v0 = Math.min(v0, x - y);
    v1 = Math.max(v1, x - y);
  }
  const n = pixels.length;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  // In (x+y, x−y) units a rotated box of extents a, b has area a·b/2. A pixel's own diagonal extent is 2 units
  // (corner to corner); +1 splits the difference between the pixel centres' span and the full pixel footprint.
  const diagArea = ((u1 - u0 + 1) * (v1 - v0 + 1)) / 2;
  return { area: n, fill: n / (w * h), diagFill: Math.min(1.5, n / diagArea), boxAspect: w / h };
}

/** A component with binary fill + diagFill below this is not solid (a ring, a scribble, a merged pair). */
const MIN_SOLIDITY = 0.85;

type Prototype = Omit<MomentFeatures, 'mass'> & {
  /** Spread of squareness around this prototype: a circle's stays near 0, a small blurred square's sags to 0.3. */
  squarenessScale: number;
};

/**
 * Moment features per shape, measured on dataset renders at 32 and 64 px, crisp and 3×3-blurred (blur pulls every
 * shape towards the circle: |squareness| and skew shrink, kurtosis rises; see test/eval/detect.test.ts).
 */
export const PROTOTYPES: Readonly<Record<Shape, Prototype>> = {
  circle: { squareness: 0, squarenessScale: 0.06, skewY: 0, kurtosis: 2.06, aspect: 1 },
  square: { squareness: 0.5, squarenessScale: 0.12, skewY: 0, kurtosis: 2.15, aspect: 1 },
  diamond: { squareness: -0.5, squarenessScale: 0.12, skewY: 0, kurtosis: 2.15, aspect: 1 },
  // Apex up: mass low (skew < 0); its y variance is smaller than its x variance although the box is square.
  triangle: { squareness: 0, squarenessScale: 0.1, skewY: -0.5, kurtosis: 2.4, aspect: 0.87 },
};

/**
 * One unit of distance per feature: about the spread of a blurred, noisy small object at 32 px (its 2–98% range
 * stays within ±2 units), while prototypes are ≥ 3.5 units apart.
 */
const SCALE = { skewY: 0.12, kurtosis: 0.15, logAspect: 0.08 };

/** A component further than this from every prototype is "no shape" (blob, noise, two objects merged). */
export const MAX_SHAPE_DISTANCE = 3.5;

export interface ShapeGuess {
  shape: Shape | null;
  /** Distance to the nearest prototype (SCALE units). */
  distance: number;
  /** Nearest prototype even when rejected (for the UI's "looks most like"). */
  nearest: Shape;
}

export function classifyShape(f: MaskFeatures, m: MomentFeatures): ShapeGuess {
  let nearest: Shape = 'circle';
  let best = Infinity;
  for (const [shape, p] of Object.entries(PROTOTYPES) as [Shape, Prototype][]) {
    const d = Math.hypot(
      (m.squareness - p.squareness) / p.squarenessScale,
      (m.skewY - p.skewY) / SCALE.skewY,
      (m.kurtosis - p.kurtosis) / SCALE.kurtosis,
      // Log-ratio so that 0.5 and 2 are equally far from 1.
      Math.log(m.aspect / p.aspect) / SCALE.logAspect,
    );
    if (d < best) {
      best = d;
      nearest = shape;
    }
  }
  const solid = f.fill + f.diagFill >= MIN_SOLIDITY;
  return { shape: best <= MAX_SHAPE_DISTANCE && solid ? nearest : null, distance: best, nearest };
}

export interface MomentFeatures {
  mass: number;
  /** Mean diagonal kurtosis minus mean axis kurtosis: +0.6 square, −0.6 diamond, 0 circle and triangle. */
  squareness: number;
  /** Third standardised moment along y (down): −0.57 for the apex-up triangle, 0 for the symmetric shapes. */
  skewY: number;
  /** Mean of the four kurtoses: 2.0 circle, 2.1 square/diamond, 2.4 triangle. */
  kurtosis: number;
  /** sqrt(var x / var y). */
  aspect: number;
}

/** Coverage-weighted moments: sub-pixel accurate where a binary mask of an 8-px shape is not. */
export function momentFeatures(xs: readonly number[], ys: readonly number[], ws: readonly number[]): MomentFeatures {
  let m = 0, sx = 0, sy = 0;
  for (let k = 0; k < ws.length; k++) {
    m += ws[k];
    sx += ws[k] * xs[k];
    sy += ws[k] * ys[k];
  }
  const mx = sx / m;
  const my = sy / m;
  // Central moments along x, y, and the diagonals u = (x+y)/√2, v = (x−y)/√2.
  const m2 = [0, 0, 0, 0];
  const m4 = [0, 0, 0, 0];
  let m3y = 0;
  for (let k = 0; k < ws.length; k++) {
    const dx = xs[k] - mx;
    const dy = ys[k] - my;
    const d = [dx, dy, (dx + dy) * Math.SQRT1_2, (dx - dy) * Math.SQRT1_2];
    for (let a = 0; a < 4; a++) {
      const q = d[a] * d[a];
      m2[a] += ws[k] * q;
      m4[a] += ws[k] * q * q;
    }
    m3y += ws[k] * dy * dy * dy;
  }
  const kurt = m2.map((v, a) => (v > 1e-12 ? (m4[a] / m) / (v / m) ** 2 : 0));
  return {
    mass: m,
    squareness: (kurt[2] + kurt[3]) / 2 - (kurt[0] + kurt[1]) / 2,
    skewY: m2[1] > 1e-12 ? m3y / m / (m2[1] / m) ** 1.5 : 0,
    kurtosis: (kurt[0] + kurt[1] + kurt[2] + kurt[3]) / 4,
    aspect: m2[1] > 1e-12 ? Math.sqrt(m2[0] / m2[1]) : 1,
  };
}
