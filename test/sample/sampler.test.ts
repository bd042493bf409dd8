// Samplers on cases with a known answer: the straight-line oracle velocity v = z1 − z0 carries any Euler
// schedule from z1 exactly to z0; with guidance, identical branches change nothing; the trajectory's clean
// estimates are all z0 under the oracle.
import { describe, expect, it } from 'vitest';
import { sample, sigmaSchedule, type Conditioning } from '../../src/sample/sampler';
import { sub } from '../../src/tensor/ops/elementwise';
import { concat } from '../../src/tensor/ops/shape';
import { Rng } from '../../src/tensor/ops/rng';
import type { Tensor } from '../../src/tensor/tensor';
import { expectClose, getEngine, rand } from '../tensor/harness';

describe('samplers', () => {
  it('sigma schedule runs from 1 to exactly 0, shifted', () => {
    const s = sigmaSchedule(4, 3);
    expect(s[0]).toBe(1);
    expect(s[4]).toBe(0);
    expect(s[2]).toBeCloseTo(0.75, 6); // 3·0.5/(1 + 2·0.5)
    expect(s.every((v, i) => i === 0 || v < s[i - 1])).toBe(true);
  });

  it('Euler with an oracle velocity lands exactly on z0, with and without CFG, at any step count', async () => {
    const e = await getEngine();
    const shape = [2, 3, 4, 4];
    const z0 = e.keep(e.fromArray(rand(96, 3), shape, 'z0'));
    const z1 = e.keep(e.fromArray(rand(96, 4), shape, 'z1'));
    // The straight-line oracle: v = z1 − z0 whatever the state (for a [2B] guided batch, both halves).
    const oracle = (z: Tensor) => (z.shape[0] === 2 ? sub(z1, z0) : concat([sub(z1, z0), sub(z1, z0)], 0));
    const cond: Conditioning = { context: e.keep(e.zeros([2, 1, 4])), pooled: e.keep(e.zeros([2, 4])) };
    for (const steps of [1, 3, 10]) {
      const out = e.scope(() => sample(e, (z) => oracle(z), z1, cond, null, { steps, cfgScale: 1, shift: 3, stepType: 'euler', noiseScale: 0, captureTrajectory: true }, null));
      expectClose(await out.image.toArray(), await z0.toArray(), { atol: 2e-6, rtol: 1e-5 }, `Euler ${steps} steps`);
      for (const p of out.trajectory!.predictions) expectClose(await p.toArray(), await z0.toArray(), { atol: 2e-6, rtol: 1e-5 }, 'x̂0 under the oracle');
      expect(out.trajectory!.states.length).toBe(steps + 1);
    }
    // CFG with identical branches is the oracle itself (batch 2B forward, split back).
    const unc: Conditioning = { context: e.keep(e.zeros([2, 1, 4])), pooled: e.keep(e.zeros([2, 4])) };
    const out = e.scope(() => sample(e, (z) => oracle(z), z1, cond, unc, { steps: 5, cfgScale: 4.5, shift: 1, stepType: 'euler', noiseScale: 0, captureTrajectory: false }, null));
    expectClose(await out.image.toArray(), await z0.toArray(), { atol: 1e-5, rtol: 1e-4 }, 'Euler with CFG');
  });

  it('stochastic steps run with their noise and refuse bad options', async () => {
    const e = await getEngine();
    const shape = [1, 3, 4, 4];
    const z0 = e.keep(e.fromArray(rand(48, 5), shape, 'z0'));
    const z1 = e.keep(e.fromArray(rand(48, 6), shape, 'z1'));
    const cond: Conditioning = { context: e.keep(e.zeros([1, 1, 4])), pooled: e.keep(e.zeros([1, 4])) };
    // The 'sde' step keeps x̂0 = z − sigma·v and re-noises it with fresh noise; the last step (sigma1 = 0)
    // returns x̂0 itself.
    const out = e.scope(() => sample(e, () => sub(z1, z0), z1, cond, null, { steps: 4, cfgScale: 1, shift: 1, stepType: 'sde', noiseScale: 0.5, captureTrajectory: true }, new Rng(3)));
    // Off the straight line the constant field is no longer the oracle, so check the last step's identity:
    // output = z_last − sigma_last·v with sigma_last = 1/4 (shift 1, 4 steps).
    const img = await out.image.toArray();
    const before = await out.trajectory!.states[3].toArray();
    const v = await e.scope(() => sub(z1, z0)).toArray();
    expectClose(img, before.map((z, i) => Math.fround(z - Math.fround(0.25 * v[i]))), { atol: 1e-6, rtol: 1e-5 }, 'sde last step = x̂0');
    const noisy = await out.trajectory!.states[2].toArray();
    expect(noisy.some((z, i) => Math.abs(z - before[i]) > 1e-3)).toBe(true); // fresh noise moved the state
    for (const t of ['simple', 'flow_sde', 'cps'] as const) {
      const r = e.scope(() => sample(e, () => sub(z1, z0), z1, cond, null, { steps: 4, cfgScale: 1, shift: 1, stepType: t, noiseScale: 0.3, captureTrajectory: false }, new Rng(4)));
      expect((await r.image.toArray()).every(Number.isFinite)).toBe(true);
    }
    expect(() => sample(e, () => z1, z1, cond, null, { steps: 2, cfgScale: 1, shift: 1, stepType: 'cps', noiseScale: 0.3, captureTrajectory: false }, null)).toThrow(/needs a random generator/);
    expect(() => sample(e, () => z1, z1, cond, null, { steps: 2, cfgScale: 3, shift: 1, stepType: 'euler', noiseScale: 0, captureTrajectory: false }, null)).toThrow(/unconditional/);
  });
});

