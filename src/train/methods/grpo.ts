// Flow-GRPO: online RL with the evaluator as the reward (docs/methods.md, "Flow-GRPO"). Per sampled micro-batch,
// for each of the batch's prompts: a group of sample_num_image_per_prompt images sampled with the SDE form of
// the sampler (log-probability of every transition kept) and their rewards; over the sampling round, advantages
// normalised within each prompt's group; then, per trained micro-batch of the round's samples, the clipped
// importance-ratio objective on the trained transitions, re-scored with gradient, plus β·KL to the base.
import { backward } from '../../tensor/autograd';
import type { Engine } from '../../tensor/engine';
import { addScalar, addScaled, scale, square, sub } from '../../tensor/ops/elementwise';
import { clippedPolicyLoss, ratioOutsideClip } from '../../tensor/ops/policy';
import { expand, mean, perSampleMse } from '../../tensor/ops/reduce';
import { concat, split } from '../../tensor/ops/shape';
import type { Tensor } from '../../tensor/tensor';
import { sigmaSchedule } from '../../sample/sampler';
import type { TrainConfig } from '../config';
import { rewardOf } from '../rewards';
import { applyStep, stepCoefficients, type StepCoefficients } from '../rollout';
import { timestepOf } from '../schedule';
import { rows } from '../step';
import type { Batch, MethodInfo, MethodStep, Prepared, PreparedRound, StepContext, TrainingMethod } from './method';

/** The reference's geneval_sd3 recipe (config/grpo.py), under its names flattened with '_' for '.'. */
export const GRPO_DEFAULTS: Pick<
  TrainConfig,
  | 'sample_num_steps'
  | 'sample_guidance_scale'
  | 'sample_noise_level'
  | 'sample_sde_type'
  | 'sample_sde_window_size'
  | 'sample_sde_window_range'
  | 'sample_num_image_per_prompt'
  | 'sample_same_latent'
  | 'sample_global_std'
  | 'train_clip_range'
  | 'train_adv_clip_max'
  | 'train_beta'
  | 'train_timestep_fraction'
  | 'train_cfg'
  | 'sample_num_batches_per_epoch'
  | 'train_num_inner_epochs'
  | 'reward_fn'
> = {
  sample_num_steps: 10,
  sample_guidance_scale: 4.5,
  sample_noise_level: 0.7,
  sample_sde_type: 'sde',
  sample_sde_window_size: 0,
  sample_sde_window_range: [0, 10],
  sample_num_image_per_prompt: 4,
  sample_same_latent: false,
  sample_global_std: true,
  train_clip_range: 1e-4,
  train_adv_clip_max: 5,
  train_beta: 0,
  train_timestep_fraction: 0.99,
  train_cfg: true,
  // One on-policy update per round (the reference's geneval_sd3 makes 2: num_batches_per_epoch 4, accumulation 2).
  sample_num_batches_per_epoch: 0,
  train_num_inner_epochs: 1,
  reward_fn: 'geneval',
};

/** numpy's std epsilon in the reference's advantage normalisation (flow_grpo/stat_tracking.py). */
export const ADVANTAGE_STD_EPS = 1e-4;

/**
 * Advantages per sample: (r − mean of its prompt's group) / (std + 1e-4), the std over every reward given
 * when `globalStd` (the reference's SD3 configs) else over the group; population std (ddof 0); clipped to
 * ±advClipMax. A group whose rewards are all equal gets 0 (it carries no signal and is not trained).
 */
export function groupAdvantages(rewards: readonly number[], groupOf: readonly number[], globalStd: boolean, advClipMax: number): Float64Array {
  const std = (xs: number[]) => {
    const m = xs.reduce((s, x) => s + x, 0) / xs.length;
    return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
  };
  const groups = new Map<number, number[]>();
  rewards.forEach((r, i) => groups.set(groupOf[i], [...(groups.get(groupOf[i]) ?? []), r]));
  const all = std([...rewards]);
  return Float64Array.from(rewards, (r, i) => {
    const g = groups.get(groupOf[i])!;
    const m = g.reduce((s, x) => s + x, 0) / g.length;
    const a = (r - m) / ((globalStd ? all : std(g)) + ADVANTAGE_STD_EPS);
    return Math.max(-advClipMax, Math.min(advClipMax, a));
  });
}

