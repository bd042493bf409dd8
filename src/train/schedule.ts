// Noise-level arithmetic of rectified flow and SOAR (soar-spec.md §0, §1, §7), per sample, in float32 on the
// host (the per-sample scalars are a handful of numbers; the latents themselves stay on the GPU).
//
// Deviation from the reference, on purpose: sigma is continuous, sigma(t) = shift·t / (1 + (shift−1)·t), with
// t not snapped to the 1000-point grid; the timestep input is 1000·sigma (the spec allows it, §6.3). So the
// minimum rollout level sigma1 can be 0, and sigma' is clamped to at least SIGMA_MIN (§6.9).

export const SIGMA_MIN = 1e-3;

const f = Math.fround;

/** The SD3 shift map from unshifted t to sigma (shift = 1 is the identity). */
export function shiftSigma(t: number, shift: number): number {
  return f((shift * t) / (1 + (shift - 1) * t));
}

/** Model timestep input for a noise level (SD3 embeds 1000·sigma as a float). */
export function timestepOf(sigma: number): number {
  return f(1000 * sigma);
}

export type WeightingScheme = 'logit_normal' | 'uniform';

/** t0 ~ sigmoid(N(mean, std)) (logit_normal), or U(0,1), from standard normal / uniform draws. */
export function sampleT(scheme: WeightingScheme, normal: number, uniform: number, logitMean = 0, logitStd = 1): number {
  if (scheme === 'uniform') return f(uniform);
  return f(1 / (1 + Math.exp(-(logitMean + logitStd * normal))));
}

/** The rollout's target level: one sampler step of 1/N in unshifted t (§6.2), then shifted. */
export function rolloutSigma(t0: number, numSamplingSteps: number, shift: number): number {
  return shiftSigma(Math.max(t0 - 1 / numSamplingSteps, 0), shift);
}

export interface AuxPoint {
  /** sigma' ~ U[sigma1, 1), clamped ≥ SIGMA_MIN. */
  sigma: number;
  /** Interpolation weight toward z1: z' = (1 − alpha)·ẑ1 + alpha·z1. Equals u (§7 iv). */
  alpha: number;
}

/**
 * One re-noising point from a uniform draw u ∈ [0, 1): sigma' = sigma1 + u·(1 − sigma1) and
 * alpha = (sigma' − sigma1)/(1 − sigma1) = u, continuing ẑ1 as if it sat at level sigma1 (§6.5).
 */
export function auxPoint(sigma1: number, u: number): AuxPoint {
  const sigma = f(Math.max(sigma1 + u * (1 - sigma1), SIGMA_MIN));
  return { sigma, alpha: f(u) };
}

/** SOAR's normalisation: (Σ main + λ Σ aux) / (N_main + λ·N_aux) (§6.8). */
export function soarDenominator(nMain: number, nAux: number, lambdaAux: number): number {
  return nMain + lambdaAux * nAux;
}
