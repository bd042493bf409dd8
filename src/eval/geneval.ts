// GenEval-style programmatic evaluation for the built-in dataset: detect the objects in a generated image
// (detect.ts), then check the prompt's requirements the way GenEval (Ghosh et al. 2023, evaluate_images.py) does,
// per task:
//
//   single_object  "a circle"                          ≥ 1 circle (size too, when the prompt names one)
//   colors         "a red circle"                      ≥ 1 red circle
//   two_object     "a circle and a square"             a circle and a square (two different detections)
//   color_attr     "a red circle and a blue square"    a red circle and a blue square
//   position       "a red circle to the left of a …"   a red circle and a blue square whose boxes have GenEval's
//                                                      relation (relations.ts) — any such pair counts
//   counting       "two green triangles"               exactly two green triangles (other objects ignored)
//
// As in GenEval, objects the prompt does not mention do not fail an image (except for counting, where one more of
// the counted kind does). Unrecognised blobs never match anything. `overall` is the mean of the per-task
// accuracies over the tasks present, GenEval's headline number.

import { captionOf, parseCaption } from '../data/builtin/captions';
import { relationsBetween } from '../data/builtin/relations';
import { objectMatches, type ObjectSpec, type PromptSpec } from '../data/builtin/spec';
import { TASKS, type Task } from '../data/builtin/vocab';
import { detectObjects, type DetectedObject, type Detection, type DetectOptions } from './detect';

export interface ImageEval {
  task: Task;
  prompt: string;
  spec: PromptSpec;
  correct: boolean;
  /** Why it passed or failed, in words (for the UI and for debugging). */
  reason: string;
  detection: Detection;
  /** Indices into detection.objects of the objects that satisfied the prompt (empty when it failed). */
  matched: number[];
}

export interface TaskScore {
  correct: number;
  total: number;
  accuracy: number;
}

export interface EvalSummary {
  tasks: Partial<Record<Task, TaskScore>>;
  /** Mean of the per-task accuracies over the tasks that have at least one image. */
  overall: number;
  /** Plain fraction of correct images (not GenEval's headline; reported for completeness). */
  imageAccuracy: number;
  count: number;
}

export function describeObject(o: DetectedObject): string {
  const shape = o.shape ?? `blob (~${o.nearestShape})`;
  return `${o.size} ${o.color} ${shape} at (${o.cx.toFixed(1)}, ${o.cy.toFixed(1)})`;
}

function describeSpec(o: ObjectSpec): string {
  return [o.size, o.color, o.shape].filter(Boolean).join(' ');
}

function candidates(objects: readonly DetectedObject[], spec: ObjectSpec): number[] {
  const out: number[] = [];
  objects.forEach((o, i) => {
    if (objectMatches(spec, o)) out.push(i);
  });
  return out;
}

function foundList(objects: readonly DetectedObject[]): string {
  const known = objects.filter((o) => o.shape !== null);
  return known.length === 0 ? 'no recognisable object' : `found ${known.map(describeObject).join('; ')}`;
}

function check(spec: PromptSpec, objects: readonly DetectedObject[]): { correct: boolean; reason: string; matched: number[] } {
  const fail = (what: string) => ({ correct: false, reason: `${what} (${foundList(objects)})`, matched: [] });
  const [a, b] = spec.objects;
  const ca = candidates(objects, a);
  switch (spec.task) {
    case 'single_object':
    case 'colors':
      return ca.length > 0 ? { correct: true, reason: `found ${describeObject(objects[ca[0]])}`, matched: [ca[0]] } : fail(`no ${describeSpec(a)}`);
    case 'counting': {
      const want = spec.count ?? 1;
      if (ca.length === want) return { correct: true, reason: `found exactly ${want} ${describeSpec(a)}`, matched: ca };
      return fail(`expected ${want} ${describeSpec(a)}, counted ${ca.length}`);
    }
    case 'two_object':
    case 'color_attr':
    case 'position': {
      const cb = candidates(objects, b);
      if (ca.length === 0) return fail(`no ${describeSpec(a)}`);
      if (cb.length === 0 || (cb.length === 1 && ca.length === 1 && ca[0] === cb[0])) return fail(`no ${describeSpec(b)}`);
      let seen = '';
      for (const i of ca) {
        for (const j of cb) {
          if (i === j) continue;
          if (spec.task !== 'position') return { correct: true, reason: `found both`, matched: [i, j] };
          const rels = relationsBetween(objects[i].box, objects[j].box);
          if (rels.has(spec.relation!)) return { correct: true, reason: `${describeSpec(a)} is ${spec.relation} ${describeSpec(b)}`, matched: [i, j] };
          seen = rels.size > 0 ? [...rels].join(' and ') : 'too close to tell';
        }
      }
      return fail(`${describeSpec(a)} is not ${spec.relation} ${describeSpec(b)}: ${seen}`);
    }
  }
}

/** Evaluate one generated image (CHW float32 in [-1, 1]) against its prompt (caption text or parsed spec). */
export function evaluateImage(image: Float32Array, prompt: string | PromptSpec, opts: DetectOptions = {}): ImageEval {
  let spec: PromptSpec;
  let text: string;
  if (typeof prompt === 'string') {
    const parsed = parseCaption(prompt);
    if (!parsed.ok) throw new Error(`evaluateImage: cannot parse prompt "${prompt}": ${parsed.error}`);
    spec = parsed.spec;
    text = prompt;
  } else {
    spec = prompt;
    text = captionOf(spec);
  }
  const detection = detectObjects(image, opts);
  const { correct, reason, matched } = check(spec, detection.objects);
  return { task: spec.task, prompt: text, spec, correct, reason, detection, matched };
}

/** Per-task accuracies and GenEval's overall (mean over tasks present). */
export function summarize(evals: readonly Pick<ImageEval, 'task' | 'correct'>[]): EvalSummary {
  const tasks: Partial<Record<Task, TaskScore>> = {};
  for (const e of evals) {
    const t = (tasks[e.task] ??= { correct: 0, total: 0, accuracy: 0 });
    t.total++;
    if (e.correct) t.correct++;
  }
  const present = TASKS.filter((t) => tasks[t]);
  for (const t of present) tasks[t]!.accuracy = tasks[t]!.correct / tasks[t]!.total;
  const overall = present.length === 0 ? 0 : present.reduce((s, t) => s + tasks[t]!.accuracy, 0) / present.length;
  const correct = evals.filter((e) => e.correct).length;
  return { tasks, overall, imageAccuracy: evals.length ? correct / evals.length : 0, count: evals.length };
}

/** Summaries of a held-out evaluation: everything, the novel prompts only, and the in-distribution ones only. */
export function summarizeHeldOut(evals: readonly (Pick<ImageEval, 'task' | 'correct'> & { novel: boolean })[]): {
  all: EvalSummary;
  novel: EvalSummary;
  inDistribution: EvalSummary;
} {
  return {
    all: summarize(evals),
    novel: summarize(evals.filter((e) => e.novel)),
    inDistribution: summarize(evals.filter((e) => !e.novel)),
  };
}