/**
 * Advantages over a sampling round, as the reference's per-prompt stat tracker over an epoch's samples: each
 * sample grouped with every other of the same prompt text (groups of one prompt sampled in different
 * micro-batches pool into one), the global std over all of the round's rewards.
 */
export function roundAdvantages(prompts: readonly string[], rewards: readonly number[], globalStd: boolean, advClipMax: number): Float64Array {
  if (prompts.length !== rewards.length) throw new Error(`roundAdvantages: ${prompts.length} prompts for ${rewards.length} rewards`);
  const ids = new Map<string, number>();
  const groupOf = prompts.map((p) => {
    if (!ids.has(p)) ids.set(p, ids.size);
    return ids.get(p)!;
  });
  return groupAdvantages(rewards, groupOf, globalStd, advClipMax);
}

/** One transition of the SDE sampler: its coefficients (μ = z·x + v·v, noise std eps) and its log-prob form. */
export interface Transition {
  sigma: number;
  next: number;
  coefs: StepCoefficients;
  /** 'sde': Gaussian log-density (mean over elements); 'cps': −mean((x' − μ)²); 'ode': deterministic. */
  kind: 'sde' | 'cps' | 'ode';
  /** g of the SDE (the KL's divisor, as the reference: not the step's std). */
  g: number;
}

/**
 * The sampler's transitions: the SDE at the steps in `stochastic`, Euler elsewhere. sigma_max (the SDE's
 * stand-in for sigma = 1) is the grid's second level, as the reference.
 */
export function transitions(cfg: Pick<TrainConfig, 'sample_num_steps' | 'sample_noise_level' | 'sample_sde_type' | 'shift'>, stochastic: ReadonlySet<number>): Transition[] {
  const sigmas = sigmaSchedule(cfg.sample_num_steps, cfg.shift);
  const sigmaMax = sigmas[1];
  const a = cfg.sample_noise_level;
  return sigmas.slice(0, -1).map((sigma, i) => {
    const next = sigmas[i + 1];
    if (!stochastic.has(i) || a === 0) return { sigma, next, coefs: stepCoefficients('euler', sigma, next), kind: 'ode', g: 0 };
    const cps = cfg.sample_sde_type === 'cps';
    const coefs = stepCoefficients(cps ? 'cps' : 'flow_sde', sigma, next, a, sigmaMax);
    const g = a * Math.sqrt(sigma / (1 - (sigma >= 1 ? sigmaMax : sigma)));
    return { sigma, next, coefs, kind: cps ? 'cps' : 'sde', g };
  });
}

/**
 * log p(x' | x) per sample [G] for a transition with mean `mu` (gradient flows through mu only): 'sde' the
 * Gaussian log-density averaged over elements, −mean((x' − μ)²)/(2s²) − log s − ½·log 2π; 'cps' −mean((x' − μ)²).
 */
export function transitionLogProb(mu: Tensor, xNext: Tensor, t: Transition): Tensor {
  const mse = perSampleMse(mu, xNext);
  if (t.kind === 'cps') return scale(mse, -1);
  const s = t.coefs.eps;
  return addScalar(scale(mse, -1 / (2 * s * s)), -Math.log(s) - 0.5 * Math.log(2 * Math.PI));
}

/** Which steps are stochastic and trained in a sampled micro-batch: all (trained: the first N·timestep_fraction),
 *  or the Fast variant's window of sample_sde_window_size steps starting at a uniform draw in the range. */
