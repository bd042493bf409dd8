// Flow-GRPO's gradient through the whole model on `tiny`: for one fixed sampled group (its noise, its states and
// its sampling-time log-probabilities kept, as the reference stores them), the engine's backward of the
// objective (the clipped ratio term through both CFG branches, and β·KL to the base) against central differences
// of the same objective computed in float64 by the model's reference (src/model/reference.ts), as the suite's
// other whole-model checks do (test/model/reference.test.ts). The engine's own f32 objective could only resolve
// a difference of ~1e-7·|L|/h; the float64 one makes the finite difference exact to far below the tolerance,
// so what is left is the engine's f32 error alone. The engine's loss is checked against the float64 value too,
// so the two compute the same objective.
import { describe, expect, it } from 'vitest';
import { uploadEmbeddings } from '../../src/encode/cache';
import { ATTENTION_TARGETS, LoraSet } from '../../src/model/lora';
import { mmditForwardRef, type RefAdapters, type RefWeights } from '../../src/model/reference';
import { zeroGrad } from '../../src/tensor/autograd';
import { Rng } from '../../src/tensor/ops/rng';
import { clippedPolicyLossRef } from '../../src/tensor/reference/policy';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { grpo, type GrpoPrepared } from '../../src/train/methods/grpo';
import type { StepContext } from '../../src/train/methods/method';
import { timestepOf } from '../../src/train/schedule';
import { expectClose, getEngine, rand } from '../tensor/harness';
import { TINY, tinyWorld } from './tiny-world';

// Two prompts × 3 images, 3 sampling steps (2 trained), CFG 4.5 with the gradient through both branches.
const CFG: TrainConfig = { ...DEFAULT_TRAIN, method: 'grpo', reward_fn: 'redness', train_batch_size: 2, sample_num_image_per_prompt: 3, sample_num_steps: 3, sample_sde_window_range: [0, 3], rank: 2, lora_alpha: 4 };
const H = 1e-5; // central-difference step in float64: truncation ~H²·f''' and rounding ~1e-16/H, both ≪ the tolerance

/** The sampled group on the host in float64 (what the objective reads; it never changes while parameters move). */
interface HostGroup {
  states: Float64Array[];
  logProbs: Array<Float64Array | null>;
  context: Float64Array;
  pooled: Float64Array;
  uncond: { context: Float64Array; pooled: Float64Array };
  /** Advantages as the engine sees them (f32). */
  adv: Float64Array;
}

const rowsOf = (a: Float64Array, per: number, idx: readonly number[]) => {
  const out = new Float64Array(idx.length * per);
  idx.forEach((i, k) => out.set(a.subarray(i * per, (i + 1) * per), k * per));
  return out;
};

/** v with guidance (one reference forward of [uncond; cond]) for the kept samples at level sigma. */
function velocity64(w: RefWeights, g: HostGroup, kept: number[], x: Float64Array, sigma: number, adapters: RefAdapters, cfg: TrainConfig): Float64Array {
  const c = TINY.config;
  const n = kept.length;
  const T = g.uncond.context.length / c.joint_attention_dim;
  const ctx = rowsOf(g.context, g.uncond.context.length, kept);
  const pooled = rowsOf(g.pooled, g.uncond.pooled.length, kept);
  const guided = cfg.sample_guidance_scale !== 1 && cfg.train_cfg;
  const tile = (a: Float64Array, k: number) => {
    const out = new Float64Array(a.length * k);
    for (let i = 0; i < k; i++) out.set(a, i * a.length);
    return out;
  };
  const B = guided ? 2 * n : n;
  const cat = (u: Float64Array, v: Float64Array) => (guided ? Float64Array.from([...tile(u, n), ...v]) : v);
  const v = mmditForwardRef(c, w, {
    B, H: c.sample_size, W: c.sample_size, T,
    x: guided ? Float64Array.from([...x, ...x]) : x,
    timestep: new Float64Array(B).fill(timestepOf(sigma)),
    context: cat(g.uncond.context, ctx),
    pooled: cat(g.uncond.pooled, pooled),
  }, adapters);
  if (!guided) return v;
  const half = x.length;
  const ws = Math.fround(cfg.sample_guidance_scale);
  return Float64Array.from({ length: half }, (_, i) => v[i] + ws * (v[half + i] - v[i]));
}

