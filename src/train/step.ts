// The flow-matching step SFT and SOAR share (docs/methods.md, "SFT" and "SOAR"). It records the forwards,
// backpropagates into every trainable tensor (gradients accumulate, so gradient accumulation is several calls)
// and returns GPU scalars for the metrics; it never waits on a readback.
//
//   z0 ← batch ; z1 ← N(0, I) ; t0 ← logit-normal ; sigma0 ← shift(t0) ; z_sigma0 ← (1 − sigma0)·z0 + sigma0·z1
//   v0 ← f(z_sigma0, 1000·sigma0, c)                         [grad]     main_b = mean((v0 − (z1 − z0))²)
//   SOAR (lambda_aux > 0, trajectory_length K > 0):
//     v_u ← f(z_sigma0, 1000·sigma0, ∅) ; v_c ← detach(v0)   [no grad]  v_cfg = v_u + w·(v_c − v_u)
//     sigma1 ← shift(max(t0 − 1/N, 0)) ; ẑ1 ← z_sigma0 + (sigma1 − sigma0)·v_cfg   (+ P − 1 stochastic paths)
//     for k < K: u ~ U[0,1) ; sigma' = sigma1 + u·(1 − sigma1) ; z' = (1 − u)·ẑ1 + u·z1 ; v_corr = (z' − z0)/sigma'
//                v' ← f(z', 1000·sigma', c)                  [grad]     aux_bk = mean((v' − v_corr)²)
//   L = (Σ main + lambda·Σ aux) / (N_main + lambda·N_aux)
import { backward } from '../tensor/autograd';
import type { Engine } from '../tensor/engine';
import { add, addScaled, div, lerp, scale, sub } from '../tensor/ops/elementwise';
import { expand, perSampleMse, sum } from '../tensor/ops/reduce';
import type { Rng } from '../tensor/ops/rng';
import { concat, contiguousStrides, gatherStrided, split } from '../tensor/ops/shape';
import type { Tensor } from '../tensor/tensor';
import type { TrainConfig } from './config';
import type { Batch, MethodStep, StepContext, Unconditional } from './methods/method';
import { applyStep, perSample, stepCoefficients } from './rollout';
import { auxPoint, rolloutSigma, sampleT, shiftSigma, soarDenominator, timestepOf } from './schedule';

export type { Batch, Unconditional };

export interface StepResult extends MethodStep {
  /** Detached GPU scalars: the total loss, the mean main (SFT) loss per sample, the mean aux loss per item. */
  loss: Tensor;
  lossMain: Tensor;
  lossAux: Tensor | null;
  nMain: number;
  nAux: number;
  /** Host copies of the per-sample noise levels (fp32). */
  sigma0: Float32Array;
  sigma1: Float32Array | null;
  /** Per aux item: its sample index and sigma'. */
  aux: Array<{ sample: number; sigma: number; path: number }>;
  /** Detached states for the trajectory view (when asked for). */
  capture?: StepCapture;
}

export interface StepCapture {
  z0: Tensor;
  zSigma0: Tensor;
  rollout: Tensor | null; // ẑ1 of the ODE path
  auxStates: Tensor | null; // z' for every aux item, in `aux` order
  auxTargets: Tensor | null; // v_corr
  auxPredictions: Tensor | null; // v'
}

export interface AuxItems {
  z: Tensor; // [N, C, H, W]
  target: Tensor; // v_corr
  sigma: number[];
  samples: number[];
  paths: number[];
}

/**
 * Rows `idx` of a batch-major tensor (all rows: the tensor itself; a row may repeat). A tensor no gradient flows
 * into has only the rows taken copied (Flow-GRPO's micro-batches take a few of a round's samples); one on the tape
 * is split into every row, so the backward joins the rows' gradients.
 */
export function rows(t: Tensor, idx: readonly number[]): Tensor {
  const B = t.shape[0];
  if (idx.length === B && idx.every((v, i) => v === i)) return t;
  if (!t.requiresGrad) {
    const row = [1, ...t.shape.slice(1)];
    return concat(idx.map((i) => gatherStrided(t, row, contiguousStrides(t.shape), (i * t.size) / B, 1, 'row')), 0);
  }
  const parts = split(t, new Array(B).fill(1), 0);
  return concat(idx.map((i) => parts[i]), 0);
}

