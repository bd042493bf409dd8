// The identities of soar-spec §7, and the properties of a SOAR step: lambda = 0 is SFT exactly, the gradient of
// a step equals the sum of its separately backpropagated items, and a step is reproducible from its seed.
import { concatFloats } from '../../src/codec/concat';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/config';
import { MMDiT } from '../../src/model/mmdit';
import { LoraSet } from '../../src/model/lora';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { applyStep, stepCoefficients } from '../../src/train/rollout';
import { auxPoint, rolloutSigma, shiftSigma } from '../../src/train/schedule';
import { trainStep } from '../../src/train/methods';
import { reNoise, type Batch, type Unconditional } from '../../src/train/step';
import { lerp, sub } from '../../src/tensor/ops/elementwise';
import { Rng } from '../../src/tensor/ops/rng';
import { zeroGrad } from '../../src/tensor/autograd';
import type { Engine } from '../../src/tensor/engine';
import { expectClose, getEngine, rand } from '../tensor/harness';

const tiny = PRESETS.tiny.config;
const TOL = { atol: 2e-6, rtol: 1e-5 };

function z0z1(e: Engine, B: number) {
  const shape = [B, 3, 4, 4];
  const n = B * 48;
  return { z0: e.fromArray(rand(n, 1), shape, 'z0'), z1: e.fromArray(rand(n, 2), shape, 'z1'), shape };
}

describe('SOAR identities (soar-spec §7)', () => {
  it('(i) with an oracle v_cfg = z1 − z0 every v_corr equals z1 − z0; (ii) z\' − sigma\'·v_corr = z0', async () => {
    const e = await getEngine();
    const B = 3;
    const { z0, z1 } = z0z1(e, B);
    const t0 = [0.9, 0.5, 0.02];
    const s0 = t0.map((t) => shiftSigma(t, 3));
    const s1 = Float32Array.from(t0.map((t) => rolloutSigma(t, 40, 3)));
    const { items, oracle } = e.scope(() => {
      const zs0 = lerp(z0, z1, e.fromArray(s0, [B]));
      const oracle = sub(z1, z0);
      const state = applyStep(e, zs0, oracle, null, s0.map((s, b) => stepCoefficients('euler', s, s1[b])));
      return { items: reNoise(e, [{ state, samples: [0, 1, 2] }], z0, z1, s1, 4, new Rng(5)), oracle };
    });
    const targets = await items.target.toArray();
    const v = await oracle.toArray();
    const expected = new Float32Array(targets.length);
    for (let k = 0; k < 4; k++) expected.set(v, k * v.length);
    expectClose(targets, expected, { atol: 5e-5, rtol: 1e-4 }, 'v_corr == z1 − z0 under an oracle rollout');

    // (ii) x̂0 identity for every item: z' − sigma'·v_corr == z0 (fp32 arithmetic on both sides).
    const zPrime = await items.z.toArray();
    const z0h = await z0.toArray();
    const n = v.length / B;
    const recon = new Float32Array(targets.length);
    const z0rep = new Float32Array(targets.length);
    items.samples.forEach((b, i) => {
      for (let j = 0; j < n; j++) {
        recon[i * n + j] = Math.fround(zPrime[i * n + j] - Math.fround(items.sigma[i] * targets[i * n + j]));
        z0rep[i * n + j] = z0h[b * n + j];
      }
    });
    expectClose(recon, z0rep, { atol: 1e-5, rtol: 1e-5 }, "z' − sigma'·v_corr == z0");
  });

  it('(iv) sigma\' lies in [sigma1, 1) and alpha == u; the boundary clamps sigma\' away from 0', () => {
    for (const s1 of [0, 0.003, 0.4, 0.99]) {
      for (const u of [0, 0.25, 0.5, 0.999999]) {
        const p = auxPoint(s1, u);
        expect(p.alpha).toBe(Math.fround(u));
        expect(p.sigma).toBeGreaterThanOrEqual(Math.max(Math.fround(s1), 1e-3) - 1e-7);
        expect(p.sigma).toBeLessThan(1 + 1e-7);
        // alpha is u exactly; sigma' reproduces it up to float32 rounding of sigma' (ulp(1)/(1 − sigma1)).
        if (s1 > 0) expect(Math.abs((p.sigma - s1) / (1 - s1) - u)).toBeLessThan(1e-7 / (1 - s1));
      }
    }
    expect(auxPoint(0, 0).sigma).toBe(Math.fround(1e-3));
    expect(rolloutSigma(0.01, 40, 3)).toBe(0);
  });

  it('(v) Euler sign: one step from z_sigma with v = z1 − z0 lands on the ideal z at sigma1', async () => {
    const e = await getEngine();
    const B = 2;
    const { z0, z1 } = z0z1(e, B);
    const s0 = [0.8, 0.3];
    const s1 = [0.7, 0.25];
    const [stepped, ideal] = e.scope(() => {
      const zs = lerp(z0, z1, e.fromArray(s0, [B]));
      return [applyStep(e, zs, sub(z1, z0), null, s0.map((s, b) => stepCoefficients('euler', s, s1[b]))), lerp(z0, z1, e.fromArray(s1, [B]))];
    });
    expectClose(await stepped.toArray(), await ideal.toArray(), { atol: 1e-6, rtol: 1e-5 }, 'Euler step');
  });

  it('stochastic steps: with no noise (a = 0) simple and flow_sde reduce to Euler; sde/cps keep the marginal coefficients', () => {
    const eu = stepCoefficients('euler', 0.6, 0.5);
    expect(stepCoefficients('simple', 0.6, 0.5, 0)).toEqual(eu);
    const fs = stepCoefficients('flow_sde', 0.6, 0.5, 0);
    expect(fs.z).toBe(1);
    expect(fs.v).toBeCloseTo(eu.v, 7);
    expect(fs.eps).toBe(0);
    // With v = z1 − z0 and z = (1−s0)z0 + s0·z1, sde gives (1 − s1)·z0 + s1·eps: the data coefficient is 1 − s1.
    const sde = stepCoefficients('sde', 0.6, 0.5);
    const z0coef = sde.z * (1 - 0.6) - sde.v; // coefficient of z0
    const z1coef = sde.z * 0.6 + sde.v; // coefficient of z1
    expect(z0coef).toBeCloseTo(0.5, 6);
    expect(z1coef).toBeCloseTo(0, 6);
    expect(sde.eps).toBeCloseTo(0.5, 6);
    const cps = stepCoefficients('cps', 0.6, 0.5, 0.5);
    const c0 = cps.z * 0.4 - cps.v;
    const c1 = cps.z * 0.6 + cps.v;
    expect(c0).toBeCloseTo(0.5, 6); // data coefficient 1 − sigma1
    expect(c1 ** 2 + cps.eps ** 2).toBeCloseTo(0.25, 6); // total noise variance sigma1²
  });
});

