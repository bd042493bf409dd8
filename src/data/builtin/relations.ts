// Spatial relations between two boxes — one definition shared by the generator (which only emits layouts where the
// captioned relation holds, and the perpendicular ones do not) and the evaluator (which checks generated images).
//
// This is GenEval's `relative_position` (evaluation/evaluate_images.py): offset of the box centres, shrunk on
// each axis by POSITION_THRESHOLD × (sum of the two box sizes on that axis), normalised by the raw offset length;
// a relation holds when its axis carries more than half of that direction. Two boxes can be both "left of" and
// "above", or neither when they are too close.

import type { Relation } from './vocab';

/** Axis-aligned box in continuous pixel coordinates (pixel i covers [i, i+1)); x1/y1 exclusive. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export const POSITION_THRESHOLD = 0.1;

/** Relations that hold for "A <relation> B". */
export function relationsBetween(a: Box, b: Box): Set<Relation> {
  const ox = (a.x0 + a.x1) / 2 - (b.x0 + b.x1) / 2;
  const oy = (a.y0 + a.y1) / 2 - (b.y0 + b.y1) / 2;
  const rx = Math.max(Math.abs(ox) - POSITION_THRESHOLD * (a.x1 - a.x0 + (b.x1 - b.x0)), 0) * Math.sign(ox);
  const ry = Math.max(Math.abs(oy) - POSITION_THRESHOLD * (a.y1 - a.y0 + (b.y1 - b.y0)), 0) * Math.sign(oy);
  const out = new Set<Relation>();
  if (Math.abs(rx) < 1e-3 && Math.abs(ry) < 1e-3) return out;
  const norm = Math.hypot(ox, oy);
  const dx = rx / norm;
  const dy = ry / norm;
  if (dx < -0.5) out.add('left of');
  if (dx > 0.5) out.add('right of');
  if (dy < -0.5) out.add('above');
  if (dy > 0.5) out.add('below');
  return out;
}
