// The export bundle for the reference PyTorch trainer (HY-SOAR's soar/train_soar_sd3_5m.py), for a run that
// outgrows one browser: a zip of
//   data.jsonl          one {"md5", "caption_en", "bw", "bh"} per image (the reference's data format)
//   images/<md5>.jpg    the studio's training images (what the run trained on, at the model resolution), JPEG;
//                       md5 is the MD5 of the JPEG file's bytes, as the reference names its images
//   train.sh            the reference command line with this run's hyper-parameters under the same names
//   studio_config.json  the studio's whole TrainConfig (LoRA fields included) for the record
import { zipSync, type Zippable } from 'fflate';
import { DEFAULT_TRAIN, type TrainConfig } from '../train/config';
import type { StudioDataset } from './dataset';
import { chwToRgbaBytes, type ImageEncoder } from './images';
import { md5 } from './md5';

export interface BundleRow {
  md5: string;
  caption_en: string;
  bw: number;
  bh: number;
}

export function dataJsonl(rows: readonly BundleRow[]): string {
  return rows.map((r) => JSON.stringify({ md5: r.md5, caption_en: r.caption_en, bw: r.bw, bh: r.bh })).join('\n') + (rows.length ? '\n' : '');
}

/** The reference's README defaults: flags outside its command are written only when the run changed them. */
const README_FLAGS: Array<keyof TrainConfig> = [
  'train_batch_size',
  'gradient_accumulation_steps',
  'max_train_steps',
  'checkpointing_steps',
  'seed',
  'learning_rate',
  'lr_scheduler',
  'lr_warmup_steps',
  'adam_weight_decay',
  'max_grad_norm',
  'weighting_scheme',
];
const SOAR_FLAGS: Array<keyof TrainConfig> = ['num_rollout_paths', 'trajectory_length', 'num_sampling_steps', 'sde_rollout_type', 'sde_noise_scale', 'lambda_aux', 'cfg_scale_sampling'];
/** Flags the reference script takes with these names (diffusers-style), beyond its README command. */
const EXTRA_FLAGS: Array<keyof TrainConfig> = ['adam_beta1', 'adam_beta2', 'adam_epsilon', 'logit_mean', 'logit_std', 'cond_dropout_rate'];

function shellValue(v: unknown): string {
  const s = String(v);
  return /^[A-Za-z0-9_.+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface TrainScriptInfo {
  runName: string;
  resolution: number;
  images: number;
}

/**
 * train.sh: `accelerate launch soar/train_soar_sd3_5m.py` with the run's values. SFT is the same script with
 * --lambda_aux 0 (soar-spec §3). Extra arguments to the script are passed on ("$@").
 */
export function trainScript(cfg: TrainConfig, info: TrainScriptInfo): string {
  const flags: Array<[string, unknown]> = [
    ['pretrained_model_name_or_path', '"$MODEL"'],
    ['jsonl_path', '"$HERE/data.jsonl"'],
    ['image_dir', '"$HERE/images"'],
    ['output_dir', '"$OUT"'],
    ['resolution', info.resolution],
  ];
  for (const k of README_FLAGS) flags.push([k, cfg[k]]);
  flags.push(['mixed_precision', 'bf16']);
  for (const k of EXTRA_FLAGS) if (cfg[k] !== DEFAULT_TRAIN[k]) flags.push([k, cfg[k]]);
  const soar = cfg.method === 'soar';
  for (const k of SOAR_FLAGS) flags.push([k, k === 'lambda_aux' && !soar ? 0 : cfg[k]]);
  const slug = info.runName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'run';
  const lines = flags.map(([k, v]) => `  --${k} ${typeof v === 'string' && v.startsWith('"') ? v : shellValue(v)}`);
  return [
    '#!/usr/bin/env bash',
    `# SOAR Studio export of run "${info.runName}" (${soar ? 'SOAR' : 'SFT: the reference script with --lambda_aux 0'}), ${info.images} images at ${info.resolution}x${info.resolution}.`,
    '# For the reference PyTorch trainer, HY-SOAR (https://github.com/Tencent-Hunyuan/HY-SOAR): run this from a checkout',
    '# of it, with its environment. Multi-GPU: configure accelerate (DeepSpeed ZeRO-2 as in its README), or use',
    '#   torchrun --nproc_per_node=8 soar/train_soar_sd3_5m.py <the same flags>',
    '#',
    '# Differences from the studio run, by design of the reference trainer:',
    '#  - it fine-tunes every transformer weight of SD3.5-Medium (no LoRA): the studio run\'s rank, lora_alpha and',
    `#    lora_targets (${cfg.rank}, ${cfg.lora_alpha}, ${cfg.lora_targets.length} modules) have no flag there; they are in studio_config.json;`,
    '#  - it trains in the VAE latent space of SD3.5: the images here are the studio\'s training images at the studio',
    '#    resolution; for a real run, replace images/ and the bw/bh of data.jsonl with larger originals and raise',
    '#    --resolution (the README uses 512);',
    `#  - its sigma schedule uses shift 3.0 on a 1000-step grid; the studio run used shift ${cfg.shift}.`,
    'set -euo pipefail',
    'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    'MODEL="${MODEL:-stabilityai/stable-diffusion-3.5-medium}"',
    `OUT="\${OUT:-./output/${slug}}"`,
    '',
    'accelerate launch soar/train_soar_sd3_5m.py \\',
    lines.join(' \\\n') + ' \\',
    '  "$@"',
    '',
  ].join('\n');
}

export interface BundleResult {
  zip: Uint8Array;
  rows: BundleRow[];
  script: string;
}

/** Encodes every image, names it by its MD5, and zips the bundle. */
export async function buildBundle(dataset: StudioDataset, cfg: TrainConfig, runName: string, encode: ImageEncoder, onProgress?: (done: number, total: number) => void): Promise<BundleResult> {
  const r = dataset.resolution;
  const files: Zippable = {};
  const rows: BundleRow[] = [];
  for (let i = 0; i < dataset.size; i++) {
    const jpeg = await encode(chwToRgbaBytes(dataset.image(i), { width: r, height: r }), r, r);
    const hash = md5(jpeg);
    files[`images/${hash}.jpg`] = [jpeg, { level: 0 }]; // already compressed
    rows.push({ md5: hash, caption_en: dataset.caption(i), bw: r, bh: r });
    onProgress?.(i + 1, dataset.size);
  }
  const script = trainScript(cfg, { runName, resolution: r, images: dataset.size });
  const text = (s: string) => new TextEncoder().encode(s);
  files['data.jsonl'] = text(dataJsonl(rows));
  files['train.sh'] = [text(script), { os: 3, attrs: 0o755 << 16 }]; // unix, rwxr-xr-x
  files['studio_config.json'] = text(JSON.stringify({ run: runName, dataset: dataset.name, config: cfg }, null, 2) + '\n');
  return { zip: zipSync(files), rows, script };
}