export function trainedSteps(cfg: TrainConfig, uniform: number): { stochastic: Set<number>; trained: number[] } {
  const N = cfg.sample_num_steps;
  const W = cfg.sample_sde_window_size;
  if (W === 0) {
    const all = new Set([...Array(N).keys()]);
    return { stochastic: all, trained: [...Array(Math.max(1, Math.floor(N * cfg.train_timestep_fraction))).keys()] };
  }
  // The range's end is clamped to the grid (the reference's default (0, 10) fits its 10 steps; fewer steps here).
  const [r0, r1] = [cfg.sample_sde_window_range[0], Math.min(cfg.sample_sde_window_range[1], N)];
  const start = r0 + Math.floor(uniform * (r1 - W - r0 + 1));
  const window = Array.from({ length: W }, (_, k) => start + k);
  return { stochastic: new Set(window), trained: window };
}

/** How a sample was drawn: the sampler's transitions, and which of its steps are trained. */
export interface Schedule {
  transitions: Transition[];
  trained: number[];
}

/**
 * What `step` trains on: a sampled micro-batch as `prepare` keeps it, or a micro-batch (`samples`) of a round's
 * joined samples. Exported for the gradient check's float64 objective.
 */
export interface GrpoPrepared extends Prepared, Schedule {
  /** States x_0 … x_N [S, C, H, W] of every sample held. */
  states: Tensor[];
  /** Sampling-time log p [S] per step (null for steps deterministic for every sample; 0 where only for some). */
  logProbs: Array<Tensor | null>;
  /** The prompts' conditioning repeated per sample [S, ...]. */
  context: Tensor;
  pooled: Tensor;
  /** The samples with their rewards and advantages. */
  groups: SampledGroups;
  correct: boolean[];
  /** Samples (of `samples`) with a non-zero advantage: the ones the objective trains on. */
  kept: number[];
  /** The micro-batch's samples (indices into the tensors above), ascending; absent: all of them. */
  samples?: readonly number[];
  /**
   * Each sample's schedule, where the samples held differ in it (the Fast window is drawn per sampled
   * micro-batch, and a round's micro-batches mix its samples); absent: every sample follows `transitions`.
   */
  schedules?: { list: Schedule[]; of: number[] };
}

/** [uncond; cond] velocity with guidance w (one forward of 2G), or the conditional one when not guided. */
function guidedVelocity(ctx: StepContext, x: Tensor, sigma: number, cond: { context: Tensor; pooled: Tensor }, w: number, guided: boolean, adapters = ctx.adapters): Tensor {
  const e = ctx.model.engine;
  const G = x.shape[0];
  if (!guided) return ctx.model.forward({ x, timestep: e.full([G], timestepOf(sigma), 'timestep'), ...cond }, adapters);
  const u = { context: expand(ctx.uncond.context, cond.context.shape), pooled: expand(ctx.uncond.pooled, cond.pooled.shape) };
  const both = ctx.model.forward(
    { x: concat([x, x], 0), timestep: e.full([2 * G], timestepOf(sigma), 'timestep'), context: concat([u.context, cond.context], 0), pooled: concat([u.pooled, cond.pooled], 0) },
    adapters,
  );
  const [vu, vc] = split(both, [G, G], 0);
  return addScaled(vu, sub(vc, vu), w);
}

