// The bundle runs on the reference trainer as written (issue #22): every flag train.sh passes exists in the
// reference script's argparse with a value of its type and within its choices, for every kind of run the
// exporter writes; launch.sh refuses what would fail there. The argparse is a fixture transcribed from
// HY-SOAR's soar/train_soar_sd3_5m.py (fixtures/hy-soar-argparse.json names the commit). The scripts are run
// by bash for real (DRY_RUN=1 prints the command without training), with stand-ins for python and torchrun.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { launchScript, trainScript } from '../../src/worker/bundle';
import fixture from './fixtures/hy-soar-argparse.json';

interface FlagSpec {
  type: 'str' | 'int' | 'float' | 'store_true';
  default: unknown;
  choices?: string[];
  required?: boolean;
}
const FLAGS = fixture.flags as Record<string, FlagSpec>;
const DOWNSTREAM = fixture.downstream as Record<string, { choices: string[] }>;
const hasBash = spawnSync('bash', ['-c', 'true']).status === 0;

/** What argparse would reject in `argv` (the script's arguments), as messages; a subset of Python's rules, no looser. */
function argparseProblems(argv: string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (!tok.startsWith('--')) {
      problems.push(`stray argument ${tok}`);
      continue;
    }
    const name = tok.slice(2);
    const spec = FLAGS[name];
    if (!spec) {
      problems.push(`--${name}: not an argument of the reference script`);
      continue;
    }
    seen.add(name);
    if (spec.type === 'store_true') continue; // takes no value
    const v = argv[++i];
    if (v === undefined || v.startsWith('--')) {
      problems.push(`--${name}: no value`);
      i--;
      continue;
    }
    if (spec.type === 'int' && !/^[+-]?\d+$/.test(v)) problems.push(`--${name} ${v}: not an int`);
    if (spec.type === 'float' && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) problems.push(`--${name} ${v}: not a float`);
    const choices = spec.choices ?? DOWNSTREAM[name]?.choices;
    if (choices && !choices.includes(v)) problems.push(`--${name} ${v}: not one of ${choices.join(', ')}`);
  }
  for (const [name, spec] of Object.entries(FLAGS)) if (spec.required && !seen.has(name)) problems.push(`--${name} is required`);
  return problems;
}

/** The argv of the command train.sh prints (printf %q: our values and the test's paths need no quoting). */
function printedCommand(stdout: string): string[] {
  const argv = stdout.trim().split(/\s+/);
  const m = argv.indexOf('-m');
  expect(argv[0]).toBe('torchrun');
  expect(argv[m + 1]).toBe('sora.train_soar_sd3_5m');
  return argv.slice(m + 2);
}

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'soar-bundle-'));
}

function run(script: string, env: Record<string, string>, args: string[] = []) {
  return spawnSync('bash', [script, ...args], { env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env }, encoding: 'utf8' });
}

/** Every branch of the exporter: method, weighting, schedule, flags written only when changed, checkpoint translation. */
const RUNS: Array<[string, Partial<TrainConfig>]> = [
  ['SOAR defaults', { method: 'soar' }],
  ['SFT', { method: 'sft' }],
  ['uniform weighting', { weighting_scheme: 'uniform', logit_std: 1.5 }],
  ['logit-normal changed', { logit_mean: -0.5, logit_std: 1.5 }],
  ['warmup schedule', { lr_scheduler: 'constant_with_warmup', lr_warmup_steps: 20 }],
  ['cosine schedule', { lr_scheduler: 'cosine', lr_warmup_steps: 5, max_train_steps: 5000 }],
  ['Adam and dropout changed', { adam_beta1: 0.8, adam_beta2: 0.99, adam_epsilon: 1e-6, cond_dropout_rate: 0.1, adam_weight_decay: 0 }],
  ['stochastic paths', { num_rollout_paths: 3, sde_rollout_type: 'cps', sde_noise_scale: 0.7, trajectory_length: 2, cfg_scale_sampling: 7 }],
  ['other rollouts', { sde_rollout_type: 'simple', num_sampling_steps: 10, lambda_aux: 0.5 }],
  ['accumulation', { gradient_accumulation_steps: 4, train_batch_size: 1, seed: 0, max_grad_norm: 0.5 }],
];

