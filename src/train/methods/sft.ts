// SFT: flow matching on the ideal path, z_sigma = (1 − sigma)·z0 + sigma·z1 with target z1 − z0
// (docs/methods.md, "SFT").
import { flowMatchingStep, type StepResult } from '../step';
import type { MethodInfo, TrainingMethod } from './method';

export const FLOW_MATCHING_METRICS = [{ key: 'loss_main', title: 'Main loss', hint: 'flow matching on the ideal path' }] as const;

export const sftInfo: MethodInfo = {
  id: 'sft',
  label: 'SFT',
  summary: 'Flow matching on the data: the velocity from a noisy sample toward its clean image.',
  defaults: {},
  validate: () => [],
  passes: (_cfg, batch) => [{ what: 'main', batch, backward: true }],
  metrics: FLOW_MATCHING_METRICS,
  formFields: [],
};

export const sft: TrainingMethod<StepResult> = { ...sftInfo, step: (batch, cfg, ctx) => flowMatchingStep(batch, cfg, ctx, false) };
