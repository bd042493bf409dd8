// The studio run's TrainConfig as arguments of the reference trainer, HY-SOAR's soar/train_soar_sd3_5m.py
// (github.com/Tencent-Hunyuan/HY-SOAR). Most fields share their name and meaning; the ones that do not carry over
// are translated here, each with the reason, for the bundle's README. test/worker/fixtures/hy-soar-argparse.json
// holds the script's argparse (names, types, choices) and the tests check every flag written here against it.
import { DEFAULT_TRAIN, type TrainConfig } from '../train/config';

/** Learning rate for a full fine-tune of SD3.5-Medium: the reference README's default. */
export const REFERENCE_LEARNING_RATE = 2e-5;
/** The reference README checkpoints every 1000 of 5000 steps: a fifth of the run, at most 1000 steps apart. */
export const REFERENCE_CHECKPOINT_FRACTION = 5;
export const REFERENCE_CHECKPOINT_MAX = 1000;
/** --dataloader_num_workers of the reference README's command. */
export const REFERENCE_DATALOADER_WORKERS = 16;

/** A flag's value as written on the command line; null for a store_true flag (no value). */
export type ArgValue = string | number | null;

export interface Translated {
  flag: string;
  studio: string;
  reference: string;
  why: string;
}

export interface ReferenceArgs {
  /** In the reference README's order, then the flags beyond it; the paths are train.sh's to add. */
  args: Array<[string, ArgValue]>;
  /** Values that differ from the studio run, for the bundle README. */
  translated: Translated[];
}

/** A run the reference script cannot reproduce: what to tell the user instead of a bundle that fails or lies. */
export class BundleError extends Error {
  constructor(
    message: string,
    readonly advice: string,
  ) {
    super(message);
    this.name = 'BundleError';
  }
}

/** Flags beyond the README's command, written only when the run changed them from the defaults (the studio's
 *  defaults for these equal the reference's: a test holds the fixture to that). */
const EXTRA_FLAGS = ['adam_beta1', 'adam_beta2', 'adam_epsilon', 'cond_dropout_rate'] as const;
const SOAR_FLAGS = ['num_rollout_paths', 'trajectory_length', 'num_sampling_steps', 'sde_rollout_type', 'sde_noise_scale', 'lambda_aux', 'cfg_scale_sampling'] as const;

/** Checkpoint interval of the reference run: the studio's, or a fifth of the run if that is longer (about five
 *  checkpoints at most), capped at the README's 1000. */
export function referenceCheckpointSteps(cfg: TrainConfig): number {
  const fifth = Math.ceil(cfg.max_train_steps / REFERENCE_CHECKPOINT_FRACTION);
  return Math.max(1, Math.min(REFERENCE_CHECKPOINT_MAX, Math.max(cfg.checkpointing_steps, fifth)));
}

/** The reference arguments for a run trained on `size`×`size` images. Throws BundleError for what has no equivalent. */
export function referenceArgs(cfg: TrainConfig, size: number): ReferenceArgs {
  if (cfg.method !== 'soar' && cfg.method !== 'sft') {
    throw new BundleError(
      `a ${cfg.method} run has no counterpart in the reference trainer: train_soar_sd3_5m.py trains SOAR (and SFT, with --lambda_aux 0) only`,
      'Export the bundle from an SFT or SOAR run.',
    );
  }
  const translated: Translated[] = [];
  const args: Array<[string, ArgValue]> = [];
  const lr = REFERENCE_LEARNING_RATE;
  translated.push({
    flag: 'learning_rate',
    studio: String(cfg.learning_rate),
    reference: String(lr),
    why: `the studio's rate is for ${cfg.train_mode === 'lora' ? 'LoRA adapters' : 'its own small model'}; the reference fine-tunes every weight of SD3.5-Medium, for which its README uses ${lr}`,
  });
  const ckpt = referenceCheckpointSteps(cfg);
  if (ckpt !== cfg.checkpointing_steps) {
    translated.push({
      flag: 'checkpointing_steps',
      studio: String(cfg.checkpointing_steps),
      reference: String(ckpt),
      why: `each reference checkpoint is a whole transformer (gigabytes), not a LoRA: about one per fifth of the run at most (its README: every 1000 of 5000 steps)`,
    });
  }
  args.push(
    ['resolution', size], // accepted but unused by the script: each row's bw/bh size the images
    ['train_batch_size', cfg.train_batch_size],
    ['gradient_accumulation_steps', cfg.gradient_accumulation_steps],
    ['max_train_steps', cfg.max_train_steps],
    ['checkpointing_steps', ckpt],
    ['seed', cfg.seed],
    ['learning_rate', lr],
    ['lr_scheduler', cfg.lr_scheduler],
    ['lr_warmup_steps', cfg.lr_warmup_steps],
    ['adam_weight_decay', cfg.adam_weight_decay],
    ['max_grad_norm', cfg.max_grad_norm],
  );
  if (cfg.weighting_scheme === 'uniform') {
    // The script's choices are sigma_sqrt, logit_normal, mode, cosmap. diffusers' (0.33.1) "mode" draws
    // u' = 1 − u − mode_scale·(cos²(πu/2) − 1 + u), which is 1 − u ~ U(0, 1) at mode_scale 0, with a loss weight
    // of 1: exactly the studio's uniform. (sigma_sqrt and cosmap also draw U(0, 1) but weight the loss.)
    args.push(['weighting_scheme', 'mode'], ['mode_scale', 0]);
    translated.push({ flag: 'weighting_scheme', studio: 'uniform', reference: 'mode --mode_scale 0', why: 'the reference has no "uniform"; "mode" at scale 0 draws t uniformly with unit loss weight, the same thing' });
  } else {
    args.push(['weighting_scheme', 'logit_normal']);
    if (cfg.logit_mean !== DEFAULT_TRAIN.logit_mean) args.push(['logit_mean', cfg.logit_mean]);
    if (cfg.logit_std !== DEFAULT_TRAIN.logit_std) args.push(['logit_std', cfg.logit_std]);
  }
  // The rest of the reference README's command: memory and speed settings of the GPU run, not hyper-parameters.
  args.push(['mixed_precision', 'bf16'], ['dataloader_num_workers', REFERENCE_DATALOADER_WORKERS], ['gradient_checkpointing', null], ['allow_tf32', null], ['report_to', 'tensorboard']);
  for (const k of EXTRA_FLAGS) if (cfg[k] !== DEFAULT_TRAIN[k]) args.push([k, cfg[k]]);
  // SFT is the same script with the auxiliary loss off (soar-spec §3).
  for (const k of SOAR_FLAGS) args.push([k, k === 'lambda_aux' && cfg.method === 'sft' ? 0 : cfg[k]]);
  return { args, translated };
}
