// What a sample shows, before it is placed: for a task, draw the caption's spec and the full attributes of every
// object in the image (colours the caption leaves unsaid included), under a constraint on which (colour, shape)
// pairs may appear at all — that constraint is how the `clean` split keeps the held-out combinations out.

import type { ObjectDraft } from './layout';
import type { Rng } from './prng';
import type { ObjectSpec, PromptSpec } from './spec';
import { COLORS, COUNTS, PALETTE, RELATIONS, SHAPES, SIZES, type Color, type RGB, type Shape, type Size, type Task } from './vocab';

export type PairFilter = (color: Color, shape: Shape) => boolean;

export interface Draft {
  spec: PromptSpec;
  objects: ObjectDraft[];
  relation?: PromptSpec['relation'];
}

export interface DraftOptions {
  allow: PairFilter;
  /** Per-channel colour jitter amplitude (sRGB units) applied to the palette colour. */
  colorJitter: number;
  /** Probability that a single-object caption names the size. */
  sizeWordRate: number;
  /** The sizes objects are drawn at (every size when absent). */
  sizes?: readonly Size[];
}

function pickColor(rng: Rng, shape: Shape, o: DraftOptions, exclude: readonly Color[] = []): Color {
  const options = COLORS.filter((c) => o.allow(c, shape) && !exclude.includes(c));
  return rng.pick(options);
}

function draftObject(rng: Rng, shape: Shape, color: Color, o: DraftOptions): ObjectDraft {
  const base = PALETTE[color];
  const jitter = (v: number) => Math.min(1, Math.max(0, v + o.colorJitter * (2 * rng.next() - 1)));
  const rgb: RGB = [jitter(base[0]), jitter(base[1]), jitter(base[2])];
  return { shape, color, size: rng.pick(o.sizes ?? SIZES), rgb };
}

function twoDistinctShapes(rng: Rng): [Shape, Shape] {
  const a = rng.pick(SHAPES);
  return [a, rng.pick(SHAPES.filter((s) => s !== a))];
}

/** Spec of an object as a caption names it: shape always; colour/size only when asked. */
function named(d: ObjectDraft, color: boolean, size: boolean): ObjectSpec {
  const s: ObjectSpec = { shape: d.shape };
  if (color) s.color = d.color;
  if (size) s.size = d.size;
  return s;
}

export function draftFor(task: Task, rng: Rng, o: DraftOptions): Draft {
  switch (task) {
    case 'single_object':
    case 'colors': {
      const shape = rng.pick(SHAPES);
      const d = draftObject(rng, shape, pickColor(rng, shape, o), o);
      const sized = rng.next() < o.sizeWordRate;
      return { spec: { task, objects: [named(d, task === 'colors', sized)] }, objects: [d] };
    }
    case 'two_object':
    case 'color_attr': {
      // Different shapes so each named object is identifiable; color_attr also needs different colours, or the
      // attribution ("which one is red") would not be tested.
      const [sa, sb] = twoDistinctShapes(rng);
      const ca = pickColor(rng, sa, o);
      const cb = pickColor(rng, sb, o, task === 'color_attr' ? [ca] : []);
      const ds = [draftObject(rng, sa, ca, o), draftObject(rng, sb, cb, o)];
      const colored = task === 'color_attr';
      return { spec: { task, objects: ds.map((d) => named(d, colored, false)) }, objects: ds };
    }
    case 'position': {
      // Same shape allowed ("a red circle above a blue circle"), but never the same (shape, colour) twice.
      const sa = rng.pick(SHAPES);
      const sb = rng.pick(SHAPES);
      const ca = pickColor(rng, sa, o);
      const cb = pickColor(rng, sb, o, sa === sb ? [ca] : []);
      const relation = rng.pick(RELATIONS);
      const ds = [draftObject(rng, sa, ca, o), draftObject(rng, sb, cb, o)];
      return { spec: { task, objects: ds.map((d) => named(d, true, false)), relation }, objects: ds, relation };
    }
    case 'counting': {
      const count = rng.pick(COUNTS);
      const shape = rng.pick(SHAPES);
      const color = pickColor(rng, shape, o);
      const first = draftObject(rng, shape, color, o);
      const ds = Array.from({ length: count }, () => ({ ...first }));
      return { spec: { task, objects: [named(first, true, false)], count }, objects: ds };
    }
  }
}
