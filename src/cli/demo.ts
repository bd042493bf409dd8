// `npm run demo`: SFT vs SOAR vs Flow-GRPO from the shipped base, headless on Dawn, for several seeds.
//
// Per seed, from the same base, data (builtin:clean) and seed:
//   SFT          N steps
//   SOAR         N steps
//   SFT (equal compute)   N · stepCost(SOAR) steps: the extra steps SOAR's per-step cost would buy SFT
//   Flow-GRPO    N steps of online RL with the evaluator's reward (Fast: an SDE window of 2 of 6 steps)
//   SOAR, then Flow-GRPO  the same Flow-GRPO on top of this seed's SOAR LoRA (kept on, as the reference policy too)
// with each arm's compute (single-image forwards and backwards, wall time), so methods compare at equal compute
// as well as equal steps.
// each evaluated on held-out prompts at several sampling step counts (GenEval-style evaluator), with the
// fixed-seed validation loss and trajectory drift. The base is evaluated once (it does not depend on the seed).
// Writes report.md / report.json / loss-curves.png / a side-by-side sample grid, and per-seed LoRAs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinData } from '../data/source';
import type { LoadedBase } from '../io/base-runtime';
import { gridPng } from '../codec/png';
import { linePlotPng } from '../codec/plot';
import type { Engine } from '../tensor/engine';
import { validateTrainConfig, type TrainConfig } from '../train/config';
import { checkpointFromBytes } from '../io/checkpoint-file';
import type { LoraSet } from '../model/lora';
import { loraFromCheckpoint } from '../train/checkpoint-lora';
import { stepCost } from '../train/methods';
import { COMPARISON_RECIPE } from '../train/recipes';
import type { Args } from './args';
import { readBaseDir } from './base-dir';
import { armJson, evaluateBase, trainArm, type ArmResult } from './arms';
import type { EvalOptions } from './evaluate';
import { fmtTime } from './progress';

/** The demo's recipe; every value can be overridden by the flag of the same name. */
export const DEMO_DEFAULTS = {
  base: 'public/models/studio-s',
  out: 'runs/demo',
  seeds: '1,2,3',
  steps: COMPARISON_RECIPE.max_train_steps,
  data: 512,
  prompts: 16,
  evalSteps: '5,10,20',
  cfg: 4.5,
};

export type DemoArm = 'sft' | 'soar' | 'sft_equal_compute' | 'grpo' | 'soar_grpo';
const ARMS: Array<{ key: DemoArm; label: string }> = [
  { key: 'sft', label: 'SFT' },
  { key: 'soar', label: 'SOAR' },
  { key: 'sft_equal_compute', label: 'SFT (equal compute)' },
  { key: 'grpo', label: 'Flow-GRPO' },
  { key: 'soar_grpo', label: 'SOAR, then Flow-GRPO' },
];

/**
 * The demo's Flow-GRPO: the comparison recipe's LoRA and learning rate, half its batch as prompts with groups of
 * 4, Flow-GRPO-Fast (an SDE window of 2 in 6 sampling steps, CFG as the evaluation), the evaluator's reward.
 */
export function demoGrpoConfig(cfg: TrainConfig): TrainConfig {
  return {
    ...cfg,
    method: 'grpo',
    train_batch_size: Math.max(1, Math.floor(cfg.train_batch_size / 2)),
    sample_num_image_per_prompt: 4,
    sample_num_steps: 6,
    sample_sde_window_size: 2,
    sample_sde_window_range: [0, 6],
    reward_fn: 'geneval',
  };
}

/** Every option `demo` reads (checked before any work: src/cli/args.ts expect). */
export const DEMO_FLAGS = { values: ['base', 'out', 'seeds', 'steps', 'prompts', 'eval-steps', 'cfg', 'data'] } as const;

