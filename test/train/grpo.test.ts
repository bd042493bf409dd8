// Flow-GRPO (docs/methods.md, "Flow-GRPO"): the SDE transition against a float64 reference, the spec's
// identities (log p at the mean, CPS, on-policy ratio 1, KL 0 at a fresh adapter), group advantages by hand,
// and, on `tiny` with a toy reward, sampling rounds (advantages over the round, each pass's reshuffled
// micro-batches, exact resume in the middle of a pass) and a fixed-seed run whose reward rises.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { groupAdvantages, grpo, roundAdvantages, transitionLogProb, transitions, trainedSteps, type GrpoPrepared } from '../../src/train/methods/grpo';
import { passBatches } from '../../src/train/round';
import { applyStep } from '../../src/train/rollout';
import { Trainer, type StepMetrics } from '../../src/train/trainer';
import { tinyWorld } from './tiny-world';
import { expectClose, f32, getEngine, rand } from '../tensor/harness';

const GRPO: TrainConfig = {
  ...DEFAULT_TRAIN,
  method: 'grpo',
  train_batch_size: 2,
  sample_num_image_per_prompt: 4,
  sample_num_steps: 4,
  sample_sde_window_range: [0, 4],
  learning_rate: 2e-2,
  rank: 2,
  lora_alpha: 2,
  max_train_steps: 24,
  checkpointing_steps: 1000,
  validation_steps: 1000,
};

const world = tinyWorld;

/** Float64 SDE step of the reference (sd3_sde_with_logprob.py, 'sde'): mean, std and mean log-density. */
function sdeRef(x: Float64Array, v: Float64Array, xNext: Float64Array, sigma: number, next: number, a: number, sigmaMax: number) {
  const dt = next - sigma;
  const g = a * Math.sqrt(sigma / (1 - (sigma === 1 ? sigmaMax : sigma)));
  const mu = x.map((xi, i) => xi * (1 + (g * g * dt) / (2 * sigma)) + v[i] * (1 + (g * g * (1 - sigma)) / (2 * sigma)) * dt);
  const s = g * Math.sqrt(-dt);
  const logp = xNext.reduce((acc, xn, i) => acc - (xn - mu[i]) ** 2 / (2 * s * s) - Math.log(s) - 0.5 * Math.log(2 * Math.PI), 0) / x.length;
  return { mu, s, logp };
}

describe('Flow-GRPO: the SDE transition', () => {
  it('mean, std and log-probability match the float64 reference at every step of the grid', async () => {
    const e = await getEngine();
    const cfg = { ...GRPO, sample_num_steps: 10, shift: 3 };
    const steps = transitions(cfg, new Set([...Array(10).keys()]));
    const sigmaMax = steps[1].sigma;
    const n = 2 * 3 * 4 * 4;
    for (const [i, t] of steps.entries()) {
      const x = f32(rand(n, 100 + i));
      const v = f32(rand(n, 200 + i));
      const ref = sdeRef(x.subarray(0, n / 2), v.subarray(0, n / 2), f32(rand(n / 2, 300 + i)), t.sigma, t.next, cfg.sample_noise_level, sigmaMax);
      const xNext = f32(rand(n, 300 + i)); // first sample's next state is the one above
      const mu = applyStep(e, e.fromArray(x, [2, 3, 4, 4]), e.fromArray(v, [2, 3, 4, 4]), null, [t.coefs, t.coefs]);
      expectClose((await mu.toArray()).subarray(0, n / 2), ref.mu, { atol: 1e-5, rtol: 1e-5 }, `mu step ${i}`);
      expect(t.coefs.eps).toBeCloseTo(ref.s, 6);
      const logp = await transitionLogProb(mu, e.fromArray(xNext, [2, 3, 4, 4]), t).toArray();
      expect(logp[0]).toBeCloseTo(ref.logp, 3);
    }
    // The first step's std is exactly the noise level (sigma_max = the grid's second level).
    expect(transitions({ ...cfg, shift: 1 }, new Set([0]))[0].coefs.eps).toBeCloseTo(cfg.sample_noise_level, 5);
  });

  it("log p at the mean is −log s − ½·log 2π ('sde') and 0 ('cps'); a noise level of 0 is the Euler step", async () => {
    const e = await getEngine();
    const [t] = transitions({ ...GRPO, sample_num_steps: 4 }, new Set([1])).slice(1);
    const mu = e.fromArray(f32(rand(32, 5)), [2, 16]);
    const lp = await transitionLogProb(mu, mu, t).toArray();
    for (const v of lp) expect(v).toBeCloseTo(-Math.log(t.coefs.eps) - 0.5 * Math.log(2 * Math.PI), 5);
    const [, c] = transitions({ ...GRPO, sample_num_steps: 4, sample_sde_type: 'cps' }, new Set([1]));
    expect([...(await transitionLogProb(mu, mu, c).toArray())]).toEqual([-0, -0]);
    const [, ode] = transitions({ ...GRPO, sample_num_steps: 4, sample_noise_level: 0 }, new Set([1]));
    expect(ode.kind).toBe('ode');
    expect(ode.coefs).toEqual({ z: 1, v: Math.fround(ode.next - ode.sigma), eps: 0 });
  });

  it('Fast trains its window only; the full method the first N·timestep_fraction steps', () => {
    expect(trainedSteps({ ...GRPO, sample_num_steps: 10, train_timestep_fraction: 0.99 }, 0.5).trained).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const fast = trainedSteps({ ...GRPO, sample_num_steps: 10, sample_sde_window_size: 3, sample_sde_window_range: [0, 5] }, 0.999);
    expect(fast.trained).toEqual([2, 3, 4]);
    expect([...fast.stochastic]).toEqual([2, 3, 4]);
  });
});

