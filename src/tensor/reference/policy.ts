// Float64 reference of the clipped policy objective (src/tensor/ops/policy.ts, shaders/policy.wgsl).

/** Per sample: max(−A·r, −A·clamp(r, 1 − eps, 1 + eps)), r = exp(new − old). */
export function clippedPolicyLossRef(logpNew: ArrayLike<number>, logpOld: ArrayLike<number>, adv: ArrayLike<number>, eps: number): Float64Array {
  return Float64Array.from({ length: logpNew.length }, (_, i) => {
    const r = Math.exp(logpNew[i] - logpOld[i]);
    return Math.max(-adv[i] * r, -adv[i] * Math.min(Math.max(r, 1 - eps), 1 + eps));
  });
}

/** d loss_i / d new_i times g_i: −A·r·g where the unclipped term is the max, else 0. */
export function clippedPolicyLossGradRef(logpNew: ArrayLike<number>, logpOld: ArrayLike<number>, adv: ArrayLike<number>, eps: number, g: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: logpNew.length }, (_, i) => {
    const r = Math.exp(logpNew[i] - logpOld[i]);
    const unclipped = -adv[i] * r;
    return unclipped >= -adv[i] * Math.min(Math.max(r, 1 - eps), 1 + eps) ? unclipped * g[i] : 0;
  });
}

/** 1 where |exp(new − old) − 1| > eps, else 0 (the reference's clipfrac per sample). */
export function ratioOutsideClipRef(logpNew: ArrayLike<number>, logpOld: ArrayLike<number>, eps: number): Float64Array {
  return Float64Array.from({ length: logpNew.length }, (_, i) => (Math.abs(Math.exp(logpNew[i] - logpOld[i]) - 1) > eps ? 1 : 0));
}