async function prepare(batch: Batch, cfg: TrainConfig, ctx: StepContext): Promise<GrpoPrepared> {
  const e: Engine = ctx.model.engine;
  const B = batch.z0.shape[0];
  const k = cfg.sample_num_image_per_prompt;
  const G = B * k;
  const groupOf = Array.from({ length: G }, (_, i) => Math.floor(i / k));
  const prompts = [...(ctx.prompts ?? [])];
  if (prompts.length !== B) throw new Error(`Flow-GRPO: the step needs the batch's ${B} captions, got ${prompts.length}`);
  const reward = rewardOf(cfg.reward_fn);
  const { stochastic, trained } = trainedSteps(cfg, ctx.rng.randHost(1)[0]);
  const steps = transitions(cfg, stochastic);
  const guided = cfg.sample_guidance_scale !== 1;
  const cond = e.scope(() => ({ context: rows(batch.context, groupOf), pooled: rows(batch.pooled, groupOf) }));
  const [, C, H, W] = batch.z0.shape;
  // Initial noise: one per image, or one per prompt shared by its group (same_latent).
  const z1 = e.scope(() => (cfg.sample_same_latent ? rows(ctx.rng.randn(e, [B, C, H, W], 'grpo_z1'), groupOf) : ctx.rng.randn(e, [G, C, H, W], 'grpo_z1')));
  const states: Tensor[] = [z1];
  const logProbs: Array<Tensor | null> = [];
  e.noGrad(() => {
    for (const t of steps) {
      const x = states[states.length - 1];
      const out = e.scope(() => {
        const v = guidedVelocity(ctx, x, t.sigma, cond, cfg.sample_guidance_scale, guided);
        const coefs = new Array(G).fill(t.coefs);
        const mu = applyStep(e, x, v, null, coefs);
        if (t.kind === 'ode') return { next: mu, logp: null };
        const next = addScaled(mu, ctx.rng.randn(e, mu.shape, 'grpo_eps'), t.coefs.eps);
        return { next, logp: transitionLogProb(mu, next, t) };
      });
      states.push(out.next);
      logProbs.push(out.logp);
    }
  });
  const images = await states[states.length - 1].toArray();
  const per = C * H * W;
  const scored = Array.from({ length: G }, (_, i) => reward(images.subarray(i * per, (i + 1) * per), prompts[groupOf[i]] ?? '', { channels: C, size: H }));
  const rewards = scored.map((s) => s.score);
  // The micro-batch's own advantages (what a round of this micro-batch alone gets; joinRound recomputes them over
  // the whole round).
  const advantages = roundAdvantages(groupOf.map((g) => prompts[g]), rewards, cfg.sample_global_std, cfg.train_adv_clip_max);
  const kept = [...advantages.keys()].filter((i) => advantages[i] !== 0);
  return {
    states,
    logProbs,
    transitions: steps,
    trained,
    context: cond.context,
    pooled: cond.pooled,
    correct: scored.map((s) => s.correct),
    kept,
    groups: { prompts, perPrompt: k, images, shape: [C, H, W], rewards, advantages },
    release() {
      for (const t of [...states, ...logProbs, cond.context, cond.pooled]) t?.release();
    },
  };
}

/**
 * A round's sampled groups on the host (its micro-batches' in sampled order), for the studio's view of what the
 * policy drew and earned.
 */
export interface SampledGroups {
  /** The sampled micro-batches' prompts in order (a prompt sampled twice in a round appears twice). */
  prompts: string[];
  /** Images per prompt (the group size). */
  perPrompt: number;
  /** Every sample's final image, [S, C, H, W] flat, prompt-major. */
  images: Float32Array;
  shape: [number, number, number];
  rewards: number[];
  advantages: Float64Array;
}

export interface GrpoStep extends MethodStep {
  groups: SampledGroups;
}

/** Whether a step result is Flow-GRPO's (it carries its sampled groups). */
export function isGrpoStep(r: MethodStep): r is GrpoStep {
  return 'groups' in r;
}

/**
 * Joins a round's sampled micro-batches into one set of samples (the tensors concatenated along the batch, each
 * micro-batch's released as soon as it is copied) and normalises the advantages over the whole round. A round of
 * one micro-batch is that micro-batch, its advantages the same.
 */
function joinRound(parts: Prepared[], cfg: TrainConfig): PreparedRound {
  const ps = parts as GrpoPrepared[];
  if (ps.length === 0) throw new Error('Flow-GRPO: a sampling round of no micro-batches');
  const joined = ps.length === 1 ? ps[0] : concatenated(ps);
  const g = joined.groups;
  const prompts = g.rewards.map((_, i) => g.prompts[Math.floor(i / g.perPrompt)]);
  const advantages = roundAdvantages(prompts, g.rewards, cfg.sample_global_std, cfg.train_adv_clip_max);
  const round: GrpoPrepared = { ...joined, groups: { ...g, advantages }, kept: [...advantages.keys()].filter((i) => advantages[i] !== 0) };
  return {
    samples: g.rewards.length,
    batch(samples) {
      const mine = [...samples];
      return { ...round, samples: mine, kept: mine.filter((i) => advantages[i] !== 0), release() {} };
    },
    release: () => joined.release(),
  };
}