describe('Flow-GRPO: advantages', () => {
  it('normalise within each prompt with the global std; tied groups get 0; clipped', () => {
    const r = [1, 0, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2];
    const groups = [0, 0, 0, 0, 1, 1, 1, 1];
    const a = groupAdvantages(r, groups, true, 5);
    const mean = r.reduce((s, x) => s + x, 0) / 8;
    const std = Math.sqrt(r.reduce((s, x) => s + (x - mean) ** 2, 0) / 8) + 1e-4;
    expect(a[0]).toBeCloseTo((1 - 0.5) / std, 12);
    expect(a[1]).toBeCloseTo((0 - 0.5) / std, 12);
    expect(a[0] + a[1] + a[2] + a[3]).toBeCloseTo(0, 12);
    expect([...a.slice(4)]).toEqual([0, 0, 0, 0]);
    expect(Math.max(...groupAdvantages([1, 0, 0, 0], [0, 0, 0, 0], false, 1))).toBe(1);
  });
});

describe('Flow-GRPO: training on tiny', () => {
  it('on policy the ratio is 1 (policy loss = −mean A over trained samples), and KL to a fresh adapter is 0', async () => {
    const e = await getEngine();
    const w = await world(e);
    const t = await Trainer.create(e, w.model, w.cache, w.data, { ...GRPO, reward_fn: 'redness', train_beta: 0.04, max_train_steps: 1 });
    let adv: Float64Array | null = null;
    const { metrics } = await t.trainStep({ capture: (r) => (adv = (r as unknown as { groups: { advantages: Float64Array } }).groups.advantages) });
    const m = await metrics;
    const kept = [...adv!].filter((a) => a !== 0);
    expect(kept.length).toBeGreaterThan(0);
    expect(m.policy_loss as number).toBeCloseTo(-kept.reduce((s, a) => s + a, 0) / kept.length, 4);
    expect(m.kl).toBe(0);
    expect(m.reward_mean as number).toBeGreaterThan(0);
    t.release();
  }, 300_000);

  it('resumes exactly from a checkpoint: the same groups, rewards and losses as not stopping', async () => {
    const e = await getEngine();
    const cfg: TrainConfig = { ...GRPO, reward_fn: 'redness', sample_num_steps: 3, sample_sde_window_size: 1, sample_sde_window_range: [0, 3], sample_guidance_scale: 1, train_cfg: false, max_train_steps: 2 };
    const w = await world(e);
    const straight = await Trainer.create(e, w.model, w.cache, w.data, cfg);
    await straight.run();
    const want = straight.history.map((h) => [h.loss, h.reward_mean]);
    straight.release();
    const first = await Trainer.create(e, w.model, w.cache, w.data, cfg);
    await first.run(1);
    const ck = await first.checkpoint();
    first.release();
    const resumed = await Trainer.create(e, w.model, w.cache, w.data, cfg);
    resumed.restore(ck);
    await resumed.run();
    expect(resumed.history.map((h) => [h.loss, h.reward_mean])).toEqual(want);
    resumed.release();
  }, 300_000);

  // The reference's off-policy updates: a round of sampled micro-batches, trained by several updates.
  const ROUNDS: TrainConfig = { ...GRPO, reward_fn: 'redness', sample_num_steps: 3, sample_sde_window_size: 1, sample_sde_window_range: [0, 3], sample_guidance_scale: 1, train_cfg: false };

  /** What each micro-batch step was given (the spy calls through to the method's step). */
  function spyOnSteps(): GrpoPrepared[] {
    const seen: GrpoPrepared[] = [];
    const original = grpo.step;
    vi.spyOn(grpo, 'step').mockImplementation((batch, cfg, ctx) => {
      seen.push(ctx.prepared as GrpoPrepared);
      return original(batch, cfg, ctx);
    });
    return seen;
  }
  afterEach(() => vi.restoreAllMocks());

  it("a round's later updates train on an older policy's samples: ratio ≠ 1, and the clip holds some of them", async () => {
    const e = await getEngine();
    const w = await world(e);
    // 2 micro-batches per round, one per update, 2 passes: 4 updates per round; then the next round.
    const cfg: TrainConfig = { ...ROUNDS, sample_num_batches_per_epoch: 2, train_num_inner_epochs: 2, max_train_steps: 5 };
    const seen = spyOnSteps();
    const t = await Trainer.create(e, w.model, w.cache, w.data, cfg);
    await t.run(4);
    expect((await t.checkpoint()).round, 'at a round boundary a checkpoint holds no round').toBeUndefined();
    await t.run();
    const h = t.history;
    console.log(h.map((m) => `step ${m.step}: approx_kl ${(m.approx_kl as number).toExponential(2)}, clipfrac ${m.clipfrac}, policy_loss ${(m.policy_loss as number).toFixed(5)}`).join('\n'));
    // The first update of a round is on policy (ratio 1 up to f32: nothing past the clip range 1e-4) ...
    for (const m of [h[0], h[4]]) {
      expect(m.approx_kl as number).toBeLessThan(1e-12);
      expect(m.clipfrac).toBe(0);
    }
    // ... the others train what the policy before them sampled: the ratio departs from 1 and the clip acts.
    for (const m of h.slice(1, 4)) {
      expect(m.approx_kl as number).toBeGreaterThan(1e-10);
      expect(m.clipfrac as number).toBeGreaterThan(0);
    }
    // Each pass trains every one of the round's 16 samples once, re-batched in its own seeded order: the
    // round's micro-batches are not the sampled ones, and the second pass is not the first again.
    expect(seen.map((p) => p.samples)).toEqual([...passBatches(16, 2, cfg.seed, 0, 0), ...passBatches(16, 2, cfg.seed, 0, 1), passBatches(16, 2, cfg.seed, 4, 0)[0]]);
    for (const pass of [seen.slice(0, 2), seen.slice(2, 4)]) expect(pass.flatMap((p) => p.samples!).sort((a, b) => a - b)).toEqual([...Array(16).keys()]);
    expect(seen[0].samples).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(seen[2].samples).not.toEqual(seen[0].samples);
    expect(h[2].reward_mean).not.toBe(h[0].reward_mean);
    // A pass's micro-batches together hold the round: the same mean reward in both passes.
    expect(((h[2].reward_mean as number) + (h[3].reward_mean as number)) / 2).toBeCloseTo(((h[0].reward_mean as number) + (h[1].reward_mean as number)) / 2, 12);
    // The advantages are the round's: every prompt's group normalised with the std of all 16 rewards.
    const round = seen[0].groups;
    expect(round.rewards).toHaveLength(16);
    const prompts = round.rewards.map((_, i) => round.prompts[Math.floor(i / round.perPrompt)]);
    expect([...round.advantages]).toEqual([...roundAdvantages(prompts, round.rewards, true, cfg.train_adv_clip_max)]);
    const perBatch = [0, 8].flatMap((at) => [...groupAdvantages(round.rewards.slice(at, at + 8), [0, 0, 0, 0, 1, 1, 1, 1], true, cfg.train_adv_clip_max)]);
    expect([...round.advantages]).not.toEqual(perBatch);
    for (const p of seen.slice(0, 4)) expect(p.kept).toEqual(p.samples!.filter((i) => round.advantages[i] !== 0));
    t.release();
  }, 300_000);

  it("a micro-batch mixing samples of different Fast windows re-scores each at its own window: on policy, ratio 1", async () => {
    const e = await getEngine();
    const w = await world(e);
    // Two micro-batches per round, one per update, each micro-batch's window of 1 step drawn among 3: the round's
    // samples mix two windows in most rounds, and each update's micro-batch holds samples of both. A round's
    // first update is on policy.
    const cfg: TrainConfig = { ...ROUNDS, sample_num_batches_per_epoch: 2, max_train_steps: 6 };
    const seen = spyOnSteps();
    const t = await Trainer.create(e, w.model, w.cache, w.data, cfg);
    await t.run();
    const windows = (p: GrpoPrepared) => new Set(p.kept.map((i) => p.schedules?.of[i] ?? 0)).size;
    const onPolicy = [0, 2, 4];
    expect(onPolicy.filter((k) => windows(seen[k]) > 1).length, 'on-policy micro-batches training samples of two windows').toBeGreaterThan(0);
    for (const k of onPolicy) {
      const m = t.history[k];
      // A sample re-scored at another step than it was sampled at would move its ratio far from 1.
      expect(m.approx_kl as number, `step ${k + 1}`).toBeLessThan(1e-12);
      expect(m.clipfrac).toBe(0);
      // On policy the loss is −mean A over the micro-batch's trained samples (not 0: it holds parts of groups),
      // whichever window each was drawn with.
      const p = seen[k];
      const want = -p.kept.reduce((s, i) => s + p.groups.advantages[i], 0) / p.kept.length;
      expect(Math.abs(want)).toBeGreaterThan(1e-3);
      expect(m.policy_loss as number).toBeCloseTo(want, 4);
    }
    t.release();
  }, 300_000);

  it('resumes exactly in the middle of a round, at a pass boundary and in the middle of a later pass: the round is sampled again with the policy that sampled it, each pass re-batched as before', async () => {
    const e = await getEngine();
    const w = await world(e);
    const cfg: TrainConfig = { ...ROUNDS, sample_num_batches_per_epoch: 2, train_num_inner_epochs: 2, max_train_steps: 5 };
    const key = (h: StepMetrics) => [h.loss, h.reward_mean, h.approx_kl, h.clipfrac, h.grad_norm];
    const straight = await Trainer.create(e, w.model, w.cache, w.data, cfg);
    await straight.run();
    const want = straight.history.map(key);
    straight.release();
    // Step 2 begins the round's second pass; step 3 is its second micro-batch.
    for (const stop of [2, 3]) {
      const first = await Trainer.create(e, w.model, w.cache, w.data, cfg);
      await first.run(stop);
      // As the studio keeps it (IndexedDB clones the object).
      const ck = structuredClone(await first.checkpoint());
      expect(ck.round?.step).toBe(0);
      expect(Object.keys(ck.round!.tensors).sort()).toEqual(Object.keys(ck.tensors).sort());
      first.release();
      const resumed = await Trainer.create(e, w.model, w.cache, w.data, cfg);
      resumed.restore(ck);
      await resumed.run();
      expect(resumed.history.map(key), `stopped after step ${stop}`).toEqual(want);
      resumed.release();
    }
  }, 300_000);

  // The default (one on-policy update per round), and the reference's shape: 2 updates per round, the second off policy.
  it.each([
    ['one update per round', {}],
    ['two updates per round', { sample_num_batches_per_epoch: 2 }],
  ] as const)('raises a toy reward (the red channel) over a few dozen steps, from a fixed seed: %s', async (what, extra) => {
    const e = await getEngine();
    const w = await world(e);
    // Flow-GRPO-Fast without guidance (the reference's fast_nocfg shape), kept small for a software adapter.
    const cfg: TrainConfig = { ...GRPO, reward_fn: 'redness', sample_num_steps: 3, sample_sde_window_size: 2, sample_sde_window_range: [0, 3], sample_guidance_scale: 1, train_cfg: false, max_train_steps: 30, ...extra };
    const t = await Trainer.create(e, w.model, w.cache, w.data, cfg);
    await t.run();
    const r = t.history.map((h) => h.reward_mean as number);
    const first = r.slice(0, 5).reduce((s, x) => s + x, 0) / 5;
    const last = r.slice(-5).reduce((s, x) => s + x, 0) / 5;
    console.log(`Flow-GRPO on tiny, redness reward, ${what}: ${first.toFixed(4)} over the first 5 steps -> ${last.toFixed(4)} over the last 5 (${r.length} steps)`);
    expect(last).toBeGreaterThan(first + 0.05);
    t.release();
  }, 300_000);
});