describe('bundle against the reference argparse', () => {
  it('the fixture is the reference script\'s parser, and the studio defaults match it where the exporter relies on that', () => {
    expect(fixture.source).toMatchObject({ repository: 'Tencent-Hunyuan/HY-SOAR', path: 'soar/train_soar_sd3_5m.py' });
    expect(FLAGS.weighting_scheme.choices).toEqual(['sigma_sqrt', 'logit_normal', 'mode', 'cosmap']);
    // Flags the exporter omits at their defaults (bundle-args.ts EXTRA_FLAGS, logit_*) default alike there.
    for (const k of ['adam_beta1', 'adam_beta2', 'adam_epsilon', 'cond_dropout_rate', 'logit_mean', 'logit_std'] as const) expect(FLAGS[k].default, k).toBe(DEFAULT_TRAIN[k]);
    expect(argparseProblems(['--nope', '1', '--seed', '1.5', '--weighting_scheme', 'uniform', '--allow_tf32'])).toEqual([
      '--nope: not an argument of the reference script',
      'stray argument 1',
      '--seed 1.5: not an int',
      '--weighting_scheme uniform: not one of sigma_sqrt, logit_normal, mode, cosmap',
      '--pretrained_model_name_or_path is required',
      '--jsonl_path is required',
      '--image_dir is required',
    ]);
  });

  it.skipIf(!hasBash).each(RUNS)('train.sh of a run (%s) passes only flags the script accepts, with valid values', (_, change) => {
    const cfg = { ...DEFAULT_TRAIN, ...change };
    const d = dir();
    writeFileSync(join(d, 'train.sh'), trainScript(cfg, { runName: 'Run (x)', size: 512, images: 64 }));
    const r = run(join(d, 'train.sh'), { DRY_RUN: '1', MODEL: '/models/sd35m', GPUS: '8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const argv = printedCommand(r.stdout);
    expect(argparseProblems(argv)).toEqual([]);
    const flags = new Map<string, string | null>();
    for (let i = 0; i < argv.length; i++) flags.set(argv[i].slice(2), FLAGS[argv[i].slice(2)].type === 'store_true' ? null : argv[++i]);
    expect(Object.fromEntries(flags)).toMatchObject({ pretrained_model_name_or_path: '/models/sd35m', jsonl_path: `${d}/data.jsonl`, image_dir: `${d}/images`, output_dir: './output/run-x', resolution: '512', learning_rate: '0.00002', mixed_precision: 'bf16', dataloader_num_workers: '16', report_to: 'tensorboard' });
    for (const f of ['gradient_checkpointing', 'allow_tf32']) expect(flags.has(f), f).toBe(true);
    expect(flags.get('lambda_aux')).toBe(cfg.method === 'sft' ? '0' : String(cfg.lambda_aux));
    expect(r.stdout).toContain('--nproc_per_node=8');
  });

  it.skipIf(!hasBash)('arguments after the script override its flags (argparse keeps the last one)', () => {
    const d = dir();
    writeFileSync(join(d, 'train.sh'), trainScript(DEFAULT_TRAIN, { runName: 'r', size: 512, images: 64 }));
    const argv = printedCommand(run(join(d, 'train.sh'), { DRY_RUN: '1' }, ['--learning_rate', '1e-5']).stdout);
    expect(argv.slice(-2)).toEqual(['--learning_rate', '1e-5']);
    expect(argparseProblems(argv)).toEqual([]);
  });

  it.skipIf(!hasBash)('launch.sh checks the checkout, the model, the GPUs and the image count, fixes the import path, then runs train.sh', () => {
    const d = dir();
    const cfg = { ...DEFAULT_TRAIN, train_batch_size: 4 };
    const info = { runName: 'r', size: 512, images: 10 };
    writeFileSync(join(d, 'train.sh'), trainScript(cfg, info));
    writeFileSync(join(d, 'launch.sh'), launchScript(cfg, info));
    // A checkout, a model folder, and stand-ins: python prints the GPU count it is told, torchrun is never run.
    const repo = join(d, 'HY-SOAR');
    mkdirSync(join(repo, 'soar'), { recursive: true });
    writeFileSync(join(repo, 'soar', 'train_soar_sd3_5m.py'), '');
    const model = join(d, 'sd35m');
    for (const p of ['transformer', 'vae', 'scheduler', 'text_encoder', 'text_encoder_2', 'text_encoder_3', 'tokenizer', 'tokenizer_2', 'tokenizer_3']) mkdirSync(join(model, p), { recursive: true });
    const bin = join(d, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'python'), '#!/bin/sh\ncat >/dev/null\necho "$FAKE_GPUS"\n');
    writeFileSync(join(bin, 'torchrun'), '#!/bin/sh\nexit 99\n');
    chmodSync(join(bin, 'python'), 0o755);
    chmodSync(join(bin, 'torchrun'), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH}`, HY_SOAR: repo, MODEL: model, DRY_RUN: '1' };

    const ok = run(join(d, 'launch.sh'), { ...env, FAKE_GPUS: '2' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('2 GPU(s), 10 images, batch 4 per GPU: 1 steps per epoch');
    expect(ok.stdout).toContain('--nproc_per_node=2');
    expect(argparseProblems(printedCommand(ok.stdout))).toEqual([]);
    // `sora` resolves to the checkout's soar/ through a symlink in the bundle, first on PYTHONPATH.
    expect(readlinkSync(join(d, '.pyshim', 'sora'))).toBe(join(repo, 'soar'));

    const fail = (extra: Record<string, string>) => {
      const r = run(join(d, 'launch.sh'), { ...env, FAKE_GPUS: '2', ...extra });
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe(''); // nothing was run
      return r.stderr;
    };
    expect(fail({ FAKE_GPUS: '4' })).toContain('10 images, but 4 GPU(s) x batch 4 need at least 16: use GPUS=2 or fewer');
    expect(fail({ GPUS: '3' })).toContain('GPUS=3, but torch sees 2 GPU(s)');
    expect(fail({ FAKE_GPUS: '0' })).toContain('torch sees no CUDA GPU');
    expect(fail({ MODEL: join(d, 'nowhere', 'model') })).toContain('no such folder');
    mkdirSync(join(d, 'partial', 'vae'), { recursive: true });
    expect(fail({ MODEL: join(d, 'partial') })).toContain('has no transformer/');
    expect(fail({ HY_SOAR: d })).toContain('no soar/train_soar_sd3_5m.py');
    // A Hub id is no folder: it goes on, saying where the weights come from.
    const hub = run(join(d, 'launch.sh'), { ...env, FAKE_GPUS: '1', MODEL: 'stabilityai/stable-diffusion-3.5-medium' });
    expect(hub.status, hub.stderr).toBe(0);
    expect(hub.stderr).toContain('fetched from the Hugging Face Hub');
    expect(existsSync(join(d, 'HY-SOAR', 'sora'))).toBe(false); // the checkout is left as it was
  });
});
