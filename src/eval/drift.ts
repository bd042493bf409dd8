// Trajectory drift: how far the model's own sampled states wander from the ideal straight path between a real
// sample z0 and its noise z1, step by step (the exposure bias that SOAR trains against). For each step i of
// an Euler sampler started at z1 with the caption of z0:
//     drift_i = RMS(z_i − ((1 − sigma_i)·z0 + sigma_i·z1))
// At i = 0 it is 0 by construction; the last value is the distance of the final sample from z0.
import type { Engine } from '../tensor/engine';
import type { Tensor } from '../tensor/tensor';
import { lerp } from '../tensor/ops/elementwise';
import { perSampleMse } from '../tensor/ops/reduce';
import { sample, type Conditioning, type SampleOptions, type VelocityFn } from '../sample/sampler';

export interface DriftResult {
  sigmas: number[];
  /** Mean over the batch of the per-sample RMS distance, per level (steps + 1 values). */
  drift: number[];
}

export async function trajectoryDrift(
  engine: Engine,
  velocity: VelocityFn,
  z0: Tensor,
  z1: Tensor,
  cond: Conditioning,
  uncond: Conditioning | null,
  opts: Omit<SampleOptions, 'captureTrajectory' | 'stepType'>,
): Promise<DriftResult> {
  const B = z0.shape[0];
  const result = sample(engine, velocity, z1, cond, uncond, { ...opts, stepType: 'euler', captureTrajectory: true }, null);
  const traj = result.trajectory!;
  const perLevel = engine.noGrad(() =>
    engine.scope(() =>
      traj.states.map((z, i) => perSampleMse(z, lerp(z0, z1, engine.full([B], traj.sigmas[i], 'sigma')))),
    ),
  );
  const drift: number[] = [];
  for (const mse of perLevel) {
    const v = await mse.toArray();
    drift.push(v.reduce((s, x) => s + Math.sqrt(Math.max(x, 0)), 0) / B);
    mse.release();
  }
  for (const t of [...traj.states, ...traj.predictions]) if (t !== z1) t.release();
  return { sigmas: traj.sigmas, drift };
}
