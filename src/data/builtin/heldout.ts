// The held-out combinations and the evaluation prompts built on them.
//
// HELD_OUT_PAIRS are (colour, shape) pairs that never appear in the `clean` split — not in a caption, and not even
// unnamed in an image (a two_object caption's colours are unsaid but still drawn). Every colour and every shape
// still appears in `clean`, just never together in these pairs, so post-training must compose them. `broad`
// (pretraining) contains everything: the base model has seen a red triangle; the post-training data has not.
//
// heldOutPrompts() returns, from a fixed seed (the same list for everyone):
//  - novel prompts: for colors, color_attr, position and counting, prompts in which at least one object is named
//    with a held-out pair (12 per task by default → 48);
//  - in-distribution prompts: for all six tasks, prompts drawn exactly like `clean` captions (no held-out pair;
//    they may coincide with clean captions, that is the point: 8 per task by default → 48).
// single_object and two_object captions name no colours, so they have no novel variant.
// All texts in the list are distinct.

import { captionOf } from './captions';
import { draftFor, type DraftOptions } from './drafts';
import { hashSeed, Rng } from './prng';
import type { PromptSpec, Scene } from './spec';
import { TASKS, type Color, type Shape, type Task } from './vocab';

/** One held-out shape per colour; each shape is held out in one or two colours. */
export const HELD_OUT_PAIRS: readonly (readonly [Color, Shape])[] = [
  ['red', 'triangle'],
  ['green', 'diamond'],
  ['blue', 'circle'],
  ['yellow', 'square'],
  ['magenta', 'diamond'],
  ['cyan', 'triangle'],
];

export function isHeldOutPair(color: Color, shape: Shape): boolean {
  return HELD_OUT_PAIRS.some(([c, s]) => c === color && s === shape);
}

/** Does the caption name a held-out pair? */
export function specHasHeldOutPair(spec: PromptSpec): boolean {
  return spec.objects.some((o) => o.color !== undefined && isHeldOutPair(o.color, o.shape));
}

/** Does the image contain a held-out pair (named or not)? */
export function sceneHasHeldOutPair(scene: Scene): boolean {
  return scene.objects.some((o) => isHeldOutPair(o.color, o.shape));
}

export const NOVEL_TASKS: readonly Task[] = ['colors', 'color_attr', 'position', 'counting'];

export interface HeldOutPrompt {
  id: string;
  task: Task;
  text: string;
  spec: PromptSpec;
  /** True when the prompt names a held-out (colour, shape) pair, i.e. a combination absent from `clean`. */
  novel: boolean;
  /** A seed for the sampler's initial noise, so every model is compared on the same noise. */
  seed: number;
}

export interface HeldOutOptions {
  seed?: number;
  novelPerTask?: number;
  inDistPerTask?: number;
}

/** Fixed so the benchmark list is the same for every run and every user. */
export const HELD_OUT_SEED = 20240917;

const DRAFT_ANY: Omit<DraftOptions, 'allow'> = { colorJitter: 0, sizeWordRate: 0.5 };

export function heldOutPrompts(opts: HeldOutOptions = {}): HeldOutPrompt[] {
  const seed = opts.seed ?? HELD_OUT_SEED;
  const novelPerTask = opts.novelPerTask ?? 12;
  const inDistPerTask = opts.inDistPerTask ?? 8;
  const out: HeldOutPrompt[] = [];
  const seen = new Set<string>();

  const collect = (task: Task, novel: boolean, want: number) => {
    const rng = new Rng(hashSeed(seed, 'heldout', task, novel ? 1 : 0));
    const allow = novel ? () => true : (c: Color, s: Shape) => !isHeldOutPair(c, s);
    let found = 0;
    // Rejection sampling: a novel draft needs a held-out pair (≥ 25% of draws); give up after plenty of tries,
    // which only happens when more distinct prompts are asked for than the grammar has.
    for (let tries = 0; found < want && tries < 2000; tries++) {
      const { spec } = draftFor(task, rng, { ...DRAFT_ANY, allow });
      if (novel !== specHasHeldOutPair(spec)) continue;
      const text = captionOf(spec);
      if (seen.has(text)) continue;
      seen.add(text);
      out.push({
        id: `${task}/${novel ? 'novel' : 'in'}/${found}`,
        task,
        text,
        spec,
        novel,
        seed: hashSeed(seed, 'noise', text),
      });
      found++;
    }
  };

  for (const task of NOVEL_TASKS) collect(task, true, novelPerTask);
  for (const task of TASKS) collect(task, false, inDistPerTask);
  return out;
}
