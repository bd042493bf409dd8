// The built-in procedural dataset: splits, and sample(i) as a pure function of (seed, split, i).
//
//  - broad: unlimited, for pretraining the base. Random task mix, every (colour, shape) pair, wider variation
//    (background level, object size, colour jitter) so the base learns the whole space.
//  - clean: 512 samples by default (any index works), for post-training. Tasks in strict rotation (balanced),
//    tighter variation, and no held-out (colour, shape) pair anywhere in an image (see heldout.ts).
//
// A sample: { image: Float32Array [3, H, W] in [-1, 1], caption, spec (what the caption asks: parseCaption(caption)
// gives it back exactly), scene (everything drawn: per object shape/colour/size/centre/radius; background) }.

import { captionOf } from './captions';
import { draftFor, type DraftOptions } from './drafts';
import { isHeldOutPair } from './heldout';
import { layoutObjects, type LayoutOptions, type ObjectDraft } from './layout';
import { hashSeed, Rng } from './prng';
import { renderScene } from './render';
import type { PromptSpec, Scene } from './spec';
import { BACKGROUND_LEVEL, COLORS, PALETTE, SIZES, TASKS, type Color, type Size, type Task } from './vocab';

export type SplitName = 'broad' | 'clean';
export const SPLITS: readonly SplitName[] = ['broad', 'clean'];

export const DEFAULT_SEED = 1234;
export const DEFAULT_IMAGE_SIZE = 32;
export const CLEAN_COUNT = 512;
/** builtinSplit('broad') without a count materialises this many (the stream itself is unlimited). */
export const BROAD_DEFAULT_COUNT = 4096;

export interface BuiltinOptions {
  seed?: number;
  /** Image side in pixels (square); 32 by default, 16 and 64 work too. */
  size?: number;
  /** broad only: which task mix draws the sample's task ('broad' by default; see TASK_MIXES). */
  mix?: TaskMix;
}

export interface BuiltinDescription {
  split: SplitName;
  index: number;
  caption: string;
  spec: PromptSpec;
  scene: Scene;
}

export interface BuiltinSample extends BuiltinDescription {
  /** CHW float32 in [-1, 1]. */
  image: Float32Array;
}

interface SplitProfile {
  taskOf(index: number, rng: Rng, mix: TaskMix): Task;
  draft: DraftOptions;
  radiusJitter: number;
  /** Background grey level range, sRGB [0, 1]. */
  background: readonly [number, number];
}

/**
 * Task mixes of `broad`, for a pretraining curriculum:
 *  - broad: the relational and attribute tasks are the hard ones, so they get more weight;
 *  - single: one object per image (a shape, coloured or not, sized or not). A small base that sees mostly
 *    compositions learns the colour words (a colour moves every pixel of an object) long before the shape words
 *    (a shape moves only a few edge pixels), so a curriculum can give the shapes the whole budget first;
 *  - single_large: single, with every object drawn large (the caption still names the size half of the time).
 *    What tells a circle from a square is its corners: at 32 px a small circle and a small square differ by
 *    9 (squared [-1, 1] units summed over pixels, about what a 0.5 px shift changes), large ones by 22 (measured
 *    on the renderer), so the shape words carry 2.4 times the loss signal while the model learns to follow them.
 */
const SINGLE = { single_object: 0.4, two_object: 0, counting: 0, colors: 0.6, position: 0, color_attr: 0 } as const;
export const TASK_MIXES = {
  broad: { single_object: 0.12, two_object: 0.12, counting: 0.16, colors: 0.16, position: 0.22, color_attr: 0.22 },
  single: SINGLE,
  single_large: SINGLE, // the same tasks; its sizes are in MIX_SIZES
} as const satisfies Record<string, Readonly<Record<Task, number>>>;
export type TaskMix = keyof typeof TASK_MIXES;
export const TASK_MIX_NAMES = Object.keys(TASK_MIXES) as TaskMix[];
/** Mixes that draw only some sizes (the others draw every size). */
const MIX_SIZES: Partial<Record<TaskMix, readonly Size[]>> = { single_large: ['large'] };

const PROFILES: Readonly<Record<SplitName, SplitProfile>> = {
  broad: {
    taskOf: (_i, rng, mix) => TASKS[rng.weighted(TASKS.map((t) => TASK_MIXES[mix][t]))],
    draft: { allow: () => true, colorJitter: 0.05, sizeWordRate: 0.5 },
    radiusJitter: 0.08,
    background: [BACKGROUND_LEVEL - 0.06, BACKGROUND_LEVEL + 0.06],
  },
  clean: {
    taskOf: (i) => TASKS[i % TASKS.length],
    draft: { allow: (c, s) => !isHeldOutPair(c, s), colorJitter: 0, sizeWordRate: 0.5 },
    radiusJitter: 0.03,
    background: [BACKGROUND_LEVEL - 0.02, BACKGROUND_LEVEL + 0.02],
  },
};

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`builtin dataset: bad index ${index}`);
}

