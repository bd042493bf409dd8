// The two structured descriptions of a sample:
//  - PromptSpec: what the caption asks for (exactly what parseCaption recovers from the text; the evaluator only
//    ever sees this, since held-out prompts have no image).
//  - Scene: everything the renderer drew (every object's shape, colour, size, centre, radius; the background),
//    including attributes the caption leaves unsaid (e.g. the colours in a two_object caption).

import type { Color, RGB, Relation, Shape, Size, Task } from './vocab';
import { HALF_EXTENT } from './shapes';
import type { Box } from './relations';

/** One object as the caption names it; unsaid attributes are absent (not undefined-valued). */
export interface ObjectSpec {
  shape: Shape;
  color?: Color;
  size?: Size;
}

/**
 * What a caption asks for.
 *  - single_object / colors: objects = [one]
 *  - two_object / color_attr: objects = [A, B] ("A and B")
 *  - position: objects = [A, B], relation: "A <relation> B"
 *  - counting: objects = [one kind], count = how many of that kind (exactly)
 */
export interface PromptSpec {
  task: Task;
  objects: ObjectSpec[];
  relation?: Relation;
  count?: number;
}

export interface SceneObject {
  shape: Shape;
  color: Color;
  size: Size;
  /** Bounding-box centre, continuous pixel coordinates. */
  cx: number;
  cy: number;
  /** Radius in pixels (see shapes.ts: the shape's box half-extent is HALF_EXTENT[shape] · r). */
  r: number;
  /** The exact colour painted (the palette colour, possibly jittered), sRGB [0, 1]. */
  rgb: RGB;
}

export interface Scene {
  width: number;
  height: number;
  background: RGB;
  objects: SceneObject[];
}

export function objectBox(o: Pick<SceneObject, 'shape' | 'cx' | 'cy' | 'r'>): Box {
  const h = HALF_EXTENT[o.shape] * o.r;
  return { x0: o.cx - h, y0: o.cy - h, x1: o.cx + h, y1: o.cy + h };
}

/** Does a scene object satisfy an object spec (every attribute the spec names)? */
export function objectMatches(spec: ObjectSpec, o: { shape: Shape | null; color: Color | null; size: Size | null }): boolean {
  return (
    spec.shape === o.shape &&
    (spec.color === undefined || spec.color === o.color) &&
    (spec.size === undefined || spec.size === o.size)
  );
}