/** Several sampled micro-batches as one: per-sample tensors concatenated, host data in order, schedules per sample. */
function concatenated(ps: GrpoPrepared[]): GrpoPrepared {
  const e = ps[0].context.engine;
  const sizes = ps.map((p) => p.groups.rewards.length);
  // Each tensor is concatenated, then its parts freed: the round's memory never holds more than one extra tensor.
  // A step that is deterministic in some micro-batches only (Fast windows) gets log p 0 there, never read (those
  // samples do not train it).
  const cat = (parts: Array<Tensor | null>): Tensor | null => {
    if (parts.every((t) => t === null)) return null;
    const t = e.keep(e.noGrad(() => e.scope(() => concat(parts.map((x, b) => x ?? e.zeros([sizes[b]], 'grpo_logp')), 0))));
    for (const x of parts) x?.release();
    return t;
  };
  const states = ps[0].states.map((_, j) => cat(ps.map((p) => p.states[j]))!);
  const logProbs = ps[0].logProbs.map((_, j) => cat(ps.map((p) => p.logProbs[j])));
  const context = cat(ps.map((p) => p.context))!;
  const pooled = cat(ps.map((p) => p.pooled))!;
  // Schedules: one, unless the micro-batches drew different ones (the Fast window).
  const keys = new Map<string, number>();
  const list: Schedule[] = [];
  const of = ps.flatMap((p, b) => {
    const key = JSON.stringify([p.trained, p.transitions]);
    if (!keys.has(key)) {
      keys.set(key, list.length);
      list.push({ transitions: p.transitions, trained: p.trained });
    }
    return new Array<number>(sizes[b]).fill(keys.get(key)!);
  });
  const images = new Float32Array(ps.reduce((n, p) => n + p.groups.images.length, 0));
  ps.reduce((at, p) => (images.set(p.groups.images, at), at + p.groups.images.length), 0);
  return {
    states,
    logProbs,
    transitions: list[0].transitions,
    trained: list[0].trained,
    ...(list.length > 1 ? { schedules: { list, of } } : {}),
    context,
    pooled,
    correct: ps.flatMap((p) => p.correct),
    kept: [], // set from the round's advantages
    groups: {
      prompts: ps.flatMap((p) => p.groups.prompts),
      perPrompt: ps[0].groups.perPrompt,
      images,
      shape: ps[0].groups.shape,
      rewards: ps.flatMap((p) => p.groups.rewards),
      advantages: new Float64Array(0), // set over the round
    },
    release() {
      for (const t of [...states, ...logProbs, context, pooled]) t?.release();
    },
  };
}

