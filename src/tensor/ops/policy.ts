// Flow-GRPO's clipped policy objective per sample, as one fused op with its gradient (docs/methods.md,
// "Flow-GRPO"): the importance ratio, the clip and the max never round-trip through memory, and the backward
// needs no saved intermediate. Float64 reference: src/tensor/reference/policy.ts.
import policyWgsl from '../../../shaders/policy.wgsl?raw';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import type { Tensor } from '../tensor';
import { assertSameEngine, wgslSection } from './shape';

const WG = 64; // matches @workgroup_size in shaders/policy.wgsl
const FORWARD = { name: 'policy.clipped', code: wgslSection(policyWgsl, 'prelude') + wgslSection(policyWgsl, 'forward') };
const BACKWARD = { name: 'policy.clipped.grad', code: wgslSection(policyWgsl, 'prelude') + wgslSection(policyWgsl, 'backward') };
const CLIPFRAC = { name: 'policy.clipfrac', code: wgslSection(policyWgsl, 'prelude') + wgslSection(policyWgsl, 'clipfrac') };

/**
 * logpNew [B] (with gradient), logpOld and advantages [B] (constants) -> [B]:
 * max(−A·r, −A·clamp(r, 1 − clipRange, 1 + clipRange)) with r = exp(logpNew − logpOld).
 */
export function clippedPolicyLoss(logpNew: Tensor, logpOld: Tensor, advantages: Tensor, clipRange: number): Tensor {
  assertSameEngine('clippedPolicyLoss', [logpNew, logpOld, advantages]);
  const n = logpNew.size;
  if (logpNew.shape.length !== 1 || logpOld.size !== n || advantages.size !== n) {
    throw new RangeError(`clippedPolicyLoss: logpNew ${logpNew.describe()}, logpOld ${logpOld.describe()} and advantages ${advantages.describe()} must all be [B]`);
  }
  if (!(clipRange >= 0)) throw new RangeError(`clippedPolicyLoss: clipRange must be ≥ 0, got ${clipRange}`);
  if (logpOld.requiresGrad || advantages.requiresGrad) throw new Error('clippedPolicyLoss: the old log-probabilities and the advantages are constants (detach them)');
  const e = logpNew.engine;
  const params = uniforms([['u32', n], ['f32', clipRange]]);
  const y = e.empty([n], 'policy_loss');
  if (n > 0) e.gpu.dispatch({ kernel: FORWARD, buffers: [logpNew.buffer, logpOld.buffer, advantages.buffer, y.buffer], uniforms: params, workgroups: grid1d(n, WG), detail: logpNew.describe() });
  return record(y, 'clippedPolicyLoss', [logpNew], [logpNew, logpOld, advantages], (g, [lpNew, lpOld, adv]) => {
    const gx = e.empty([n], 'policy_loss.grad');
    if (n > 0) e.gpu.dispatch({ kernel: BACKWARD, buffers: [lpNew.buffer, lpOld.buffer, adv.buffer, g.buffer, gx.buffer], uniforms: params, workgroups: grid1d(n, WG), detail: logpNew.describe() });
    return [gx];
  });
}

/**
 * logpNew, logpOld [B] -> [B] of 1 where |exp(logpNew − logpOld) − 1| > clipRange, else 0 (no gradient): the
 * reference's clipfrac is its mean, the share of samples the clip holds (or would, on the other side of A).
 */
export function ratioOutsideClip(logpNew: Tensor, logpOld: Tensor, clipRange: number): Tensor {
  assertSameEngine('ratioOutsideClip', [logpNew, logpOld]);
  const n = logpNew.size;
  if (logpNew.shape.length !== 1 || logpOld.size !== n) throw new RangeError(`ratioOutsideClip: logpNew ${logpNew.describe()} and logpOld ${logpOld.describe()} must both be [B]`);
  const e = logpNew.engine;
  const y = e.empty([n], 'clipfrac');
  // Bindings 0, 1 and 3: the kernel reads no advantages (binding 2), so the automatic layout has none.
  const params = uniforms([['u32', n], ['f32', clipRange]]);
  if (n > 0) e.gpu.dispatch({ kernel: CLIPFRAC, buffers: [logpNew.buffer, logpOld.buffer, y.buffer], bindings: [0, 1, 3], uniforms: params, uniformBinding: 4, workgroups: grid1d(n, WG), detail: logpNew.describe() });
  return y;
}
