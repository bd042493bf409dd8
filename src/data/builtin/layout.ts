// Object placement: turns drafts (shape, colour, size) into positioned scene objects that never overlap, stay inside
// the frame, and — for position captions — satisfy the captioned relation with a wide margin, so a slightly blurred
// or shifted re-detection still reads the same relation.

import { Rng } from './prng';
import { relationsBetween } from './relations';
import { HALF_EXTENT } from './shapes';
import { objectBox, type SceneObject } from './spec';
import { SIZE_RADIUS, type Color, type RGB, type Relation, type Shape, type Size } from './vocab';

export interface ObjectDraft {
  shape: Shape;
  color: Color;
  size: Size;
  rgb: RGB;
}

export interface LayoutOptions {
  /** Image side in pixels. */
  size: number;
  /** Relative radius jitter: r = nominal · (1 ± jitter). */
  radiusJitter: number;
}

/** Empty space kept between object boxes, and between a box and the frame, as fractions of the side. */
const GAP = 0.06;
const BORDER = 0.03;
/** For a position caption, the off-axis offset is at most this fraction of the on-axis one (keeps one relation). */
const OFF_AXIS = 0.25;

const MAX_TRIES = 200;

function radiusOf(d: ObjectDraft, rng: Rng, o: LayoutOptions): number {
  return SIZE_RADIUS[d.size] * o.size * (1 + o.radiusJitter * (2 * rng.next() - 1));
}

function boxesApart(a: SceneObject, b: SceneObject, gap: number): boolean {
  const A = objectBox(a);
  const B = objectBox(b);
  return A.x1 + gap <= B.x0 || B.x1 + gap <= A.x0 || A.y1 + gap <= B.y0 || B.y1 + gap <= A.y0;
}

/** Scatter objects uniformly, rejecting overlaps. Null when they do not fit (caller shrinks them). */
function scatter(drafts: ObjectDraft[], rng: Rng, o: LayoutOptions): SceneObject[] | null {
  const placed: SceneObject[] = [];
  const border = BORDER * o.size;
  for (const d of drafts) {
    const r = radiusOf(d, rng, o);
    const half = HALF_EXTENT[d.shape] * r;
    let ok = false;
    for (let t = 0; t < MAX_TRIES && !ok; t++) {
      const obj: SceneObject = {
        ...d,
        r,
        cx: rng.uniform(border + half, o.size - border - half),
        cy: rng.uniform(border + half, o.size - border - half),
      };
      if (placed.every((p) => boxesApart(p, obj, GAP * o.size))) {
        placed.push(obj);
        ok = true;
      }
    }
    if (!ok) return null;
  }
  return placed;
}

/**
 * Place A and B so that "A <relation> B" holds and no other relation does: pick the on-axis distance first (at
 * least the two half-extents plus the gap), then where the pair sits, then a small off-axis offset.
 */
function placePair(a: ObjectDraft, b: ObjectDraft, relation: Relation, rng: Rng, o: LayoutOptions): SceneObject[] | null {
  const border = BORDER * o.size;
  const ra = radiusOf(a, rng, o);
  const rb = radiusOf(b, rng, o);
  const ha = HALF_EXTENT[a.shape] * ra;
  const hb = HALF_EXTENT[b.shape] * rb;
  const minD = ha + hb + GAP * o.size;
  const maxD = o.size - 2 * border - ha - hb;
  if (maxD < minD) return null;
  // Sign: +1 when A comes after B on the axis (right of / below).
  const sign = relation === 'right of' || relation === 'below' ? 1 : -1;
  const horizontal = relation === 'left of' || relation === 'right of';
  for (let t = 0; t < MAX_TRIES; t++) {
    const d = rng.uniform(minD, maxD);
    // Position of the first (lower-coordinate) object on the axis.
    const [hLo, hHi] = sign < 0 ? [ha, hb] : [hb, ha];
    const lo = rng.uniform(border + hLo, o.size - border - hHi - d);
    const [pa, pb] = sign < 0 ? [lo, lo + d] : [lo + d, lo];
    const off = rng.uniform(-OFF_AXIS, OFF_AXIS) * d;
    const lim = (h: number) => [border + h, o.size - border - h] as const;
    const [aLo, aHi] = lim(ha);
    const [bLo, bHi] = lim(hb);
    // Centre the off-axis pair around a random line that keeps both inside the frame.
    const qLo = Math.max(aLo - off / 2, bLo + off / 2);
    const qHi = Math.min(aHi - off / 2, bHi + off / 2);
    if (qHi < qLo) continue;
    const q = rng.uniform(qLo, qHi);
    const [qa, qb] = [q + off / 2, q - off / 2];
    const A: SceneObject = { ...a, r: ra, cx: horizontal ? pa : qa, cy: horizontal ? qa : pa };
    const B: SceneObject = { ...b, r: rb, cx: horizontal ? pb : qb, cy: horizontal ? qb : pb };
    const rel = relationsBetween(objectBox(A), objectBox(B));
    if (rel.size === 1 && rel.has(relation) && boxesApart(A, B, GAP * o.size)) return [A, B];
  }
  return null;
}

/**
 * Positioned objects for the drafts (with `relation`, exactly two: "drafts[0] <relation> drafts[1]"). When large
 * objects do not fit, they are shrunk to small one at a time (the caller's drafts are updated to match, so the
 * caption — which may name the size — is written from what was actually placed).
 */
export function layoutObjects(drafts: ObjectDraft[], rng: Rng, o: LayoutOptions, relation?: Relation): SceneObject[] {
  for (;;) {
    for (let attempt = 0; attempt < 10; attempt++) {
      const placed = relation ? placePair(drafts[0], drafts[1], relation, rng, o) : scatter(drafts, rng, o);
      if (placed) return placed;
    }
    const big = drafts.findIndex((d) => d.size === 'large');
    if (big < 0) throw new Error(`layoutObjects: ${drafts.length} small objects do not fit in ${o.size} px`);
    drafts[big] = { ...drafts[big], size: 'small' };
  }
}