function step(_batch: Batch, cfg: TrainConfig, ctx: StepContext & { prepared?: Prepared }): GrpoStep {
  const p = ctx.prepared as GrpoPrepared | undefined;
  if (!p) throw new Error('Flow-GRPO: the step needs its sampled group (the loop calls prepare first)');
  const e = ctx.model.engine;
  const { rewards, advantages } = p.groups;
  const samples = p.samples ?? rewards.map((_, i) => i);
  const mine = samples.map((i) => rewards[i]);
  const mean_ = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const rMean = mean_(mine);
  const counts = {
    reward_mean: rMean,
    reward_std: Math.sqrt(mean_(mine.map((r) => (r - rMean) ** 2))),
    reward_max: Math.max(...mine),
    reward_correct: mean_(samples.map((i) => (p.correct[i] ? 1 : 0))),
    trained_fraction: p.kept.length / samples.length,
  };
  // The kept samples by the schedule they were drawn with (one, unless the micro-batch mixes Fast windows), each
  // with its trained stochastic steps.
  const bySchedule = new Map<Schedule, number[]>();
  for (const i of p.kept) {
    const s = p.schedules ? p.schedules.list[p.schedules.of[i]] : p;
    const list = bySchedule.get(s);
    if (list) list.push(i);
    else bySchedule.set(s, [i]);
  }
  const parts = [...bySchedule]
    .map(([s, kept]) => ({ s, kept, steps: s.trained.filter((j) => s.transitions[j].kind !== 'ode') }))
    .filter((part) => part.steps.length > 0);
  const trainedCount = parts.reduce((n, part) => n + part.kept.length, 0);
  if (trainedCount === 0) {
    // Every group tied: no advantage, nothing to train in this micro-batch.
    const zero = e.full([1], 0, 'grpo_loss');
    return { loss: zero, scalars: { policy_loss: zero, kl: null, approx_kl: null, clipfrac: null }, counts, groups: p.groups };
  }
  const guided = cfg.sample_guidance_scale !== 1;
  type Key = 'policy_loss' | 'kl' | 'approx_kl' | 'clipfrac';
  // Each part's loss is the mean over its samples; a part weighs its share of the micro-batch's trained samples,
  // so the update is the mean over all of them of each sample's mean over its trained steps.
  const partScalars = parts.map(({ s, kept, steps }) => {
    const weight = kept.length / trainedCount;
    const adv = e.fromArray(Float32Array.from(kept, (i) => advantages[i]), [kept.length], 'advantages');
    const cond = { context: rows(p.context, kept), pooled: rows(p.pooled, kept) };
    // Per trained step: the policy term, the KL (β > 0) and the reference's two diagnostics of how far the policy
    // moved since it sampled: approx_kl = ½·mean((log p − log p_old)²) and clipfrac = the share of samples whose
    // ratio is outside the clip range (both 0 on policy; later updates of a round see them rise).
    const totals: Record<Key, Tensor | null> = { policy_loss: null, kl: null, approx_kl: null, clipfrac: null };
    const accumulate = (key: Key, t: Tensor) => {
      const prev = totals[key];
      totals[key] = prev ? e.noGrad(() => addScaled(prev, t, 1)) : t;
    };
    // The update is the mean over trained steps of each step's loss (the reference accumulates one backward per
    // step); each step's graph is freed after its backward.
    for (const j of steps) {
      const t = s.transitions[j];
      const x = rows(p.states[j], kept);
      const xNext = rows(p.states[j + 1], kept);
      const logpOld = rows(p.logProbs[j]!, kept);
      const v = guidedVelocity(ctx, x, t.sigma, cond, cfg.sample_guidance_scale, guided && cfg.train_cfg);
      const coefs = new Array(kept.length).fill(t.coefs);
      const mu = applyStep(e, x, v, null, coefs);
      const logp = transitionLogProb(mu, xNext, t);
      let loss = mean(clippedPolicyLoss(logp, logpOld, adv, cfg.train_clip_range));
      accumulate('policy_loss', loss.detach());
      e.noGrad(() => {
        const moved = logp.detach();
        accumulate('approx_kl', scale(mean(square(sub(moved, logpOld))), 0.5));
        accumulate('clipfrac', mean(ratioOutsideClip(moved, logpOld, cfg.train_clip_range)));
      });
      if (cfg.train_beta > 0 && t.g > 0) {
        // KL to the base: the same CFG step with the trained LoRA left out, without gradient.
        const base = ctx.reference ?? [];
        const muRef = e.noGrad(() => applyStep(e, x, guidedVelocity(ctx, x, t.sigma, cond, cfg.sample_guidance_scale, guided && cfg.train_cfg, base), null, coefs));
        const klStep = scale(mean(perSampleMse(mu, muRef)), 1 / (2 * t.g * t.g));
        accumulate('kl', klStep.detach());
        loss = addScaled(loss, klStep, cfg.train_beta);
      }
      backward(scale(loss, weight / steps.length));
    }
    const n = steps.length;
    return {
      weight,
      avg: e.noGrad(() => {
        const avg = (k: Key) => (totals[k] ? scale(totals[k]!, 1 / n) : null);
        return { policy_loss: avg('policy_loss')!, kl: avg('kl'), approx_kl: avg('approx_kl'), clipfrac: avg('clipfrac') };
      }),
    };
  });
  const scalars = partScalars.length === 1 ? partScalars[0].avg : e.noGrad(() => {
    // The parts' means weighed by their shares of the trained samples (a part without a KL adds 0 to it).
    const weighed = (k: Key) => partScalars.reduce<Tensor | null>((acc, { weight, avg }) => {
      const v = avg[k];
      if (!v) return acc;
      return acc ? addScaled(acc, v, weight) : scale(v, weight);
    }, null);
    return { policy_loss: weighed('policy_loss')!, kl: weighed('kl'), approx_kl: weighed('approx_kl'), clipfrac: weighed('clipfrac') };
  });
  const total = e.noGrad(() => (scalars.kl ? addScaled(scalars.policy_loss, scalars.kl, cfg.train_beta) : scale(scalars.policy_loss, 1)));
  return { loss: total, scalars, counts, groups: p.groups };
}