/** Caption, spec and scene of one sample, without rendering it (cheap: used for statistics and split checks). */
export function describeBuiltinSample(split: SplitName, index: number, opts: BuiltinOptions = {}): BuiltinDescription {
  checkIndex(index);
  const profile = PROFILES[split];
  const size = opts.size ?? DEFAULT_IMAGE_SIZE;
  const rng = new Rng(hashSeed(opts.seed ?? DEFAULT_SEED, split, index));
  if (opts.mix !== undefined && split !== 'broad') throw new Error(`builtin dataset: a task mix applies to broad only, not ${split}`);
  if (opts.mix !== undefined && !(opts.mix in TASK_MIXES)) throw new Error(`builtin dataset: unknown task mix ${JSON.stringify(opts.mix)} (one of ${TASK_MIX_NAMES.join(', ')})`);
  const mix = opts.mix ?? 'broad';
  const task = profile.taskOf(index, rng, mix);
  const sizes = MIX_SIZES[mix];
  const draft = draftFor(task, rng, sizes ? { ...profile.draft, sizes } : profile.draft);
  const layout: LayoutOptions = { size, radiusJitter: profile.radiusJitter };
  const objects = layoutObjects(draft.objects, rng, layout, draft.relation);
  const g = rng.uniform(profile.background[0], profile.background[1]);
  const scene: Scene = { width: size, height: size, background: [g, g, g], objects };
  // Layout may shrink large objects that do not fit; a caption that names a size must say what was drawn.
  const spec: PromptSpec = {
    ...draft.spec,
    objects: draft.spec.objects.map((o, k) => (o.size ? { ...o, size: objects[k].size } : o)),
  };
  return { split, index, caption: captionOf(spec), spec, scene };
}

export function builtinSample(split: SplitName, index: number, opts: BuiltinOptions = {}): BuiltinSample {
  const d = describeBuiltinSample(split, index, opts);
  return { ...d, image: renderScene(d.scene) };
}

/** The first `count` samples of a split (clean: 512 by default; broad: 4096 by default, or use the stream). */
export function builtinSplit(name: SplitName, count?: number, opts: BuiltinOptions = {}): BuiltinSample[] {
  const n = count ?? (name === 'clean' ? CLEAN_COUNT : BROAD_DEFAULT_COUNT);
  return Array.from({ length: n }, (_, i) => builtinSample(name, i, opts));
}

/** Unlimited stream of a split, from index `start` (for pretraining on `broad`). */
export function* builtinStream(name: SplitName, opts: BuiltinOptions = {}, start = 0): Generator<BuiltinSample> {
  for (let i = start; ; i++) yield builtinSample(name, i, opts);
}

/**
 * A reference scene for any prompt spec (held-out prompts included): the named attributes as asked, the unsaid
 * ones drawn from `seed`, laid out like the dataset. Used to sanity-check the evaluator on prompts that have no
 * sample, and as the "what a perfect model would draw" image in reports. A size named in a multi-object prompt
 * may be shrunk if the objects would not fit.
 */
export function sceneForPrompt(spec: PromptSpec, opts: BuiltinOptions = {}): Scene {
  const size = opts.size ?? DEFAULT_IMAGE_SIZE;
  const rng = new Rng(hashSeed(opts.seed ?? DEFAULT_SEED, 'prompt', captionOf(spec)));
  const copies = spec.task === 'counting' ? (spec.count ?? 1) : 1;
  const drafts: ObjectDraft[] = [];
  const usedColors: Color[] = [];
  for (const o of spec.objects) {
    // Unnamed colours differ from the named ones, so a scene for "a circle and a square" cannot pass a stricter
    // prompt by accident in tests.
    const color = o.color ?? rng.pick(COLORS.filter((c) => !usedColors.includes(c)));
    usedColors.push(color);
    const d: ObjectDraft = { shape: o.shape, color, size: o.size ?? rng.pick(SIZES), rgb: PALETTE[color] };
    for (let k = 0; k < copies; k++) drafts.push({ ...d });
  }
  const objects = layoutObjects(drafts, rng, { size, radiusJitter: 0.03 }, spec.relation);
  const g = BACKGROUND_LEVEL;
  return { width: size, height: size, background: [g, g, g], objects };
}