async function setup(e: Engine, B: number) {
  const model = MMDiT.init(e, tiny, 3);
  let k = 40;
  k += model.writeZeroInitLayers((n, i) => rand(n, 40 + i, -0.2, 0.2));
  const lora = LoraSet.create(e, 'l', tiny, { rank: 2, alpha: 2, targets: ['attn.to_q', 'attn.to_v', 'attn.to_out.0', 'attn.add_k_proj'] }, 4);
  for (const m of lora.modules.values()) e.gpu.write(m.B.buffer, Float32Array.from(rand(m.B.size, k++, -0.1, 0.1)));
  model.adapters = [lora];
  const batch: Batch = {
    z0: e.keep(e.fromArray(rand(B * 3 * 64, 7), [B, 3, 8, 8], 'z0')),
    context: e.keep(e.fromArray(rand(B * 4 * 32, 8), [B, 4, 32], 'ctx')),
    pooled: e.keep(e.fromArray(rand(B * 32, 9), [B, 32], 'pooled')),
  };
  const uncond: Unconditional = {
    context: e.keep(e.fromArray(rand(4 * 32, 10), [1, 4, 32], 'ctx0')),
    pooled: e.keep(e.fromArray(rand(32, 11), [1, 32], 'pooled0')),
  };
  return { model, lora, batch, uncond };
}

async function grads(lora: LoraSet): Promise<Float32Array> {
  return concatFloats(await Promise.all(lora.parameters().map((p) => p.grad!.toArray())));
}

async function runStep(e: Engine, env: Awaited<ReturnType<typeof setup>>, cfg: TrainConfig, seed: number) {
  zeroGrad(env.lora.parameters());
  const r = e.scope(() => {
    const s = trainStep(env.model, env.batch, env.uncond, cfg, new Rng(seed));
    return { loss: s.loss, main: s.lossMain, nAux: s.nAux };
  });
  return { loss: await r.loss.item(), main: await r.main.item(), nAux: r.nAux, grads: await grads(env.lora) };
}