export async function demoCommand(engine: Engine, args: Args): Promise<number> {
  const d = DEMO_DEFAULTS;
  const baseDir = args.string('base', d.base);
  const out = args.string('out', d.out);
  const seeds = args.string('seeds', d.seeds).split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--seeds: ${JSON.stringify(s)} is not a seed (use e.g. --seeds 1,2,3)`);
    return n;
  });
  const steps = args.int('steps', d.steps);
  const evalOpts: EvalOptions = {
    prompts: args.int('prompts', d.prompts),
    stepCounts: args.string('eval-steps', d.evalSteps).split(',').map(Number),
    cfgScale: Number(args.string('cfg', String(d.cfg))),
    driftSamples: 4,
  };
  const base = readBaseDir(engine, baseDir, 'the demo needs the pretrained base (npm run soar -- pretrain writes it there)');
  // The validation loss is measured once, after training (validation_steps is the studio's cadence).
  const cfg: TrainConfig = { ...COMPARISON_RECIPE, shift: base.manifest.meta.shift, max_train_steps: steps };
  const errs = validateTrainConfig(cfg);
  if (errs.length) throw new Error(`invalid demo config:\n  ${errs.join('\n  ')}`);
  const cost = stepCost({ ...cfg, method: 'soar' }).relativeToSft;
  const equalSteps = Math.round(steps * cost);
  const data = builtinData('clean', args.int('data', d.data), base.manifest.meta.resolution);
  mkdirSync(out, { recursive: true });
  console.log(`demo: base ${base.manifest.id}, builtin:clean (${data.size}), ${steps} steps (SFT at equal compute: ${equalSteps}, SOAR step = ${cost.toFixed(2)} SFT steps), seeds ${seeds.join(', ')}`);
  const started = performance.now();

  const baseResult = await evaluateBase(engine, base, evalOpts);
  const perSeed: Array<{ seed: number; arms: Record<DemoArm, ArmResult> }> = [];
  for (const seed of seeds) {
    const dir = join(out, `seed-${seed}`);
    mkdirSync(dir, { recursive: true });
    const arms = {} as Record<DemoArm, ArmResult>;
    for (const arm of ARMS) {
      const grpo = arm.key === 'grpo' || arm.key === 'soar_grpo';
      const flowCfg: TrainConfig = { ...cfg, seed, method: arm.key === 'soar' ? 'soar' : 'sft', max_train_steps: arm.key === 'sft_equal_compute' ? equalSteps : steps };
      const armCfg = grpo ? { ...demoGrpoConfig(cfg), seed, max_train_steps: steps } : flowCfg;
      console.log(`seed ${seed}: ${arm.label}, ${armCfg.max_train_steps} steps`);
      // "SOAR, then Flow-GRPO": this seed's SOAR LoRA stays on under the new one (and is the KL's reference).
      const under = arm.key === 'soar_grpo' ? [soarLoraOf(engine, base, join(dir, 'soar.checkpoint.safetensors'))] : [];
      try {
        arms[arm.key] = await trainArm(engine, base, data, armCfg, arm.label, arm.key, dir, evalOpts, null, under);
      } finally {
        for (const l of under) l.release();
      }
    }
    perSeed.push({ seed, arms });
    writeFileSync(join(dir, 'result.json'), JSON.stringify({ seed, arms: Object.fromEntries(Object.entries(arms).map(([k, r]) => [k, armJson(r)])) }, null, 1));
  }
  const seconds = (performance.now() - started) / 1000;

  writeFileSync(join(out, 'loss-curves.png'), lossCurves(perSeed));
  writeFileSync(join(out, 'samples.png'), sideBySide(baseResult, perSeed[0].arms));
  const report = demoReport({ base, cfg, steps, equalSteps, cost, seeds, evalOpts, baseResult, perSeed, seconds, dataSize: data.size, args });
  writeFileSync(join(out, 'report.md'), report.markdown);
  writeFileSync(join(out, 'report.json'), JSON.stringify(report.json, null, 1));
  console.log(report.markdown);
  console.log(`wrote ${join(out, 'report.md')}, report.json, loss-curves.png, samples.png and seed-*/ (LoRAs, checkpoints)`);
  return 0;
}

/** Mean and sample standard deviation (0 for a single value). */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

const pm = (xs: readonly number[], digits = 3) => {
  const { mean, std } = meanStd(xs);
  return xs.length > 1 ? `${mean.toFixed(digits)} ± ${std.toFixed(digits)}` : mean.toFixed(digits);
};

const COLORS: Record<DemoArm, readonly [number, number, number]> = {
  sft: [40, 100, 220],
  soar: [230, 120, 20],
  sft_equal_compute: [60, 170, 90],
  grpo: [160, 60, 200], // not plotted (see lossCurves), kept so every arm has a colour
  soar_grpo: [200, 40, 80],
};

/** A SOAR arm's LoRA from its checkpoint file, for the arm trained on top of it. */
function soarLoraOf(engine: Engine, base: LoadedBase, path: string): LoraSet {
  const ck = checkpointFromBytes(new Uint8Array(readFileSync(path)));
  return loraFromCheckpoint(engine, base.manifest.config, ck.config, ck, 'soar');
}

/** Total loss per step, mean over seeds, window-10 smoothed; SFT blue, SOAR orange, SFT (equal compute) green. */
function lossCurves(perSeed: Array<{ arms: Record<DemoArm, ArmResult> }>): Uint8Array {
  // Flow-GRPO's loss is a policy objective (signed, about 0), not a flow-matching loss: it has no place here.
  const series = ARMS.filter(({ key }) => key !== 'grpo' && key !== 'soar_grpo').map(({ key }) => {
    const histories = perSeed.map((s) => s.arms[key].history ?? []);
    const n = Math.min(...histories.map((h) => h.length));
    const mean = Array.from({ length: n }, (_, i) => histories.reduce((s, h) => s + h[i].loss, 0) / histories.length);
    const w = 10;
    const points = mean.map((_, i) => [i + 1, meanStd(mean.slice(Math.max(0, i - w + 1), i + 1)).mean] as const);
    return { color: COLORS[key], points };
  });
  return linePlotPng(series, { logY: true });
}

/** Rows = prompts, columns = base and every arm in ARMS order, largest sampling step count, first seed. */
function sideBySide(base: ArmResult, arms: Record<DemoArm, ArmResult>): Uint8Array {
  const cols = [base, ...ARMS.map((a) => arms[a.key])];
  const rows = Math.min(12, base.eval.images.length);
  const images = Array.from({ length: rows }, (_, i) => cols.map((c) => c.eval.images[i])).flat();
  return gridPng(images, { cols: cols.length, scale: 3 });
}

interface ReportInput {
  base: LoadedBase;
  cfg: TrainConfig;
  steps: number;
  equalSteps: number;
  cost: number;
  seeds: number[];
  evalOpts: EvalOptions;
  baseResult: ArmResult;
  perSeed: Array<{ seed: number; arms: Record<DemoArm, ArmResult> }>;
  seconds: number;
  dataSize: number;
  args: Args;
}

function demoReport(r: ReportInput): { markdown: string; json: unknown } {
  const stepCounts = r.evalOpts.stepCounts;
  const metric = (res: ArmResult[], i: number, f: (a: ArmResult, i: number) => number) => pm(res.map((a) => f(a, i)));
  const row = (label: string, res: ArmResult[]) =>
    stepCounts.map((s, i) => `| ${label} | ${s} | ${metric(res, i, (a, j) => a.eval.byStep[j].overall)} | ${metric(res, i, (a, j) => a.eval.byStep[j].novel)} | ${metric(res, i, (a, j) => a.eval.byStep[j].inDistribution)} | ${pm(res.map((a) => a.eval.drift[i].final), 4)} |`);
  const armsOf = (key: DemoArm) => r.perSeed.map((s) => s.arms[key]);
  const tasks = Object.keys(r.baseResult.eval.byStep.at(-1)!.perTask);
  const last = stepCounts.length - 1;
  const taskRow = (label: string, res: ArmResult[]) => `| ${label} | ${tasks.map((t) => pm(res.map((a) => a.eval.byStep[last].perTask[t] ?? 0), 2)).join(' | ')} |`;
  const flags = r.args.entries().map(([k, v]) => (v === true ? `--${k}` : `--${k} ${v}`)).join(' ');
  const markdown = [
    `# SFT vs SOAR vs Flow-GRPO on ${r.base.manifest.id} (npm run demo)`,
    '',
    `Reproduce: \`npm run demo${flags ? ' -- ' + flags : ''}\` (${fmtTime(r.seconds)} on this machine: Dawn on SwiftShader, a CPU rasteriser). Seeds ${r.seeds.join(', ')}: mean ± sample standard deviation over seeds.`,
    '',
    `From the same base, data (builtin:clean, ${r.dataSize} images; no held-out colour–shape pair in it) and seed: LoRA rank ${r.cfg.rank} (alpha ${r.cfg.lora_alpha}) on ${r.cfg.lora_targets.join(', ')}, batch ${r.cfg.train_batch_size}, AdamW lr ${r.cfg.learning_rate} constant.`,
    `SFT and SOAR train ${r.steps} steps; SOAR: lambda_aux ${r.cfg.lambda_aux}, trajectory_length ${r.cfg.trajectory_length}, ${r.cfg.num_rollout_paths} rollout path, rollout step 1/${r.cfg.num_sampling_steps} with CFG ${r.cfg.cfg_scale_sampling}.`,
    `One SOAR step costs ${r.cost.toFixed(2)} SFT steps (forwards + 2 × backwards), so "SFT (equal compute)" trains ${r.equalSteps} steps.`,
    `Evaluation: ${r.evalOpts.prompts} held-out prompts (half name a colour–shape pair the clean split never shows), Euler with CFG ${r.evalOpts.cfgScale}, one fixed noise seed per prompt, at ${stepCounts.join(', ')} sampling steps; drift = mean over images of the RMS distance of the final state from the ideal path on ${r.evalOpts.driftSamples} clean images (lower is better).`,
    '',
    '| model | sampling steps | overall | novel pairs | in-distribution | final drift |',
    '|---|---|---|---|---|---|',
    ...row('base', [r.baseResult]),
    ...ARMS.flatMap((a) => row(a.label, armsOf(a.key))),
    '',
    `Per task at ${stepCounts[last]} steps:`,
    '',
    `| model | ${tasks.join(' | ')} |`,
    `|---|${tasks.map(() => '---').join('|')}|`,
    taskRow('base', [r.baseResult]),
    ...ARMS.map((a) => taskRow(a.label, armsOf(a.key))),
    '',
    `Validation loss after training (fixed noise and t, SFT objective, lower is better): ${ARMS.map((a) => `${a.label} ${pm(armsOf(a.key).map((x) => x.validation!), 5)}`).join(', ')}.`,
    `Flow-GRPO (both arms): ${r.steps} steps of ${demoGrpoConfig(r.cfg).train_batch_size} prompts × 4 images, reward = the evaluator's partial score on the training captions, Flow-GRPO-Fast (SDE window of 2 in 6 sampling steps, CFG ${r.cfg.cfg_scale_sampling}), lr ${r.cfg.learning_rate}; "SOAR, then Flow-GRPO" starts from each seed's SOAR LoRA.`,
    '',
    '| arm | steps | forwards | backwards | train time (s) |',
    '|---|---|---|---|---|',
    ...ARMS.map((a) => {
      const res = armsOf(a.key);
      const c = res[0].compute;
      return `| ${a.label} | ${res[0].steps} | ${c ? Math.round(c.forwards).toLocaleString('en-US') : '-'} | ${c ? Math.round(c.backwards).toLocaleString('en-US') : '-'} | ${pm(res.map((x) => x.trainSeconds), 0)} |`;
    }),
    '',
    'Forwards and backwards count single-image transformer passes (a batch of 8 is 8), from each method\'s declared passes: the compute each arm spent, so arms compare at equal compute as well as equal steps.',
    '',
    'Pictures: loss-curves.png (mean over seeds, smoothed; SFT blue, SOAR orange, SFT at equal compute green; the Flow-GRPO arms train a policy objective, not a flow-matching loss, so their rewards are in the histories of report.json instead), samples.png (rows = prompts, columns = base | ' + ARMS.map((a) => a.label).join(' | ') + ', seed ' + r.seeds[0] + `, ${stepCounts[last]} steps). LoRAs and checkpoints per seed in seed-*/.`,
    '',
  ].join('\n');
  const json = {
    base: r.base.manifest.id,
    config: r.cfg,
    steps: r.steps,
    equalComputeSteps: r.equalSteps,
    soarStepCost: r.cost,
    seeds: r.seeds,
    eval: r.evalOpts,
    seconds: r.seconds,
    baseResult: armJson(r.baseResult),
    perSeed: r.perSeed.map((s) => ({ seed: s.seed, arms: Object.fromEntries(Object.entries(s.arms).map(([k, a]) => [k, armJson(a)])) })),
  };
  return { markdown, json };
}