/**
 * One micro-batch: the main flow-matching term, plus SOAR's rollout and correction items when `correction`
 * (the caller checks lambda_aux and K: with either 0 SOAR is SFT, in this same code path).
 * Every forward uses `ctx.adapters`.
 */
export function flowMatchingStep(batch: Batch, cfg: TrainConfig, ctx: StepContext, correction: boolean): StepResult {
  const { model, uncond, rng } = ctx;
  const opts = { capture: ctx.capture };
  const forward = (inputs: Parameters<typeof model.forward>[0]) => model.forward(inputs, ctx.adapters);
  const e = model.engine;
  const { z0 } = batch;
  const B = z0.shape[0];

  // Caption dropout: one draw for the whole batch (reference L472-475).
  const dropDraw = rng.randHost(1)[0];
  let { context, pooled } = batch;
  if (dropDraw < cfg.cond_dropout_rate) {
    context = expand(uncond.context, context.shape);
    pooled = expand(uncond.pooled, pooled.shape);
  }

  // Noise, times and the noisy sample. All sigma arithmetic in float32 on the host.
  const z1 = rng.randn(e, z0.shape, 'z1');
  const normals = rng.randnHost(B);
  const uniforms = rng.randHost(B);
  const t0 = Float32Array.from({ length: B }, (_, b) => sampleT(cfg.weighting_scheme, normals[b], uniforms[b], cfg.logit_mean, cfg.logit_std));
  const sigma0 = t0.map((t) => shiftSigma(t, cfg.shift));
  const zSigma0 = e.noGrad(() => lerp(z0, z1, e.fromArray(sigma0, [B], 'sigma0')));
  const tau0 = e.fromArray(sigma0.map(timestepOf), [B], 'timestep0');

  // Main (SFT) term, with gradient.
  const v0 = forward({ x: zSigma0, timestep: tau0, context, pooled });
  const velocityTarget = e.noGrad(() => sub(z1, z0));
  const mainSum = sum(perSampleMse(v0, velocityTarget));

  const soar = correction;
  let items: AuxItems | null = null;
  let sigma1: Float32Array | null = null;
  let rollout: Tensor | null = null;
  if (soar) {
    // Rollout under stop-gradient: CFG velocity at the same state, conditional branch reused from v0.
    const rolled = e.noGrad(() => {
      const vUncond = forward({ x: zSigma0, timestep: tau0, context: expand(uncond.context, batch.context.shape), pooled: expand(uncond.pooled, batch.pooled.shape) });
      const vCond = v0.detach();
      const vCfg = addScaled(vUncond, sub(vCond, vUncond), cfg.cfg_scale_sampling);
      const s1 = t0.map((t) => rolloutSigma(t, cfg.num_sampling_steps, cfg.shift));
      const odeState = applyStep(e, zSigma0, vCfg, null, Array.from(sigma0, (s, b) => stepCoefficients('euler', s, s1[b])));
      const paths: Array<{ state: Tensor; samples: number[] }> = [{ state: odeState, samples: [...Array(B).keys()] }];
      // Extra stochastic paths only for samples whose rollout does not hit the clean boundary (t1 > 0).
      const active = [...Array(B).keys()].filter((b) => t0[b] - 1 / cfg.num_sampling_steps > 0);
      for (let p = 1; p < cfg.num_rollout_paths && active.length; p++) {
        const eps = rng.randn(e, z0.shape, 'rollout_eps');
        const coefs = Array.from(sigma0, (s, b) => stepCoefficients(cfg.sde_rollout_type, s, s1[b], cfg.sde_noise_scale));
        paths.push({ state: rows(applyStep(e, zSigma0, vCfg, eps, coefs), active), samples: active });
      }
      return { s1, odeState, items: reNoise(e, paths, z0, z1, s1, cfg.trajectory_length, rng) };
    });
    sigma1 = rolled.s1;
    rollout = rolled.odeState;
    items = rolled.items;
  }

  // Loss normalisation by the global counts, then backward: main first, then the aux items in chunks
  // (the gradient of a sum over items is the sum of the items' gradients).
  const nAux = items ? items.sigma.length : 0;
  const lambda = soar ? cfg.lambda_aux : 0;
  const denom = soarDenominator(B, nAux, lambda);
  backward(scale(mainSum, 1 / denom));

  let auxTotal: Tensor | null = null;
  let auxPredictions: Tensor | null = null;
  if (items && nAux > 0) {
    const chunk = cfg.aux_micro_batch > 0 ? cfg.aux_micro_batch : nAux;
    const predictions: Tensor[] = [];
    for (let start = 0; start < nAux; start += chunk) {
      const idx = [...Array(Math.min(chunk, nAux - start)).keys()].map((i) => start + i);
      const samples = idx.map((i) => items!.samples[i]);
      const zAux = rows(items.z, idx);
      const vAux = forward({
        x: zAux,
        timestep: e.fromArray(idx.map((i) => timestepOf(items!.sigma[i])), [idx.length], 'timestep_aux'),
        // The batch's conditioning after caption dropout: when the draw fires, the aux forwards see the empty
        // caption too (reference L472-475 replaces the batch's embeddings before any forward).
        context: rows(context, samples),
        pooled: rows(pooled, samples),
      });
      const auxSum = sum(perSampleMse(vAux, rows(items.target, idx)));
      if (opts.capture) predictions.push(vAux.detach());
      const detached = auxSum.detach();
      auxTotal = auxTotal ? e.noGrad(() => add(auxTotal!, detached)) : detached;
      backward(scale(auxSum, lambda / denom));
    }
    if (opts.capture) auxPredictions = e.noGrad(() => concat(predictions, 0));
  }

  // Metrics as detached GPU scalars (read back asynchronously by the trainer).
  const mainDetached = mainSum.detach();
  const metrics = e.noGrad(() => {
    const lossMain = scale(mainDetached, 1 / B);
    const total = auxTotal ? add(scale(mainDetached, 1 / denom), scale(auxTotal, lambda / denom)) : scale(mainDetached, 1 / denom);
    return { total, lossMain, lossAux: auxTotal ? scale(auxTotal, 1 / nAux) : null };
  });

  return {
    loss: metrics.total,
    scalars: { loss_main: metrics.lossMain, loss_aux: metrics.lossAux },
    counts: { aux_per_sample: nAux / B },
    lossMain: metrics.lossMain,
    lossAux: metrics.lossAux,
    nMain: B,
    nAux,
    sigma0,
    sigma1,
    aux: items ? items.sigma.map((s, i) => ({ sample: items!.samples[i], sigma: s, path: items!.paths[i] })) : [],
    capture: opts.capture
      ? { z0, zSigma0, rollout, auxStates: items?.z ?? null, auxTargets: items?.target ?? null, auxPredictions }
      : undefined,
  };
}