describe('SOAR training step', () => {
  const soar: TrainConfig = { ...DEFAULT_TRAIN, method: 'soar', trajectory_length: 3, num_sampling_steps: 10, cfg_scale_sampling: 3 };

  it('(iii) lambda_aux = 0 reproduces the SFT loss and gradients exactly', async () => {
    const e = await getEngine();
    const env = await setup(e, 2);
    const sft = await runStep(e, env, { ...soar, method: 'sft' }, 21);
    const zero = await runStep(e, env, { ...soar, lambda_aux: 0 }, 21);
    expect(zero.loss).toBe(sft.loss);
    expect(zero.nAux).toBe(0);
    expectClose(zero.grads, sft.grads, { atol: 0, rtol: 0 }, 'gradients');
    expect(sft.loss).toBe(sft.main); // SFT: loss = mean main term
  });

  it('a SOAR step is the normalised sum of its items: one aux chunk or one item at a time give the same gradient', async () => {
    const e = await getEngine();
    const env = await setup(e, 2);
    const whole = await runStep(e, env, soar, 33);
    const itemwise = await runStep(e, env, { ...soar, aux_micro_batch: 1 }, 33);
    expect(whole.nAux).toBe(2 * 3);
    expect(Math.abs(whole.loss - itemwise.loss)).toBeLessThan(1e-6);
    expectClose(itemwise.grads, whole.grads, TOL, 'gradient, item by item vs all at once');
    // And the SOAR gradient is not the SFT one: the aux items contribute.
    const sft = await runStep(e, env, { ...soar, method: 'sft' }, 33);
    expect(Math.max(...whole.grads.map((g, i) => Math.abs(g - sft.grads[i])))).toBeGreaterThan(1e-5);
  });

  it('caption dropout empties the captions of the whole step, aux forwards included (reference L472-475)', async () => {
    const e = await getEngine();
    const env = await setup(e, 2);
    // The draw always fires at rate 1; the RNG stream is the same at rate 0, so only the captions differ.
    const dropped = await runStep(e, env, { ...soar, cond_dropout_rate: 1 }, 17);
    const [ctx0, pooled0] = [await env.uncond.context.toArray(), await env.uncond.pooled.toArray()];
    const emptyBatch: Batch = {
      z0: env.batch.z0,
      context: e.keep(e.fromArray(concatFloats([ctx0, ctx0]), env.batch.context.shape, 'ctx_empty')),
      pooled: e.keep(e.fromArray(concatFloats([pooled0, pooled0]), env.batch.pooled.shape, 'pooled_empty')),
    };
    const empty = await runStep(e, { ...env, batch: emptyBatch }, { ...soar, cond_dropout_rate: 0 }, 17);
    expect(dropped.nAux).toBe(2 * 3);
    expect(dropped.loss).toBe(empty.loss);
    expectClose(dropped.grads, empty.grads, { atol: 0, rtol: 0 }, 'dropped step vs the same step on empty captions');
    // And dropout does change the step: the captioned batch gives another loss.
    const kept = await runStep(e, env, { ...soar, cond_dropout_rate: 0 }, 17);
    expect(kept.loss).not.toBe(dropped.loss);
  });

  it('is reproducible from the seed, and extra stochastic paths add K items per non-boundary sample', async () => {
    const e = await getEngine();
    const env = await setup(e, 2);
    const a = await runStep(e, env, soar, 9);
    const b = await runStep(e, env, soar, 9);
    expect(b.loss).toBe(a.loss);
    expectClose(b.grads, a.grads, { atol: 0, rtol: 0 }, 'same seed, same gradient');
    const c = await runStep(e, env, soar, 10);
    expect(c.loss).not.toBe(a.loss);
    for (const type of ['simple', 'sde', 'flow_sde', 'cps'] as const) {
      const p = await runStep(e, env, { ...soar, num_rollout_paths: 2, sde_rollout_type: type }, 9);
      expect(p.nAux).toBeGreaterThan(a.nAux);
      expect(p.nAux).toBeLessThanOrEqual(2 * a.nAux);
      expect(Number.isFinite(p.loss)).toBe(true);
    }
  });
});
