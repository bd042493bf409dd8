// Scores a set of generated images against their prompts with the GenEval-style evaluator, when every prompt
// is a caption of the built-in grammar (otherwise there is nothing to check against: null).
import { parseCaption } from '../data/builtin/captions';
import { evaluateImage, summarize, type EvalSummary, type ImageEval } from './geneval';

export interface PromptScores {
  overall: number;
  perTask: Record<string, number>;
  summary: EvalSummary;
  images: ImageEval[];
}

export function scorePrompts(prompts: readonly string[], images: readonly Float32Array[]): PromptScores | null {
  if (prompts.length === 0 || prompts.length !== images.length) return null;
  if (!prompts.every((p) => parseCaption(p).ok)) return null;
  const evals = prompts.map((p, i) => evaluateImage(images[i], p));
  const summary = summarize(evals);
  const perTask: Record<string, number> = {};
  for (const [task, s] of Object.entries(summary.tasks)) if (s) perTask[task] = s.accuracy;
  return { overall: summary.overall, perTask, summary, images: evals };
}
