// The registry of post-training methods: the worker, run form, charts, compare grid, CLI, demo and bench
// iterate it, so a method is one module added here (see method.ts for what a module provides).
import type { SD3Config } from '../../model/config';
import { trainStepFlops as passFlops, type ForwardShape, type StepFlops } from '../../model/flops';
import type { MMDiT } from '../../model/mmdit';
import type { Rng } from '../../tensor/ops/rng';
import type { TrainConfig } from '../config';
import type { StepResult } from '../step';
import { methodInfo, type Method } from './catalog';
import type { Batch, TrainingMethod, Unconditional } from './method';
import { sft } from './sft';
import { grpo } from './grpo';
import { soar } from './soar';

export const METHODS = { sft, soar, grpo } as const satisfies Record<Method, TrainingMethod>;

/** The full method (descriptor and step) of a config's method id. */
export function methodOf(id: string): TrainingMethod {
  methodInfo(id); // the error naming the ids there are
  return METHODS[id as Method] as TrainingMethod;
}

/** Analytic FLOPs of one micro-batch's step (src/model/flops.ts counts each pass). */
export function trainStepFlops(model: SD3Config, shape: ForwardShape, c: TrainConfig): StepFlops {
  return passFlops(model, shape, c, methodInfo(c.method).passes(c, shape.batch));
}

/**
 * One SFT or SOAR micro-batch with the model's default adapters: the step the tests and the trajectory preview
 * call directly (the trainer goes through the method with its adapters explicit).
 */
export function trainStep(model: MMDiT, batch: Batch, uncond: Unconditional, cfg: TrainConfig, rng: Rng, opts: { capture?: boolean } = {}): StepResult {
  return methodOf(cfg.method).step(batch, cfg, { model, adapters: model.adapters, uncond, rng, capture: Boolean(opts.capture) }) as StepResult;
}

export { isGrpoStep, type GrpoStep, type SampledGroups } from './grpo';
export { isMethod, METHOD_IDS, methodInfo, methodLabel, stepCost, type Method } from './catalog';