/** The Flow-GRPO objective of one micro-batch in float64: the mean over trained steps of the clipped ratio term plus β·KL. */
function objective64(w: RefWeights, p: GrpoPrepared, g: HostGroup, adapters: RefAdapters, cfg: TrainConfig, ratios?: Array<{ r: number; a: number }>): number {
  const kept = p.kept;
  const per = g.states[0].length / g.adv.length;
  const steps = p.trained.filter((j) => p.logProbs[j] !== null);
  let total = 0;
  for (const j of steps) {
    const t = p.transitions[j];
    const x = rowsOf(g.states[j], per, kept);
    const xNext = rowsOf(g.states[j + 1], per, kept);
    const muOf = (ad: RefAdapters) => {
      const v = velocity64(w, g, kept, x, t.sigma, ad, cfg);
      return x.map((xi, i) => t.coefs.z * xi + t.coefs.v * v[i]);
    };
    const mu = muOf(adapters);
    const s = t.coefs.eps;
    const mse = (a: Float64Array, b: Float64Array, k: number) => a.subarray(k * per, (k + 1) * per).reduce((acc, ai, i) => acc + (ai - b[k * per + i]) ** 2, 0) / per;
    const logp = kept.map((_, k) => -mse(mu, xNext, k) / (2 * s * s) - Math.log(s) - 0.5 * Math.log(2 * Math.PI));
    const old = kept.map((i) => g.logProbs[j]![i]);
    ratios?.push(...logp.map((l, k) => ({ r: Math.exp(l - old[k]), a: g.adv[kept[k]] })));
    let loss = clippedPolicyLossRef(logp, old, kept.map((i) => g.adv[i]), cfg.train_clip_range).reduce((a, b) => a + b, 0) / kept.length;
    if (cfg.train_beta > 0 && t.g > 0) {
      const muRef = muOf(new Map()); // the base: the trained adapter left out
      loss += (cfg.train_beta * kept.reduce((acc, _, k) => acc + mse(mu, muRef, k), 0)) / kept.length / (2 * t.g * t.g);
    }
    total += loss;
  }
  return total / steps.length;
}

async function adapters64(lora: LoraSet): Promise<RefAdapters> {
  const out: RefAdapters = new Map();
  for (const m of lora.modules.values()) {
    out.set(m.name, [{ A: Float64Array.from(await m.A.toArray()), B: Float64Array.from(await m.B.toArray()), rank: lora.config.rank, scale: lora.scale }]);
  }
  return out;
}

/**
 * Samples a group with the LoRA as it is (`before` may change it first), optionally changes it again after
 * sampling (`after`: the policy has moved since, so the ratio departs from 1), then compares the engine's
 * gradient with finite differences of the float64 objective at a spread of LoRA entries.
 */
