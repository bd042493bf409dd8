// Shape geometry in unit coordinates: (u, v) = ((x − cx) / r, (y − cy) / r), y pointing down, (cx, cy) the centre
// of the shape's bounding box (not its centroid: a triangle's centroid sits lower, and positions/relations are
// defined on bounding-box centres, as GenEval does). The renderer rasterises these predicates with supersampling;
// the evaluator uses HALF_EXTENT / AREA_FACTOR to turn a measured area back into a size.

import type { Shape } from './vocab';

/** Half-width (= half-height) of each shape's bounding box, in units of r. */
export const HALF_EXTENT: Readonly<Record<Shape, number>> = {
  circle: 1,
  // A square as wide as the circle would look much heavier; 0.86 keeps the areas within 6%.
  square: 0.86,
  triangle: 1,
  // Diamonds and triangles cover half their box; a slightly larger box keeps them from reading as "small".
  diamond: 1.1,
};

/** Area of each shape in units of r². */
export const AREA_FACTOR: Readonly<Record<Shape, number>> = {
  circle: Math.PI,
  square: 4 * 0.86 * 0.86,
  triangle: 2,
  diamond: 2 * 1.1 * 1.1,
};

/** Is the unit-coordinate point (u, v) inside the shape? */
export function insideShape(shape: Shape, u: number, v: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      return Math.abs(u) <= 0.86 && Math.abs(v) <= 0.86;
    case 'triangle':
      // Isosceles, apex up at (0, −1), base along v = 1 from u = −1 to 1.
      return v <= 1 && Math.abs(u) <= (v + 1) / 2;
    case 'diamond':
      return Math.abs(u) + Math.abs(v) <= 1.1;
  }
}