/**
 * SOAR's auxiliary items: K re-noisings of each rollout state toward the same z1, at sigma' ~ U[sigma1, 1),
 * with the correction target v_corr = (z' − z0)/sigma'. Runs under noGrad in the step (targets carry no
 * gradient). Exported for the identity tests (docs/methods.md, "SOAR").
 */
export function reNoise(engine: Engine, paths: Array<{ state: Tensor; samples: number[] }>, z0t: Tensor, z1t: Tensor, s1: Float32Array, K: number, r: Rng): AuxItems {
  const rank = z0t.shape.length;
  const zs: Tensor[] = [];
  const targets: Tensor[] = [];
  const out: AuxItems = { z: z0t, target: z0t, sigma: [], samples: [], paths: [] };
  paths.forEach(({ state, samples }, p) => {
    const z0s = rows(z0t, samples);
    const z1s = rows(z1t, samples);
    const u = r.randHost(K * samples.length);
    for (let k = 0; k < K; k++) {
      const points = samples.map((b, j) => auxPoint(s1[b], u[k * samples.length + j]));
      // Re-noise toward the SAME z1 that built z_sigma0 (never fresh noise): z' = (1 − u)·ẑ1 + u·z1.
      const zPrime = lerp(state, z1s, engine.fromArray(points.map((q) => q.alpha), [samples.length], 'alpha'));
      // v_corr = (z' − z0)/sigma': the velocity whose clean estimate z' − sigma'·v_corr is exactly z0.
      const vCorr = div(sub(zPrime, z0s), perSample(engine, points.map((q) => q.sigma), rank, 'sigma_aux'));
      zs.push(zPrime);
      targets.push(vCorr);
      points.forEach((q, j) => {
        out.sigma.push(q.sigma);
        out.samples.push(samples[j]);
        out.paths.push(p);
      });
    }
  });
  out.z = zs.length === 1 ? zs[0] : concat(zs, 0);
  out.target = targets.length === 1 ? targets[0] : concat(targets, 0);
  return out;
}
