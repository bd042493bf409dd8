// float64 reference (the spec) of shaders/gradnorm.wgsl and shaders/adamw.wgsl: global gradient norm,
// clip_grad_norm_ and torch.optim.AdamW (amsgrad=False, maximize=False), step for step as PyTorch does it.

/** sqrt(Σ_tensors Σ_i g_i²): torch.nn.utils.clip_grad_norm_'s total_norm for norm_type 2. */
export function refGradNorm(grads: ReadonlyArray<ArrayLike<number>>): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** clip_grad_norm_'s factor: min(1, max_norm / (total_norm + 1e-6)). maxNorm <= 0 or ∞ means no clipping. */
export function refClipCoef(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || maxNorm === Infinity) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global-norm clipping threshold; 0 (or ∞) disables clipping. */
  maxGradNorm: number;
}

/** torch.optim.AdamW's defaults, no clipping. */
export const ADAMW_DEFAULTS: AdamWHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, maxGradNorm: 0 };

/** Per-parameter state, as PyTorch's state[p] = {step, exp_avg, exp_avg_sq}. */
export interface RefAdamState {
  step: number;
  m: Float64Array;
  v: Float64Array;
}

export function refAdamState(size: number): RefAdamState {
  return { step: 0, m: new Float64Array(size), v: new Float64Array(size) };
}

/** One AdamW update of one parameter in place (torch's _single_tensor_adam with decoupled weight decay). */
export function refAdamWParam(p: Float64Array, g: ArrayLike<number>, s: RefAdamState, hp: AdamWHyper): void {
  s.step += 1;
  const decay = 1 - hp.lr * hp.weightDecay;
  const bc1 = 1 - hp.beta1 ** s.step;
  const bc2 = 1 - hp.beta2 ** s.step;
  const stepSize = hp.lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    p[i] *= decay; // param.mul_(1 - lr * weight_decay), BEFORE the Adam update, on the old value
    s.m[i] = hp.beta1 * s.m[i] + (1 - hp.beta1) * g[i];
    s.v[i] = hp.beta2 * s.v[i] + (1 - hp.beta2) * g[i] * g[i];
    const denom = Math.sqrt(s.v[i]) / bc2Sqrt + hp.eps; // eps outside the sqrt, after bias correction
    p[i] -= stepSize * (s.m[i] / denom);
  }
}

export interface RefStepResult {
  /** Norm of gradScale·grads over the parameters that have a gradient (before clipping). */
  norm: number;
  /** True when the norm is not finite: nothing was changed (no step counted, as GradScaler skips). */
  skipped: boolean;
}

/**
 * One optimiser step over a parameter list: grads scaled by gradScale, clipped by the global norm
 * (clip_grad_norm_ then AdamW.step). A null gradient skips that parameter (its step count does not advance),
 * as PyTorch skips parameters whose .grad is None. `lrScales[k]` multiplies parameter k's lr (a parameter group
 * with its own lr: its decoupled weight decay step lr·wd scales with it, as in PyTorch).
 */
export function refAdamWStep(
  params: Float64Array[],
  grads: Array<ArrayLike<number> | null>,
  states: RefAdamState[],
  hp: AdamWHyper,
  gradScale = 1,
  lrScales: readonly number[] = params.map(() => 1),
): RefStepResult {
  const scaled = grads.map((g) => (g ? Float64Array.from(g, (x) => x * gradScale) : null));
  const present: Float64Array[] = [];
  for (const g of scaled) if (g) present.push(g);
  const norm = refGradNorm(present);
  if (!Number.isFinite(norm)) return { norm, skipped: true };
  const clip = refClipCoef(norm, hp.maxGradNorm);
  params.forEach((p, k) => {
    const g = scaled[k];
    if (!g) return;
    refAdamWParam(p, clip === 1 ? g : g.map((x) => x * clip), states[k], lrScales[k] === 1 ? hp : { ...hp, lr: hp.lr * lrScales[k] });
  });
  return { norm, skipped: false };
}

/** The parameters' exponential moving average after a step that applied: ema += (1 − decay)·(p − ema). */
export function refEma(ema: Float64Array, p: ArrayLike<number>, decay: number): void {
  for (let i = 0; i < ema.length; i++) ema[i] += (1 - decay) * (p[i] - ema[i]);
}
