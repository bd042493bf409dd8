// Flow-GRPO's clipped policy objective: GPU vs float64 reference (forward and gradient) on random sizes, the
// reference gradient vs finite differences away from the clip's kinks, and the on-policy identities of the
// spec (ratio 1: loss −A and gradient −A; past the clip on the advantage's side: exactly zero gradient).
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import { clippedPolicyLoss, ratioOutsideClip } from '../../src/tensor/ops/policy';
import { clippedPolicyLossGradRef, clippedPolicyLossRef, ratioOutsideClipRef } from '../../src/tensor/reference/policy';
import { expectClose, f32, finiteDiff, FWD, getEngine, GRAD, rand } from './harness';

describe('clipped policy loss', () => {
  for (const n of [1, 5, 64, 67]) {
    it(`B = ${n}: forward and gradient match the reference`, async () => {
      const e = await getEngine();
      const old = f32(rand(n, 30 + n, -3, 0));
      const lpNew = f32(old.map((v, i) => v + rand(n, 31 + n, -0.3, 0.3)[i]));
      const adv = f32(rand(n, 32 + n, -2, 2));
      const eps = 0.1;
      const x = e.parameter(lpNew, [n], 'logp');
      const y = clippedPolicyLoss(x, e.fromArray(old, [n]), e.fromArray(adv, [n]), eps);
      expectClose(await y.toArray(), clippedPolicyLossRef(lpNew, old, adv, eps), FWD, 'loss');
      const g = f32(rand(n, 33 + n));
      backward(y, e.fromArray(g, [n]));
      expectClose(await x.grad!.toArray(), clippedPolicyLossGradRef(lpNew, old, adv, eps, g), GRAD, 'grad');
    });
  }

  it('the reference gradient is the finite-difference gradient (away from the clip boundaries)', () => {
    const old = Float64Array.from([-1, -2, -0.5, -1.5, -1]);
    const lpNew = Float64Array.from([-0.95, -2.3, -0.5, -1.2, -1.01]);
    const adv = Float64Array.from([1.5, -0.7, 2, 0.4, -1]);
    const w = Float64Array.from([0.3, -1, 0.5, 2, 1]);
    const f = (x: Float64Array) => clippedPolicyLossRef(x, old, adv, 0.2).reduce((s, v, i) => s + v * w[i], 0);
    expectClose(clippedPolicyLossGradRef(lpNew, old, adv, 0.2, w), finiteDiff(f, lpNew), { atol: 1e-7, rtol: 1e-6 }, 'fd');
  });

  it('on policy (ratio 1) the loss is −A and the gradient −A; past the clip on the favoured side the gradient is 0', async () => {
    const e = await getEngine();
    const eps = 1e-4;
    const old = [-1, -1, -1, -1, -1];
    // Same; far above with A > 0 (clipped: 0); far below with A < 0 (clipped: 0); above with A < 0 and below
    // with A > 0 (the unclipped side: gradient flows).
    const lpNew = [-1, -1 + 1e-2, -1 - 1e-2, -1 + 1e-2, -1 - 1e-2];
    const adv = [0.7, 1.3, -0.9, -0.5, 0.8];
    const x = e.parameter(lpNew, [5], 'logp');
    const y = clippedPolicyLoss(x, e.fromArray(old, [5]), e.fromArray(adv, [5]), eps);
    const loss = await y.toArray();
    expect(loss[0]).toBeCloseTo(-0.7, 6);
    backward(y, e.fromArray([1, 1, 1, 1, 1], [5]));
    const g = await x.grad!.toArray();
    expect(g[0]).toBeCloseTo(-0.7, 6);
    expect(g[1]).toBe(0);
    expect(g[2]).toBe(0);
    expect(g[3]).toBeCloseTo(0.5 * Math.exp(1e-2), 5);
    expect(g[4]).toBeCloseTo(-0.8 * Math.exp(-1e-2), 5);
  });

  it("marks the samples whose ratio is outside the clip range (the reference's clipfrac per sample)", async () => {
    const e = await getEngine();
    for (const n of [1, 67]) {
      const old = f32(rand(n, 40 + n, -3, 0));
      const lpNew = f32(old.map((v, i) => v + rand(n, 41 + n, -0.3, 0.3)[i]));
      const got = await ratioOutsideClip(e.fromArray(lpNew, [n]), e.fromArray(old, [n]), 0.1).toArray();
      expect([...got]).toEqual([...ratioOutsideClipRef(lpNew, old, 0.1)]);
      if (n > 1) expect(got.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }
    // On policy nothing is outside; a clip range of 0 counts every ratio that is not exactly 1.
    const same = e.fromArray([-1, -2], [2]);
    expect([...(await ratioOutsideClip(same, e.fromArray([-1, -2], [2]), 1e-4).toArray())]).toEqual([0, 0]);
    expect([...(await ratioOutsideClip(e.fromArray([-1, -2 + 1e-3], [2]), e.fromArray([-1, -2], [2]), 0).toArray())]).toEqual([0, 1]);
  });

  it('refuses mismatched shapes and trainable constants', async () => {
    const e = await getEngine();
    const x = e.parameter([0, 0], [2], 'logp');
    expect(() => clippedPolicyLoss(x, e.fromArray([0], [1]), e.fromArray([0, 0], [2]), 0.1)).toThrow(/must all be \[B\]/);
    expect(() => clippedPolicyLoss(x, e.parameter([0, 0], [2], 'old'), e.fromArray([0, 0], [2]), 0.1)).toThrow(/constants/);
  });
});
