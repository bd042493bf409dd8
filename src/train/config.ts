// Training configuration. Field names are the reference trainer's command-line names (HY-SOAR
// train_soar_sd3_5m.py) so a config translates one to one; `method` and `train_mode` are ours.
import { GRPO_DEFAULTS, methodInfo, isMethod, METHOD_IDS, SOAR_DEFAULTS, type Method } from './methods/catalog';
import type { StochasticStep } from './rollout';
import type { WeightingScheme } from './schedule';

export type { Method };
export type LrScheduler = 'constant' | 'constant_with_warmup' | 'cosine';

export interface TrainConfig {
  method: Method;
  /** 'lora' trains adapters on a frozen base; 'full' trains every base parameter (pretraining). */
  train_mode: 'lora' | 'full';
  seed: number;
  max_train_steps: number;
  train_batch_size: number;
  gradient_accumulation_steps: number;
  learning_rate: number;
  lr_scheduler: LrScheduler;
  lr_warmup_steps: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  adam_weight_decay: number;
  max_grad_norm: number;
  weighting_scheme: WeightingScheme;
  logit_mean: number;
  logit_std: number;
  /** Probability that a whole batch trains on the empty caption (one draw per batch, as the reference). */
  cond_dropout_rate: number;
  // SOAR (ignored by SFT; lambda_aux = 0 reproduces SFT exactly in the same code path)
  lambda_aux: number;
  trajectory_length: number;
  num_rollout_paths: number;
  num_sampling_steps: number;
  sde_rollout_type: StochasticStep;
  sde_noise_scale: number;
  cfg_scale_sampling: number;
  /** Aux items per forward/backward chunk (0 = all at once); the gradient is the same, memory is not. */
  aux_micro_batch: number;
  // Flow-GRPO (the reference's sample.* / train.* keys with '_' for '.'; ignored by SFT and SOAR)
  sample_num_steps: number;
  sample_guidance_scale: number;
  sample_noise_level: number;
  sample_sde_type: 'sde' | 'cps';
  /** Flow-GRPO-Fast: SDE at this many consecutive steps (0: SDE at every step, Flow-GRPO proper). */
  sample_sde_window_size: number;
  /** [first, last) step indices the Fast window's start is drawn from. */
  sample_sde_window_range: [number, number];
  /** Group size: images sampled per prompt. */
  sample_num_image_per_prompt: number;
  sample_same_latent: boolean;
  sample_global_std: boolean;
  train_clip_range: number;
  train_adv_clip_max: number;
  /** KL coefficient to the base (0: no KL, no reference forward). */
  train_beta: number;
  train_timestep_fraction: number;
  /** Guidance in the trained policy (the gradient flows through both branches). */
  train_cfg: boolean;
  /**
   * Micro-batches one sampling round holds, trained in updates of gradient_accumulation_steps each: more than
   * that makes the round's later updates train on samples of the policy before its earlier ones (off policy;
   * the importance ratio and its clip act). 0: gradient_accumulation_steps, one update per round (on policy).
   */
  sample_num_batches_per_epoch: number;
  /**
   * Passes the updates make over a sampling round (each pass trains every sample of the round once, re-batched
   * into micro-batches in its own seeded order).
   */
  train_num_inner_epochs: number;
  /** The reward by name (src/train/rewards.ts). */
  reward_fn: string;
  // LoRA
  rank: number;
  lora_alpha: number;
  lora_targets: string[];
  // Schedule
  /** Sigma shift of the base model (SD3: 3.0; the built-in base: 1.0). */
  shift: number;
  checkpointing_steps: number;
  validation_steps: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  method: 'soar',
  train_mode: 'lora',
  seed: 42,
  max_train_steps: 200,
  train_batch_size: 4,
  gradient_accumulation_steps: 1,
  learning_rate: 1e-3,
  lr_scheduler: 'constant',
  lr_warmup_steps: 0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_epsilon: 1e-8,
  adam_weight_decay: 1e-2,
  max_grad_norm: 1,
  weighting_scheme: 'logit_normal',
  logit_mean: 0,
  logit_std: 1,
  cond_dropout_rate: 0,
  ...SOAR_DEFAULTS,
  ...GRPO_DEFAULTS,
  rank: 4,
  lora_alpha: 4,
  lora_targets: ['attn.to_q', 'attn.to_k', 'attn.to_v', 'attn.to_out.0', 'attn.add_q_proj', 'attn.add_k_proj', 'attn.add_v_proj', 'attn.to_add_out'],
  shift: 1,
  checkpointing_steps: 50,
  validation_steps: 25,
};

/** Problems with a config, each naming the field and what is allowed. Empty when valid. */
export function validateTrainConfig(c: TrainConfig): string[] {
  const errs: string[] = [];
  const int = (k: keyof TrainConfig, min: number) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < min) errs.push(`${k} must be an integer ≥ ${min}, got ${v}`);
  };
  const num = (k: keyof TrainConfig, min: number, max = Infinity, openMin = false) => {
    const v = c[k] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (openMin && v === min)) {
      errs.push(`${k} must be a number in ${openMin ? '(' : '['}${min}, ${max === Infinity ? '∞)' : max + ']'}, got ${v}`);
    }
  };
  if (!isMethod(c.method)) errs.push(`method must be one of ${METHOD_IDS.map((m) => `"${m}"`).join(', ')}, got ${JSON.stringify(c.method)}`);
  if (c.train_mode !== 'lora' && c.train_mode !== 'full') errs.push(`train_mode must be "lora" or "full"`);
  int('seed', 0);
  int('max_train_steps', 1);
  int('train_batch_size', 1);
  int('gradient_accumulation_steps', 1);
  num('learning_rate', 0, 1, true);
  if (!['constant', 'constant_with_warmup', 'cosine'].includes(c.lr_scheduler)) errs.push(`lr_scheduler must be constant, constant_with_warmup or cosine`);
  int('lr_warmup_steps', 0);
  num('adam_beta1', 0, 1);
  num('adam_beta2', 0, 1);
  num('adam_epsilon', 0, 1, true);
  num('adam_weight_decay', 0, 1);
  num('max_grad_norm', 0);
  if (c.weighting_scheme !== 'logit_normal' && c.weighting_scheme !== 'uniform') errs.push('weighting_scheme must be logit_normal or uniform');
  num('logit_std', 0, 10, true);
  num('logit_mean', -10, 10);
  num('cond_dropout_rate', 0, 1);
  if (c.train_mode === 'lora') {
    int('rank', 1);
    num('lora_alpha', 0, Infinity, true);
    if (!c.lora_targets.length) errs.push('lora_targets must name at least one module');
  }
  num('shift', 0, 100, true);
  int('checkpointing_steps', 1);
  int('validation_steps', 1);
  // The method's own fields (a method every run of which is valid may have none).
  if (isMethod(c.method)) errs.push(...methodInfo(c.method).validate(c));
  return errs;
}

/** Learning rate at optimizer step `step` (0-based). */
export function learningRate(c: TrainConfig, step: number): number {
  const warm = c.lr_scheduler === 'constant' ? 0 : c.lr_warmup_steps;
  if (step < warm) return (c.learning_rate * (step + 1)) / warm;
  if (c.lr_scheduler !== 'cosine') return c.learning_rate;
  const progress = Math.min(1, (step - warm) / Math.max(1, c.max_train_steps - warm));
  return c.learning_rate * 0.5 * (1 + Math.cos(Math.PI * progress));
}
