// The evaluator as a reward for online RL (Flow-GRPO): GenEval's partial score, so an image that gets part of
// a prompt right earns part of the reward and a group of samples rarely scores all 0 (flat groups carry no
// advantage). Per clause of the prompt (each object it names, with its count), in GenEval's reward server's
// order (docs/methods.md, "Flow-GRPO"):
//   count term      1 − |N − n|/N, n = every detection of the object's shape (negative past 2N);
//   then, if n ≠ N and the clause has an attribute (colour, size) or a position: one 0;
//   else the attribute term 1 − |N − k|/N, k = detections of the shape that have the attribute;
//   else the position term: 0 when the other object's clause failed, else 1 when some pair has the relation,
//   else a 0 and then a 1 (the reference server's quirk, kept so scores translate).
// The score is the mean of the terms; `correct` is the evaluator's strict verdict (evaluateImage).
import { parseCaption } from '../data/builtin/captions';
import { relationsBetween } from '../data/builtin/relations';
import { objectMatches, type ObjectSpec, type PromptSpec } from '../data/builtin/spec';
import type { DetectedObject } from './detect';
import { evaluateImage } from './geneval';

export interface Reward {
  score: number;
  correct: boolean;
}

/** The partial score of `objects` detected in an image against `spec`. */
export function partialScore(spec: PromptSpec, objects: readonly DetectedObject[]): number {
  const terms: number[] = [];
  spec.objects.forEach((clause: ObjectSpec, c) => {
    const N = spec.task === 'counting' && c === 0 ? (spec.count ?? 1) : 1;
    const ofShape = objects.filter((o) => o.shape === clause.shape);
    const n = ofShape.length;
    terms.push(1 - Math.abs(N - n) / N);
    const attribute = clause.color !== undefined || clause.size !== undefined;
    // The position belongs to the first object: "A <relation> B".
    const positioned = spec.task === 'position' && c === 0;
    if (n !== N && (attribute || positioned)) terms.push(0);
    else if (attribute) {
      const k = ofShape.filter((o) => objectMatches(clause, o)).length;
      terms.push(1 - Math.abs(N - k) / N);
    } else if (positioned) {
      terms.push(...positionTerms(spec, objects));
    }
  });
  return terms.reduce((s, t) => s + t, 0) / terms.length;
}

function positionTerms(spec: PromptSpec, objects: readonly DetectedObject[]): number[] {
  const [a, b] = spec.objects;
  const as = objects.filter((o) => objectMatches(a, o));
  const bs = objects.filter((o) => objectMatches(b, o));
  if (bs.length === 0) return [0];
  const holds = as.some((x) => bs.some((y) => x !== y && relationsBetween(x.box, y.box).has(spec.relation!)));
  return holds ? [1] : [0, 1];
}

/** The reward of one generated image (CHW in [−1, 1]) for its prompt; a prompt the evaluator cannot read throws. */
export function imageReward(image: Float32Array, prompt: string): Reward {
  const ev = evaluateImage(image, prompt);
  return { score: partialScore(ev.spec, ev.detection.objects), correct: ev.correct };
}

/** Whether the evaluator can score a prompt (built-in vocabulary and grammar). */
export function canScore(prompt: string): boolean {
  return parseCaption(prompt).ok;
}