async function check(cfg: TrainConfig, opts: { after?: (lora: LoraSet) => void; pickClip?: boolean }) {
  const e = await getEngine();
  const w = await tinyWorld(e);
  w.model.setTrainable(false);
  const lora = LoraSet.create(e, 'grpo', TINY.config, { rank: cfg.rank, alpha: cfg.lora_alpha, targets: [...ATTENTION_TARGETS] }, 5);
  const modules = [...lora.modules.values()];
  // B starts at zero (the adapter leaves the base unchanged, A gets no gradient): make it non-zero, except in the
  // first module, whose B entries are checked at zero (their gradient is not zero there) and whose A gets none.
  modules.slice(1).forEach((m, k) => e.gpu.write(m.B.buffer, Float32Array.from(rand(m.B.size, 700 + k, -0.3, 0.3))));
  const captions = [0, 1].map((i) => w.data.example(i).caption);
  const u = await w.cache.unconditional();
  const J = TINY.config.joint_attention_dim;
  const uncond = { context: e.fromArray(u.context, [1, u.context.length / J, J], 'uncond.context'), pooled: e.fromArray(u.pooled, [1, u.pooled.length], 'uncond.pooled') };
  const emb = await w.cache.stacked(captions);
  const R = TINY.config.sample_size;
  const batch = { z0: e.zeros([2, TINY.config.in_channels, R, R]), ...uploadEmbeddings(e, emb) };
  const ctx: StepContext = { model: w.model, adapters: [lora], reference: [], uncond, rng: new Rng(11), capture: false, prompts: captions };
  const p = (await grpo.prepare!(batch, cfg, ctx)) as GrpoPrepared;
  opts.after?.(lora);
  const weights: RefWeights = new Map();
  for (const [name, t] of w.model.weights) weights.set(name, Float64Array.from(await t.toArray()));
  const host: HostGroup = {
    states: await Promise.all(p.states.map(async (s) => Float64Array.from(await s.toArray()))),
    logProbs: await Promise.all(p.logProbs.map(async (l) => (l ? Float64Array.from(await l.toArray()) : null))),
    context: Float64Array.from(await p.context.toArray()),
    pooled: Float64Array.from(await p.pooled.toArray()),
    uncond: { context: Float64Array.from(u.context), pooled: Float64Array.from(u.pooled) },
    adv: Float64Array.from(Float32Array.from(p.groups.advantages)),
  };
  expect(p.kept.length, 'samples with an advantage').toBeGreaterThan(1);
  const ad = await adapters64(lora);
  // Off policy, a clip range between the ratios' distances from 1, with a margin no finite difference crosses:
  // some samples train through the ratio, others sit past the clip (their gradient is exactly 0).
  if (opts.pickClip) {
    const ratios: Array<{ r: number; a: number }> = [];
    objective64(weights, p, host, ad, cfg, ratios);
    const d = ratios.map(({ r }) => Math.abs(r - 1)).sort((a, b) => a - b);
    let best = d.length >> 2; // the widest gap between consecutive distances in the middle half
    for (let i = best; i < (3 * d.length) >> 2; i++) if (d[i + 1] - d[i] > d[best + 1] - d[best]) best = i;
    const eps = (d[best] + d[best + 1]) / 2;
    cfg = { ...cfg, train_clip_range: eps };
    // Half the gap is ≫ the f32 ratio's error (~1e-6) and a finite difference's move (~1e-9): the engine and the
    // float64 objective clip the same samples, at every evaluation.
    expect(d[best + 1] - d[best], 'gap between ratios around the clip').toBeGreaterThan(1e-4);
    // Past the clip on the advantage's side the sample's term is a constant: its gradient is exactly 0.
    const flat = ratios.filter(({ r, a }) => (a > 0 && r > 1 + eps) || (a < 0 && r < 1 - eps)).length;
    console.log(`off policy: |ratio − 1| from ${d[0].toExponential(2)} to ${d.at(-1)!.toExponential(2)}, clip range ${eps.toExponential(2)}: ${d.length - best - 1} of ${d.length} beyond it, ${flat} on the advantage's side`);
    expect(flat, 'sample-steps whose clipped term is the max').toBeGreaterThan(0);
    expect(flat, 'sample-steps that still train').toBeLessThan(d.length);
  }
  zeroGrad(lora.parameters());
  const r = e.scope(() => grpo.step(batch, cfg, { ...ctx, prepared: p }));
  const engineLoss = await r.loss.item();
  const f = () => objective64(weights, p, host, ad, cfg);
  const f0 = f();
  // The same objective: the engine's f32 value against the float64 one.
  expect(Math.abs(engineLoss - f0), `engine loss ${engineLoss} vs float64 ${f0}`).toBeLessThan(1e-5 + 1e-4 * Math.abs(f0));
  const names: string[] = [];
  const got: number[] = [];
  const want: number[] = [];
  for (const [k, m] of modules.entries()) {
    if (k % 2 === 1 && k !== modules.length - 1) continue; // a spread of modules, the first and last among them
    const a64 = ad.get(m.name)![0];
    const gA = await m.A.grad!.toArray();
    const gB = await m.B.grad!.toArray();
    // One entry of A and one of B per module; the zero-B module's B twice.
    const picks: Array<['lora_A' | 'lora_B', Float64Array, Float32Array, number]> = [
      ['lora_A', a64.A, gA, (7 * k) % a64.A.length],
      ['lora_B', a64.B, gB, (5 * k + 1) % a64.B.length],
      ...(k === 0 ? [['lora_B', a64.B, gB, a64.B.length - 2] as ['lora_B', Float64Array, Float32Array, number]] : []),
    ];
    for (const [which, arr, g, i] of picks) {
      const v = arr[i];
      arr[i] = v + H;
      const fp = f();
      arr[i] = v - H;
      const fm = f();
      arr[i] = v;
      names.push(`${m.name}.${which}[${i}]`);
      got.push(g[i]);
      want.push((fp - fm) / (2 * H));
    }
  }
  const scale = Math.max(...want.map(Math.abs));
  console.log(`${names.length} entries, largest |gradient| ${scale.toExponential(2)}; largest |engine − fd| ${Math.max(...got.map((g, i) => Math.abs(g - want[i]))).toExponential(2)}`);
  expect(scale, 'the checked gradients are not all trivially zero').toBeGreaterThan(1e-4);
  // f32 (unit roundoff 6e-8) through ~30 ops deep with sums over a few hundred terms: ~1e-5 relative at most
  // per entry (1e-6 is what it shows). 1e-4 of the largest gradient as the floor (an entry near zero is a
  // difference of large terms), 1e-3 relative on top: a hundredfold margin, while a wrong term (a branch's
  // gradient missing, a factor of 2) is off by tens of percent.
  try {
    expectClose(got, want, { atol: 1e-4 * scale, rtol: 1e-3 }, 'engine gradient vs float64 finite differences');
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  entries: ${names.map((n, i) => `${i}=${n}`).join(', ')}`);
  }
  if (cfg.train_beta > 0) {
    // The KL term's share of the gradient is far above the tolerance, so a missing or wrong KL gradient shows.
    const noKl = { ...cfg, train_beta: 0 };
    const m = modules[2];
    const arr = ad.get(m.name)![0].B;
    const i = names.findIndex((n) => n.startsWith(`${m.name}.lora_B`));
    const j = Number(/\[(\d+)\]$/.exec(names[i])![1]);
    const v = arr[j];
    arr[j] = v + H;
    const fp = objective64(weights, p, host, ad, noKl);
    arr[j] = v - H;
    const fm = objective64(weights, p, host, ad, noKl);
    arr[j] = v;
    const klShare = Math.abs(want[i] - (fp - fm) / (2 * H));
    console.log(`β·KL's part of ${names[i]}'s gradient: ${klShare.toExponential(2)} of ${Math.abs(want[i]).toExponential(2)}`);
    expect(klShare).toBeGreaterThan(1e-2 * scale);
  }
  // The zero-B module: its A gets no gradient; its B does.
  const first = modules[0];
  expect(Math.max(...(await first.A.grad!.toArray()).map(Math.abs))).toBe(0);
  expect(Math.max(...(await first.B.grad!.toArray()).map(Math.abs))).toBeGreaterThan(0);
  for (const t of [...Object.values(batch), uncond.context, uncond.pooled, r.loss]) t.release();
  p.release();
  lora.release();
  w.model.release();
}

describe('Flow-GRPO: the gradient through the whole model', () => {
  it('on policy (ratio 1), β = 0: the engine backward matches finite differences of the float64 objective', async () => {
    await check({ ...CFG, train_clip_range: 0.2 }, {});
  }, 300_000);

  it('off policy with the clip acting on some samples, and β > 0 (KL to the base): the same', async () => {
    // β well above the recipe's 0.04, whose KL part of the gradient would be ~1% here (the tiny adapter moves
    // μ little from the base): at 2 it is a good share, so a missing or wrong KL gradient shows.
    await check({ ...CFG, train_beta: 2 }, {
      pickClip: true,
      after: (lora) => {
        // The policy moves after sampling, as the second update of a round sees it.
        [...lora.modules.values()].slice(1).forEach((m, k) => m.B.engine.gpu.write(m.B.buffer, Float32Array.from(rand(m.B.size, 900 + k, -0.3, 0.3))));
      },
    });
  }, 300_000);
});
