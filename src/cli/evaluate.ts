// Evaluation of a model (base, with or without a LoRA) on the built-in held-out prompts with the GenEval-style
// evaluator at several sampling step counts, plus trajectory drift on real samples. Shared by `eval` and
// `compare`.
import { concatFloats } from '../codec/concat';
import { heldOutPrompts } from '../data/builtin/heldout';
import type { Task } from '../data/builtin/vocab';
import type { TrainingData } from '../train/trainer';
import { builtinSample } from '../data/builtin/dataset';
import { trajectoryDrift } from '../eval/drift';
import { scorePrompts } from '../eval/score';
import type { LoadedBase } from '../io/base-runtime';
import { Rng } from '../tensor/ops/rng';
import { concat } from '../tensor/ops/shape';
import type { Engine } from '../tensor/engine';
import { modelVelocity, sample } from '../sample/sampler';
import { uploadEmbeddings } from '../encode/cache';

export interface EvalOptions {
  prompts: number;
  /** Only these tasks' held-out prompts (all tasks when absent). */
  tasks?: readonly Task[];
  stepCounts: number[];
  cfgScale: number;
  driftSamples: number;
  /** Shown while it works: a line per sampling step count and drift pass (the CLI passes a progress bar). */
  onProgress?: (done: number, total: number, what: string) => void;
  /**
   * A user's held-out images instead of the built-in held-out prompts: sampled on their captions and used for
   * the drift. No evaluator applies to them (its scores are NaN: the report leaves those columns out).
   */
  heldOut?: TrainingData | null;
}

export interface EvalResult {
  /** Per sampling step count: overall score, per task, novel / in-distribution split. */
  byStep: Array<{ steps: number; overall: number; perTask: Record<string, number>; novel: number; inDistribution: number }>;
  /** Mean final-state drift from the ideal path, per step count (lower: closer to the data). */
  drift: Array<{ steps: number; perLevel: number[]; final: number }>;
  /** The images of the largest step count, for grids. */
  images: Float32Array[];
  prompts: string[];
}

export async function evaluateModel(engine: Engine, base: LoadedBase, opts: EvalOptions): Promise<EvalResult> {
  const user = opts.heldOut ?? null;
  const userExamples = user ? Array.from({ length: Math.min(opts.prompts, user.size) }, (_, i) => user.example(i)) : [];
  const all = user ? userExamples.map((x, i) => ({ text: x.caption, seed: 1000 + i, novel: false })) : heldOutPrompts().filter((p) => !opts.tasks || opts.tasks.includes(p.task));
  // An even spread over the list (it alternates novel and in-distribution prompts by task).
  const chosen = Array.from({ length: Math.min(opts.prompts, all.length) }, (_, i) => all[Math.floor((i * all.length) / Math.min(opts.prompts, all.length))]);
  const prompts = chosen.map((p) => p.text);
  const res = base.manifest.meta.resolution;
  const C = base.manifest.config.in_channels;
  const n = prompts.length;
  const cond = await base.embeddings.stacked(prompts);
  const unc = await base.embeddings.stacked(new Array(n).fill(''));
  const result: EvalResult = { byStep: [], drift: [], images: [], prompts };
  const total = opts.stepCounts.length * (opts.driftSamples > 0 ? 2 : 1);
  let done = 0;
  const progress = (what: string) => opts.onProgress?.(++done, total, what);
  for (const steps of opts.stepCounts) {
    // The same noise for every model and step count: a seed per prompt.
    const imageTensor = engine.scope(() => {
      const noise = chosen.map((p) => new Rng(p.seed).randn(engine, [1, C, res, res], 'z1'));
      const z1 = engine.noGrad(() => (noise.length === 1 ? noise[0] : concat(noise, 0)));
      return sample(engine, modelVelocity(base.model), z1, uploadEmbeddings(engine, cond), uploadEmbeddings(engine, unc), { steps, cfgScale: opts.cfgScale, shift: base.manifest.meta.shift, stepType: 'euler', noiseScale: 0, captureTrajectory: false }, null).image;
    });
    const images = await imageTensor.toArray();
    imageTensor.release();
    const per = C * res * res;
    const split = Array.from({ length: n }, (_, i) => images.slice(i * per, (i + 1) * per));
    result.images = split;
    if (user) {
      result.byStep.push({ steps, overall: NaN, perTask: {}, novel: NaN, inDistribution: NaN });
      progress(`${n} held-out captions at ${steps} steps`);
      continue;
    }
    const scores = scorePrompts(prompts, split);
    if (!scores) throw new Error('held-out prompts did not parse: the built-in grammar changed');
    const novel = scores.images.filter((_, i) => chosen[i].novel);
    const inDist = scores.images.filter((_, i) => !chosen[i].novel);
    const acc = (xs: typeof novel) => (xs.length ? xs.filter((x) => x.correct).length / xs.length : 0);
    result.byStep.push({ steps, overall: scores.overall, perTask: scores.perTask, novel: acc(novel), inDistribution: acc(inDist) });
    progress(`${n} prompts at ${steps} steps: overall ${scores.overall.toFixed(3)}`);
  }
  // Drift: real clean samples, their captions, fixed noise (none asked for: skipped).
  if (opts.driftSamples <= 0) return result;
  // The user's held-out images when given (all of them, up to driftSamples), else clean built-in samples.
  const samples = user ? Array.from({ length: Math.min(opts.driftSamples, user.size) }, (_, i) => user.example(i)) : Array.from({ length: opts.driftSamples }, (_, i) => builtinSample('clean', i, { size: res }));
  const dc = await base.embeddings.stacked(samples.map((s) => s.caption));
  const du = await base.embeddings.stacked(samples.map(() => ''));
  for (const steps of opts.stepCounts) {
    const m = samples.length;
    const z0 = engine.keep(engine.fromArray(concatFloats(samples.map((s) => s.image)), [m, C, res, res], 'z0'));
    const z1 = engine.keep(new Rng(777).randn(engine, [m, C, res, res], 'z1'));
    const c = uploadEmbeddings(engine, dc);
    const u = uploadEmbeddings(engine, du);
    const d = await trajectoryDrift(engine, modelVelocity(base.model), z0, z1, c, u, { steps, cfgScale: opts.cfgScale, shift: base.manifest.meta.shift, noiseScale: 0 });
    result.drift.push({ steps, perLevel: d.drift, final: d.drift[d.drift.length - 1] });
    progress(`drift at ${steps} steps: ${d.drift[d.drift.length - 1].toFixed(4)}`);
    for (const t of [z0, z1, c.context, c.pooled, u.context, u.pooled]) t.release();
  }
  return result;
}
