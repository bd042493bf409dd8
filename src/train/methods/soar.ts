// SOAR: SFT's term plus a correction term on states the model's own rollout reaches: one stop-gradient CFG
// step from the noisy sample, re-noised toward the same z1, supervised with (z' − z0)/sigma'
// (docs/methods.md, "SOAR").
import type { TrainConfig } from '../config';
import { flowMatchingStep, type StepResult } from '../step';
import type { MethodInfo, TrainingMethod } from './method';
import { FLOW_MATCHING_METRICS } from './sft';

/** Whether the correction runs (lambda_aux = 0 or K = 0 is SFT, in the same code path). */
export function correctionActive(cfg: Pick<TrainConfig, 'lambda_aux' | 'trajectory_length'>): boolean {
  return cfg.lambda_aux > 0 && cfg.trajectory_length > 0;
}

/** The reference README's SOAR hyper-parameters (λ = 1, K = 6, P = 1, CFG 4.5, flow_sde, 40 grid steps). */
export const SOAR_DEFAULTS: Pick<TrainConfig, 'lambda_aux' | 'trajectory_length' | 'num_rollout_paths' | 'num_sampling_steps' | 'sde_rollout_type' | 'sde_noise_scale' | 'cfg_scale_sampling' | 'aux_micro_batch'> = {
  lambda_aux: 1,
  trajectory_length: 6,
  num_rollout_paths: 1,
  num_sampling_steps: 40,
  sde_rollout_type: 'flow_sde',
  sde_noise_scale: 0.5,
  cfg_scale_sampling: 4.5,
  aux_micro_batch: 0,
};

const num = (c: TrainConfig, k: keyof TrainConfig, min: number, max: number, errs: string[]) => {
  const v = c[k] as number;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) errs.push(`${k} must be a number in [${min}, ${max}], got ${v}`);
};
const int = (c: TrainConfig, k: keyof TrainConfig, min: number, errs: string[]) => {
  const v = c[k] as number;
  if (!Number.isInteger(v) || v < min) errs.push(`${k} must be an integer ≥ ${min}, got ${v}`);
};

export const soarInfo: MethodInfo = {
  id: 'soar',
  label: 'SOAR',
  summary: 'SFT plus self-correction: supervise the off-trajectory states of one rollout step back toward the data.',
  defaults: SOAR_DEFAULTS,
  validate(c) {
    const errs: string[] = [];
    num(c, 'lambda_aux', 0, 100, errs);
    int(c, 'trajectory_length', 0, errs);
    int(c, 'num_rollout_paths', 1, errs);
    int(c, 'num_sampling_steps', 1, errs);
    if (!['simple', 'sde', 'flow_sde', 'cps'].includes(c.sde_rollout_type)) errs.push('sde_rollout_type must be simple, sde, flow_sde or cps');
    num(c, 'sde_noise_scale', 0, 10, errs);
    num(c, 'cfg_scale_sampling', 0, 50, errs);
    int(c, 'aux_micro_batch', 0, errs);
    return errs;
  },
  passes(cfg, batch) {
    const main = { what: 'main', batch, backward: true };
    if (!correctionActive(cfg)) return [main];
    // The rollout's conditional branch reuses the main forward's v0; only the unconditional one is extra.
    return [main, { what: 'rollout (unconditional, no grad)', batch, backward: false }, { what: 'aux', batch: batch * cfg.trajectory_length * cfg.num_rollout_paths, backward: true }];
  },
  metrics: [...FLOW_MATCHING_METRICS, { key: 'loss_aux', title: 'Aux loss', hint: 'SOAR correction on the rollout' }],
  formFields: [
    { key: 'lambda_aux', label: 'λ, aux weight', hint: '0 reproduces SFT', step: 'any' },
    { key: 'trajectory_length', label: 'K, re-noisings', hint: 'aux states per sample' },
    { key: 'num_rollout_paths', label: 'P, rollout paths', hint: '> 1 uses the stochastic step' },
    { key: 'cfg_scale_sampling', label: 'Rollout CFG', step: 'any' },
    { key: 'num_sampling_steps', label: 'Rollout grid steps', hint: 'sigma grid of the rollout step', advanced: true },
    { key: 'sde_noise_scale', label: 'SDE noise scale', step: 'any', advanced: true },
    { key: 'aux_micro_batch', label: 'Aux micro-batch', hint: '0 = all at once; lower saves memory', advanced: true },
  ],
};

export const soar: TrainingMethod<StepResult> = { ...soarInfo, step: (batch, cfg, ctx) => flowMatchingStep(batch, cfg, ctx, correctionActive(cfg)) };
