// Samplers: Euler ODE with classifier-free guidance, and the four stochastic steps (simple, sde, flow_sde,
// cps; soar-spec §1.4/§4), from noise (sigma = 1) to data (sigma = 0), with the trajectory (state and clean
// estimate x̂0 = z − sigma·v at every step) for the studio's scrubber and the drift metric.
//
// Deviation on purpose: the grid is continuous, t_i = 1 − i/steps shifted by sigma(t) = shift·t/(1 + (shift−1)·t),
// ending at exactly 0 (diffusers ends its linspace at t = 1/1000 and then appends 0; the difference is one
// sub-grid step at the start).
import type { Engine } from '../tensor/engine';
import { addScaled, sub, mul } from '../tensor/ops/elementwise';
import type { Rng } from '../tensor/ops/rng';
import { concat, split } from '../tensor/ops/shape';
import type { Tensor } from '../tensor/tensor';
import type { MMDiT } from '../model/mmdit';
import { applyStep, perSample, stepCoefficients, type StepType } from '../train/rollout';
import { shiftSigma, timestepOf } from '../train/schedule';

/** Velocity for a batch of states at one noise level: the model, or an oracle in tests. */
export type VelocityFn = (z: Tensor, timestep: Tensor, cond: Conditioning) => Tensor;

export interface Conditioning {
  context: Tensor; // [B, T, J]
  pooled: Tensor; // [B, P]
}

export interface SampleOptions {
  steps: number;
  /** 1 disables guidance (one forward per step). */
  cfgScale: number;
  shift: number;
  stepType: StepType;
  /** sde_noise_scale for the stochastic steps. */
  noiseScale: number;
  captureTrajectory: boolean;
}

export const DEFAULT_SAMPLE: SampleOptions = { steps: 20, cfgScale: 4.5, shift: 1, stepType: 'euler', noiseScale: 0.5, captureTrajectory: false };

export interface Trajectory {
  sigmas: number[]; // steps + 1 levels, from 1 to 0
  states: Tensor[]; // z at each level (steps + 1)
  predictions: Tensor[]; // x̂0 = z − sigma·v at each of the steps levels where the model ran
}

export interface SampleResult {
  image: Tensor;
  trajectory: Trajectory | null;
}

export function sigmaSchedule(steps: number, shift: number): number[] {
  return Array.from({ length: steps + 1 }, (_, i) => (i === steps ? 0 : shiftSigma(1 - i / steps, shift)));
}

export function modelVelocity(model: MMDiT): VelocityFn {
  return (z, timestep, cond) => model.forward({ x: z, timestep, context: cond.context, pooled: cond.pooled });
}

/**
 * Samples from initial noise z1 [B, ...]. Trajectory tensors (when captured) are owned by the caller. With guidance, the conditional and unconditional branches run as one
 * forward of batch 2B (order [uncond; cond], as the reference). Runs under noGrad; `rng` draws the noise of
 * stochastic steps.
 */
export function sample(engine: Engine, velocity: VelocityFn, z1: Tensor, cond: Conditioning, uncond: Conditioning | null, opts: SampleOptions, rng: Rng | null): SampleResult {
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new RangeError(`sample: steps must be a positive integer, got ${opts.steps}`);
  if (opts.stepType !== 'euler' && !rng) throw new Error(`sample: the ${opts.stepType} step needs a random generator`);
  const guided = opts.cfgScale !== 1;
  if (guided && !uncond) throw new Error('sample: classifier-free guidance needs the unconditional (empty caption) embedding');
  const B = z1.shape[0];
  const sigmas = sigmaSchedule(opts.steps, opts.shift);
  return engine.noGrad(() => {
    const both = guided ? { context: concat([uncond!.context, cond.context], 0), pooled: concat([uncond!.pooled, cond.pooled], 0) } : cond;
    const trajectory: Trajectory | null = opts.captureTrajectory ? { sigmas, states: [z1], predictions: [] } : null;
    let z = z1;
    for (let i = 0; i < opts.steps; i++) {
      const s = sigmas[i];
      const next = sigmas[i + 1];
      // One scope per step: the velocity, coefficients and noise of a step are freed before the next one.
      const zNext = engine.scope(() => {
        let v: Tensor;
        if (!guided) v = velocity(z, engine.full([B], timestepOf(s), 'timestep'), cond);
        else {
          const vBoth = velocity(concat([z, z], 0), engine.full([2 * B], timestepOf(s), 'timestep'), both);
          const [vu, vc] = split(vBoth, [B, B], 0);
          v = addScaled(vu, sub(vc, vu), opts.cfgScale);
        }
        const coefs = new Array(B).fill(0).map(() => stepCoefficients(opts.stepType, s, next, opts.noiseScale));
        const eps = coefs[0].eps !== 0 ? rng!.randn(engine, z.shape, 'sampler_eps') : null;
        if (trajectory) trajectory.predictions.push(engine.keep(sub(z, mul(v, perSample(engine, new Array(B).fill(s), z.shape.length, 'sigma')))));
        return applyStep(engine, z, v, eps, coefs);
      });
      if (trajectory) trajectory.states.push(engine.keep(zNext));
      else if (z !== z1) z.release();
      z = zNext;
    }
    return { image: z, trajectory };
  });
}