const int = (c: TrainConfig, k: keyof TrainConfig, min: number, errs: string[]) => {
  const v = c[k] as number;
  if (!Number.isInteger(v) || v < min) errs.push(`${k} must be an integer ≥ ${min}, got ${v}`);
};
const num = (c: TrainConfig, k: keyof TrainConfig, min: number, max: number, errs: string[]) => {
  const v = c[k] as number;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) errs.push(`${k} must be a number in [${min}, ${max}], got ${v}`);
};

export const grpoInfo: MethodInfo = {
  id: 'grpo',
  label: 'Flow-GRPO',
  summary: 'Online RL: sample groups per prompt with an SDE sampler, reward them with the evaluator, and push toward the better ones.',
  defaults: GRPO_DEFAULTS,
  validate(c) {
    const errs: string[] = [];
    int(c, 'sample_num_steps', 1, errs);
    num(c, 'sample_guidance_scale', 0, 50, errs);
    num(c, 'sample_noise_level', 0, 2, errs);
    if (c.sample_sde_type !== 'sde' && c.sample_sde_type !== 'cps') errs.push('sample_sde_type must be sde or cps');
    int(c, 'sample_sde_window_size', 0, errs);
    const range = c.sample_sde_window_range;
    if (!Array.isArray(range) || range.length !== 2 || !range.every(Number.isInteger) || range[0] < 0 || range[1] <= range[0]) {
      errs.push(`sample_sde_window_range must be two step indices [start, end) with 0 ≤ start < end, got ${JSON.stringify(range)}`);
    } else if (c.sample_sde_window_size > 0 && Math.min(range[1], c.sample_num_steps) - range[0] < c.sample_sde_window_size) {
      errs.push(`sample_sde_window_size ${c.sample_sde_window_size} does not fit in sample_sde_window_range [${range[0]}, ${Math.min(range[1], c.sample_num_steps)}) of the ${c.sample_num_steps} sampling steps: make the window smaller or the range wider`);
    }
    int(c, 'sample_num_image_per_prompt', 2, errs);
    if (typeof c.sample_same_latent !== 'boolean') errs.push('sample_same_latent must be true or false');
    if (typeof c.sample_global_std !== 'boolean') errs.push('sample_global_std must be true or false');
    num(c, 'train_clip_range', 0, 1, errs);
    num(c, 'train_adv_clip_max', 0, 100, errs);
    num(c, 'train_beta', 0, 100, errs);
    num(c, 'train_timestep_fraction', 0, 1, errs);
    int(c, 'sample_num_batches_per_epoch', 0, errs);
    int(c, 'train_num_inner_epochs', 1, errs);
    const nb = c.sample_num_batches_per_epoch;
    if (Number.isInteger(nb) && nb > 0 && Number.isInteger(c.gradient_accumulation_steps) && nb % c.gradient_accumulation_steps !== 0) {
      errs.push(`sample_num_batches_per_epoch ${nb} is not a multiple of gradient_accumulation_steps ${c.gradient_accumulation_steps}: each update trains gradient_accumulation_steps of a round's micro-batches, so a round must split into whole updates (0: one update per round)`);
    }
    if (typeof c.train_cfg !== 'boolean') errs.push('train_cfg must be true or false');
    else if (!c.train_cfg && c.sample_guidance_scale !== 1) errs.push('train_cfg false trains the policy without guidance: set sample_guidance_scale to 1 too (the reference fast_nocfg recipe), or sampling and training would follow different policies');
    if (c.sample_noise_level === 0) errs.push('sample_noise_level must be > 0: with 0 the sampler is deterministic and has no log-probability to train');
    try {
      rewardOf(c.reward_fn);
    } catch (err) {
      errs.push((err as Error).message);
    }
    if (c.train_mode !== 'lora') errs.push('Flow-GRPO trains a LoRA (train_mode "lora"): the base is the KL reference');
    return errs;
  },
  passes(cfg, batch) {
    const G = batch * cfg.sample_num_image_per_prompt;
    const cfgMul = cfg.sample_guidance_scale !== 1 ? 2 : 1;
    const trained = cfg.sample_sde_window_size > 0 ? cfg.sample_sde_window_size : Math.max(1, Math.floor(cfg.sample_num_steps * cfg.train_timestep_fraction));
    const trainMul = cfg.sample_guidance_scale !== 1 && cfg.train_cfg ? 2 : 1;
    // A round is sampled once and trained train_num_inner_epochs times: per trained micro-batch, its sampling
    // is that share of a round's.
    const passes = [
      { what: 'sampling (no grad)', batch: G * cfgMul, backward: false, count: cfg.sample_num_steps / cfg.train_num_inner_epochs },
      { what: 'policy (trained steps)', batch: G * trainMul, backward: true, count: trained },
    ];
    if (cfg.train_beta > 0) passes.push({ what: 'reference policy (KL, no grad)', batch: G * trainMul, backward: false, count: trained });
    return passes;
  },
  metrics: [
    { key: 'reward_mean', title: 'Reward', hint: 'mean over the sampled groups' },
    { key: 'reward_max', title: 'Best reward', hint: "the step's best sample" },
    { key: 'reward_std', title: 'Reward spread', hint: 'std over the samples' },
    { key: 'policy_loss', title: 'Policy loss', hint: 'clipped ratio objective' },
    { key: 'kl', title: 'KL to base', hint: 'train_beta weighs it' },
    { key: 'clipfrac', title: 'Clipped fraction', hint: 'ratios outside the clip range (0 on policy)' },
    { key: 'approx_kl', title: 'Policy moved', hint: '½·mean(Δ log p²) since sampling' },
  ],
  formFields: [
    { key: 'sample_num_image_per_prompt', label: 'Group size', hint: 'images per prompt' },
    { key: 'sample_num_steps', label: 'Sampling steps', hint: 'fewer for training than evaluation' },
    { key: 'sample_noise_level', label: 'Noise level a', hint: "the SDE's exploration", step: 'any' },
    { key: 'sample_guidance_scale', label: 'Guidance', step: 'any' },
    { key: 'train_beta', label: 'β, KL weight', hint: '0: no KL', step: 'any' },
    { key: 'reward_fn', label: 'Reward', hint: 'geneval: the evaluator (built-in captions)', options: ['geneval', 'redness'] },
    { key: 'train_clip_range', label: 'Clip range', step: 'any', advanced: true },
    { key: 'train_adv_clip_max', label: 'Advantage clip', step: 'any', advanced: true },
    { key: 'sample_sde_window_size', label: 'SDE window (Fast)', hint: '0 = SDE at every step', advanced: true },
    { key: 'train_timestep_fraction', label: 'Trained step fraction', step: 'any', advanced: true },
    { key: 'sample_sde_type', label: 'SDE type', options: ['sde', 'cps'], advanced: true },
    { key: 'sample_num_batches_per_epoch', label: 'Batches per round', hint: 'sampled before updating; 0 = one update per round', advanced: true },
    { key: 'train_num_inner_epochs', label: 'Passes per round', hint: 'inner epochs over the sampled round', advanced: true },
  ],
  round(cfg) {
    return { batches: cfg.sample_num_batches_per_epoch || cfg.gradient_accumulation_steps, passes: cfg.train_num_inner_epochs };
  },
};

export const grpo: TrainingMethod<GrpoStep> = { ...grpoInfo, prepare, joinRound, step };
