// `npm run soar -- <command> [--flag value ...]`: the headless studio on Dawn.
//   pretrain   [--preset studio-s --steps N ...]                the shipped base from scratch (see pretrain.ts)
//   init-base  --preset tiny|studio-s --seed N --out DIR          a randomly initialised base bundle
//   train      --base DIR --data builtin:clean[:N]|FOLDER --method sft|soar|grpo --steps N --out RUN [--config cfg.json]
//              [--resume] [--<any TrainConfig field> value]
//   sample     --base DIR --prompt "..." [--prompts-file F] [--lora FILE[:weight] ...] [--seed N --steps N --cfg W --count N] --out grid.png
// Every command prints what it did; errors say what was wrong and exit non-zero.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { closeNodeGpu, nodeGpu } from '../gpu/node';
import { Gpu } from '../gpu/runtime';
import { Engine } from '../tensor/engine';
import { builtinData } from '../data/source';
import { createJsImageDecoder, heldOutSplit, ingestDataset, toTrainingData, type IngestOptions } from '../data/ingest';
import { entriesFromDirectory } from '../data/ingest/node-entries';
import type { SplitName } from '../data/builtin/dataset';
import { builtinVocabulary } from '../encode/builtin-vocab';
import { randomBase, saveBase, type LoadedBase } from '../io/base-runtime';
import { checkpointFromBytes, checkpointToBytes } from '../io/checkpoint-file';
import { gridPng } from '../codec/png';
import { concatFloats } from '../codec/concat';
import { linePlotPng } from '../codec/plot';
import { exportLora, importLora } from '../io/lora-format';
import { DEFAULT_TRAIN, validateTrainConfig, type TrainConfig } from '../train/config';
import { isObject, parseJson, show } from '../codec/json';
import { loraFromCheckpoint } from '../train/checkpoint-lora';
import { isMethod, METHOD_IDS } from '../train/methods';
import { Trainer, type TrainingData } from '../train/trainer';
import { Rng } from '../tensor/ops/rng';
import { modelVelocity, sample } from '../sample/sampler';
import { ProgressBar, stepLine } from './progress';
import { evaluateModel, type EvalOptions } from './evaluate';
import { EXTRACTION_TARGETS, LoraSet } from '../model/lora';
import { SafetensorsError } from '../codec/safetensors';
import { tunedFilesAt } from '../io/node-byte-source';
import { openTunedTransformer, TunedInputError } from '../io/tuned-transformer';
import { extractLoraFromFiles, summarizeEnergy } from '../io/tuned-to-lora';
import { openExtractionBase, type ExtractionBase } from '../io/extraction-base';
import { parseArgs, type Args } from './args';
import { readBaseDir, writeBaseDir } from './base-dir';
import { armJson, evalRows, evaluateBase, trainArm, type ArmResult } from './arms';
import { PRETRAIN_FLAGS, pretrainCommand } from './pretrain';
import { DEMO_FLAGS, demoCommand } from './demo';
import { uploadEmbeddings } from '../encode/cache';
import { tuneCliEngine } from './kernel-cache';

export const USAGE = `usage: npm run soar -- <command> [options]
  pretrain  [--preset studio-s --steps 720 --batch 16 --lr 2e-3 --text-encoder-lr-scale 0.1 --logit-mean 0 --weighting logit_normal|uniform --seed 1 --out public/models/studio-s --work pretrain/studio-s] [--resume]
            [--minutes M --checkpoint-minutes 5 --ema 0.995 --chunk-eval-prompts 16 --images N --warmup 50 --caption-dropout 0.1 --checkpoint-every 50]
            the built-in base from scratch: denoiser + text encoder on builtin:broad, then a model card with evaluator scores;
            with --minutes, one chunk of a long run (checkpointed; the same command with --resume continues it exactly)
  demo      [--base public/models/studio-s --seeds 1,2,3 --steps 30 --prompts 16 --eval-steps 5,10,20 --out runs/demo]
            SFT, SOAR and SFT at SOAR's compute from the shipped base, per seed; mean ± spread report (also: npm run demo)
  init-base --preset tiny|studio-s [--seed 1] --out DIR
  train     --base DIR --data builtin:clean[:COUNT]|FOLDER --method sft|soar|grpo [--steps N] --out RUN_DIR [--config cfg.json] [--resume]
            [--held-out 0.05]: a folder's share kept out of training for the validation loss (listed in RUN_DIR/held-out.txt)
            any training field as a flag: --learning_rate 1e-3 --lambda_aux 1 --trajectory_length 6 ...
  sample    --base DIR --prompt "a red circle" [--prompt ... | --prompts-file FILE] [--lora FILE[:weight] ...] [--count 1 --seed 0 --steps 20 --cfg 4.5] --out grid.png
            one column per model (base, each LoRA, all together), one row per prompt and seed; [--trajectory strip.png]
  eval      --base DIR [--checkpoint RUN/checkpoint.safetensors] [--prompts 24 --eval-steps 10,20,40 --cfg 4.5] --out report.json
  extract-lora --base DIR|transformer.safetensors|TRANSFORMER_DIR --tuned transformer.safetensors|TRANSFORMER_DIR [--rank 8 --method soar --targets attn.to_q,...] --out lora.safetensors
            a full fine-tune (e.g. the reference trainer's) as a LoRA: truncated SVD of each module's weight difference;
            --base is a base bundle or the diffusers transformer it started from; both are read by range, a tensor at a time
  compare   --base DIR --data builtin:clean[:COUNT] --steps N [training flags] [--prompts 24 --eval-steps 10,20,40] --out DIR
            SFT and SOAR LoRAs from the same base, seed and data; evaluator scores, validation loss and drift`;

/** Every training field by its reference-trainer name (TrainConfig), as a flag of train and compare. */
const TRAIN_FIELDS = Object.keys(DEFAULT_TRAIN);
const EVAL_FLAGS = ['prompts', 'eval-steps', 'cfg', 'drift-samples'];

/** Share of a dataset folder's images held out of training for the validation loss (train, compare). */
const DEFAULT_HELD_OUT = 0.05;

function heldOutFraction(args: Args): number {
  const v = Number(args.string('held-out', String(DEFAULT_HELD_OUT)));
  if (!(v >= 0 && v < 1)) throw new Error(`--held-out must be a fraction in [0, 1) (0: hold nothing out), got ${args.string('held-out', '')}`);
  return v;
}

/** The options each command takes; anything else is refused before the command starts (Args.expect). */
export const COMMAND_FLAGS: Record<string, { values: readonly string[]; switches?: readonly string[]; repeatable?: readonly string[] }> = {
  pretrain: PRETRAIN_FLAGS,
  demo: DEMO_FLAGS,
  'init-base': { values: ['preset', 'seed', 'out'] },
  train: { values: ['base', 'data', 'held-out', 'out', 'config', 'method', 'steps', ...TRAIN_FIELDS], switches: ['resume'] },
  sample: { values: ['base', 'prompt', 'prompts-file', 'lora', 'count', 'steps', 'cfg', 'seed', 'out', 'trajectory'], repeatable: ['prompt', 'lora'] },
  eval: { values: ['base', 'checkpoint', 'out', ...EVAL_FLAGS] },
  'extract-lora': { values: ['base', 'tuned', 'rank', 'method', 'targets', 'out'] },
  compare: { values: ['base', 'data', 'held-out', 'out', 'config', 'method', 'steps', ...TRAIN_FIELDS, ...EVAL_FLAGS] },
};

/**
 * `extract-lora`: a full fine-tune (the reference trainer's transformer: one safetensors with diffusers names, or
 * the `transformer/` folder with its shards and index) back as a LoRA of the base: a truncated SVD of each targeted
 * module's weight difference (src/io/tuned-to-lora.ts), with the share of the difference's energy kept per module
 * in extraction.json. The base is a studio bundle folder or a diffusers transformer (src/io/extraction-base.ts).
 * Both are read a tensor at a time and no model is loaded on the GPU, so either may be over Node's 2 GiB file
 * limit (SD3.5-Medium's ~5 GB transformer): memory holds about one weight pair.
 */
async function extractLoraCommand(engine: Engine, args: Args): Promise<number> {
  const basePath = args.required('base');
  if (!existsSync(basePath)) throw new Error(`--base ${JSON.stringify(basePath)}: no such file or folder (a base bundle folder, or the base's diffusers transformer folder or .safetensors)`);
  const tunedPath = args.required('tuned');
  if (!existsSync(tunedPath)) throw new Error(`--tuned ${JSON.stringify(tunedPath)}: no such file or folder (the fine-tuned transformer's .safetensors, or its folder)`);
  const rank = args.int('rank', 8);
  const method = args.string('method', 'soar');
  if (!isMethod(method)) throw new Error(`--method must be one of ${METHOD_IDS.join(', ')} (what trained the fine-tune), got ${method}`);
  const targets = args.string('targets', EXTRACTION_TARGETS.join(',')).split(',');
  const out = args.required('out');
  /** A refusal of an input, prefixed with the flag that gave it. */
  const refused = (flag: string, path: string, e: unknown): unknown => {
    if (e instanceof TunedInputError) return new Error(`${flag} ${path}: ${e.message}. ${e.advice}`);
    if (e instanceof SafetensorsError || (e instanceof Error && flag === '--base')) return new Error(`${flag} ${path}: ${e.message}`);
    return e;
  };
  const baseFiles = await tunedFilesAt(basePath);
  let tunedFiles: Awaited<ReturnType<typeof tunedFilesAt>> | null = null;
  let base: ExtractionBase;
  let result: Awaited<ReturnType<typeof extractLoraFromFiles>>;
  try {
    base = await openExtractionBase(baseFiles.files, baseName(basePath)).catch((e: unknown) => {
      throw refused('--base', basePath, e);
    });
    tunedFiles = await tunedFilesAt(tunedPath);
    const tuned = await openTunedTransformer(tunedFiles.files).catch((e: unknown) => {
      throw refused('--tuned', tunedPath, e);
    });
    let bar: ProgressBar | null = null;
    // Refusals from here on name the base and the fine-tune in their message.
    result = await extractLoraFromFiles(engine, base, tuned, {
      rank,
      targets,
      name: 'extracted',
      onModule: (done, total, module) => (bar ??= new ProgressBar(total, 'extracting')).update(done, module),
    }).catch((e: unknown) => {
      throw refused('--tuned', tunedPath, e);
    });
  } finally {
    await baseFiles.close();
    await tunedFiles?.close();
  }
  const { set, modules } = result;
  const summary = summarizeEnergy(modules, rank);
  const notes = { extraction: JSON.stringify({ tuned: basename(tunedPath), ...summary }) };
  writeFileSync(out, await exportLora(set, { baseModelId: base.id, baseModelHash: base.hash, method, steps: 0, notes }));
  const reportPath = out.replace(/\.safetensors$/, '') + '.extraction.json';
  writeFileSync(reportPath, JSON.stringify({ base: base.id, baseHash: base.hash, tuned: tunedPath, rank, modules }, null, 1));
  const worst = summary.worst[0];
  console.log(`wrote ${out} (rank ${rank}, ${modules.length} modules, base ${base.id}) and ${reportPath}; energy kept: mean ${summary.mean.toFixed(4)}, lowest ${worst.energyKept.toFixed(4)} (${worst.module})`);
  set.release();
  return 0;
}

/** A diffusers base's id when its config.json does not name it: the picked file's or folder's name (`sd35m/transformer`). */
function baseName(path: string): string {
  const full = resolve(path);
  const name = basename(full);
  return name === 'transformer' ? `${basename(dirname(full))}/transformer` : name;
}

const COMMANDS: Record<string, (engine: Engine, args: Args) => Promise<number>> = {
  'extract-lora': extractLoraCommand,
  demo: demoCommand,
  pretrain: pretrainCommand,
  'init-base': initBase,
  train,
  sample: sampleCommand,
  eval: evalCommand,
  compare: compareCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (!COMMANDS[command]) {
    console.error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return 2;
  }
  const args = commandArgs(command, rest);
  const engine = new Engine(new Gpu(await nodeGpu()));
  try {
    await tuneCliEngine(engine);
    return await COMMANDS[command](engine, args);
  } finally {
    engine.gpu.destroy();
    await closeNodeGpu();
  }
}

/** The options of `command`, refused before any work when it does not take them (Args.expect). */
export function commandArgs(command: string, argv: readonly string[]): Args {
  const args = parseArgs(argv);
  args.expect(command, COMMAND_FLAGS[command]);
  return args;
}

/** Runs a command on an engine the caller owns (tests: the shared one; no tuning, no teardown). */
export async function runCommand(engine: Engine, command: string, argv: readonly string[]): Promise<number> {
  const run = COMMANDS[command];
  if (!run) throw new Error(`unknown command ${JSON.stringify(command)}`);
  return run(engine, commandArgs(command, argv));
}

async function initBase(engine: Engine, args: Args): Promise<number> {
  const preset = args.string('preset', 'tiny');
  const seed = args.int('seed', 1);
  const out = args.required('out');
  const base = randomBase(engine, preset, builtinVocabulary(presetTokens(preset)), seed);
  writeBaseDir(out, await saveBase(base, `${preset}-random-${seed}`, 'randomly initialised; not trained'));
  console.log(`wrote a random ${preset} base to ${out}`);
  return 0;
}

function presetTokens(preset: string): number {
  return preset === 'tiny' ? 8 : 16;
}

function readBase(engine: Engine, dir: string): LoadedBase {
  return readBaseDir(engine, dir, 'create one with init-base, or use public/models/studio-s');
}

/** Training data, and the held-out data the validation loss is measured on (null: the training images). */
export interface RunData {
  train: TrainingData;
  validation: TrainingData | null;
}

/**
 * `builtin:clean[:COUNT]`, `builtin:broad[:COUNT]`, or a dataset folder in any format the studio accepts. A
 * folder keeps a fixed-seed share of its images out of training (`heldOut`, see heldOutSplit) for the validation
 * loss; their paths go to held-out.txt in `outDir`.
 */
export async function dataFrom(spec: string, resolution: number, outDir: string, heldOut = DEFAULT_HELD_OUT, seed = 1, captionTokens?: IngestOptions['captionTokens']): Promise<RunData> {
  const m = /^builtin:(broad|clean)(?::(\d+))?$/.exec(spec);
  if (m) return { train: builtinData(m[1] as SplitName, m[2] ? Number(m[2]) : m[1] === 'clean' ? 512 : 4096, resolution), validation: null };
  if (spec.startsWith('builtin:')) throw new Error(`--data ${JSON.stringify(spec)}: use builtin:clean[:COUNT] or builtin:broad[:COUNT]`);
  if (!existsSync(spec)) throw new Error(`--data ${JSON.stringify(spec)}: no such folder (or use builtin:clean)`);
  const bar = new ProgressBar(1, 'reading dataset');
  const result = await ingestDataset(await entriesFromDirectory(spec), {
    resolution,
    decoder: createJsImageDecoder(),
    onProgress: (p) => p.phase === 'decode' && p.total > 0 && bar.update(p.done * (1 / p.total)),
    captionTokens,
  });
  writeFileSync(join(outDir, 'dataset-report.txt'), result.report.toText());
  console.log(`${spec}: ${result.report.summary()} (report in ${join(outDir, 'dataset-report.txt')})`);
  if (result.examples.length === 0) throw new Error(`${spec} has no usable image with a caption; see the report`);
  const split = heldOutSplit(result.examples, heldOut, seed);
  writeFileSync(join(outDir, 'held-out.txt'), split.heldOut.map((e) => e.path).join('\n') + (split.heldOut.length ? '\n' : ''));
  console.log(split.note ?? `held out ${split.heldOut.length} of ${result.examples.length} images for the validation loss (listed in ${join(outDir, 'held-out.txt')})`);
  return { train: toTrainingData({ examples: split.train }), validation: split.heldOut.length ? toTrainingData({ examples: split.heldOut }) : null };
}

/** A flag's text as the type of the field's default: numbers, true/false, comma lists (of numbers). */
function flagValue(def: unknown, v: string): unknown {
  if (typeof def === 'number') return Number(v);
  if (typeof def === 'boolean') return v === 'true' ? true : v === 'false' ? false : v;
  if (Array.isArray(def)) return v.split(',').map((x) => (typeof def[0] === 'number' ? Number(x) : x));
  return v;
}

/**
 * A config file in this trainer's flat names, or nested as the reference trainers write theirs (Flow-GRPO's
 * `sample: { num_steps }`, `train: { beta }`): a nested key becomes `<section>_<key>` when the trainer has that
 * field, else `<key>` (train.learning_rate is learning_rate); the rest is listed as not used.
 */
export function flattenReferenceConfig(value: unknown): { config: Partial<TrainConfig>; ignored: string[] } {
  if (!isObject(value)) throw new Error(`a training config must be a JSON object, got ${show(value)}`);
  const known = new Set(Object.keys(DEFAULT_TRAIN).concat('method', 'train_mode'));
  const config: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (isObject(v) && !known.has(k)) {
      for (const [sub, x] of Object.entries(v)) {
        // Flow-GRPO's train.batch_size only sizes a buffer there (its train micro-batch is the round's kept
        // samples over sample.num_batches_per_epoch), so it is not this trainer's train_batch_size.
        const name = `${k}.${sub}` === 'train.batch_size' ? null : known.has(`${k}_${sub}`) ? `${k}_${sub}` : known.has(sub) ? sub : null;
        if (name) config[name] = x;
        else ignored.push(`${k}.${sub}`);
      }
    } else if (known.has(k)) config[k] = v;
    else ignored.push(k);
  }
  return { config: config as Partial<TrainConfig>, ignored };
}

/** Training config from defaults, the base's shift, a JSON file, and flags (in that order). */
export function trainConfigFrom(args: Args, base: LoadedBase): TrainConfig {
  let cfg: TrainConfig = { ...DEFAULT_TRAIN, shift: base.manifest.meta.shift };
  const file = args.optional('config');
  if (file) {
    const { config, ignored } = flattenReferenceConfig(parseJson(readFileSync(file, 'utf8'), file));
    if (ignored.length) console.log(`${file}: not used by this trainer: ${ignored.join(', ')}`);
    cfg = { ...cfg, ...config };
  }
  for (const key of Object.keys(DEFAULT_TRAIN) as Array<keyof TrainConfig>) {
    const v = args.optional(key);
    if (v === undefined) continue;
    (cfg as unknown as Record<string, unknown>)[key] = flagValue(DEFAULT_TRAIN[key], v);
  }
  const method = args.optional('method');
  if (method) {
    if (!isMethod(method)) throw new Error(`--method must be one of ${METHOD_IDS.join(', ')}, got ${JSON.stringify(method)}`);
    cfg.method = method;
  }
  const steps = args.optional('steps');
  if (steps) cfg.max_train_steps = Number(steps);
  const errs = validateTrainConfig(cfg);
  if (errs.length) throw new Error(`invalid training config:\n  ${errs.join('\n  ')}`);
  return cfg;
}

async function train(engine: Engine, args: Args): Promise<number> {
  const base = readBase(engine, args.required('base'));
  const cfg = trainConfigFrom(args, base);
  const out = args.required('out');
  mkdirSync(out, { recursive: true });
  const { train: data, validation } = await dataFrom(args.string('data', 'builtin:clean'), base.manifest.meta.resolution, out, heldOutFraction(args), cfg.seed, base.tokenizer.captionTokens());
  // Every held-out image counts (up to 32: each costs a forward per validation).
  const trainer = await Trainer.create(engine, base.model, base.embeddings, data, cfg, validation ? { validation, validationCount: Math.min(32, validation.size) } : {});
  const ckPath = join(out, 'checkpoint.safetensors');
  if (args.flag('resume')) {
    if (!existsSync(ckPath)) throw new Error(`--resume: ${ckPath} does not exist`);
    const ck = checkpointFromBytes(new Uint8Array(readFileSync(ckPath)));
    trainer.restore(ck);
    console.log(`resumed at step ${trainer.step}${ck.round ? ` (in the sampling round that began at step ${ck.round.step})` : ''}`);
  }
  console.log(`training ${cfg.method.toUpperCase()} ${cfg.train_mode} on ${base.manifest.id}: ${data.size} examples, ${cfg.max_train_steps} steps, batch ${cfg.train_batch_size}`);
  const bar = new ProgressBar(cfg.max_train_steps, cfg.method, trainer.step);
  await trainer.run(Infinity, (m) => {
    const val = trainer.validation.at(-1);
    bar.update(m.step, stepLine(m, val ? `val ${val.loss.toFixed(4)}` : ''));
  });
  await trainer.validationLoss();
  // In the middle of a sampling round the checkpoint also holds the round, so --resume samples it again.
  writeFileSync(ckPath, checkpointToBytes(await trainer.checkpoint()));
  writeFileSync(join(out, 'metrics.json'), JSON.stringify({ config: cfg, history: trainer.history, validation: trainer.validation }, null, 1));
  if (trainer.lora) {
    const lora = await exportLora(trainer.lora, { baseModelId: base.manifest.id, baseModelHash: base.manifest.transformer_hash, method: cfg.method, config: cfg, steps: trainer.step });
    writeFileSync(join(out, 'lora.safetensors'), lora);
  }
  console.log(`wrote ${ckPath}, ${trainer.lora ? 'lora.safetensors (diffusers/PEFT names), ' : ''}metrics.json (validation loss ${trainer.validation.at(-1)?.loss.toFixed(5)})`);
  trainer.release();
  return 0;
}

/** `FILE[:weight]`: a LoRA file and its strength (1 when absent; a Windows drive colon is not a weight). */
export function parseLoraSpec(spec: string): { file: string; weight: number } {
  const m = /^(.+):(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/i.exec(spec);
  if (m && !/^[a-z]$/i.test(m[1])) return { file: m[1], weight: Number(m[2]) };
  return { file: spec, weight: 1 };
}

async function sampleCommand(engine: Engine, args: Args): Promise<number> {
  const base = readBase(engine, args.required('base'));
  const prompts = [...args.all('prompt')];
  const file = args.optional('prompts-file');
  if (file) {
    if (!existsSync(file)) throw new Error(`--prompts-file ${JSON.stringify(file)}: no such file`);
    prompts.push(...readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean));
  }
  if (!prompts.length) throw new Error('sample: give --prompt "..." (repeatable) or --prompts-file FILE (one prompt a line)');
  const count = args.int('count', 1);
  const steps = args.int('steps', 20);
  const cfgScale = Number(args.string('cfg', '4.5'));
  const seed = args.int('seed', 0);
  const out = args.required('out');
  // LoRAs through the studio's import and base checks (ours, PEFT/diffusers, kohya, OneTrainer files).
  const loras = args.all('lora').map((spec, i) => {
    const { file: path, weight } = parseLoraSpec(spec);
    if (!existsSync(path)) throw new Error(`--lora ${JSON.stringify(spec)}: no such file ${JSON.stringify(path)}`);
    if (!Number.isFinite(weight)) throw new Error(`--lora ${JSON.stringify(spec)}: the weight after ':' must be a number`);
    const r = importLora(new Uint8Array(readFileSync(path)), { config: base.manifest.config, id: base.manifest.id, hash: base.manifest.transformer_hash }, engine, `lora${i}`);
    r.set.strength = weight;
    for (const w of r.warnings) console.warn(`--lora ${path}: ${w}`);
    return { label: `${basename(path)}${weight !== 1 ? ` ×${weight}` : ''}`, set: r.set };
  });
  // One grid column per model (base, each LoRA, all LoRAs together), one row per prompt and seed: the studio's
  // compare grid. Every column sees the same noise.
  const columns: Array<{ label: string; sets: LoraSet[] }> = [{ label: 'base', sets: [] }, ...loras.map((l) => ({ label: l.label, sets: [l.set] }))];
  if (loras.length > 1) columns.push({ label: 'all LoRAs', sets: loras.map((l) => l.set) });
  const rows = prompts.flatMap((p) => Array.from({ length: count }, (_, k) => ({ prompt: p, seed: seed + k })));
  const res = base.manifest.meta.resolution;
  const C = base.manifest.config.in_channels;
  const per = C * res * res;
  const cond = await base.embeddings.stacked(rows.map((r) => r.prompt));
  const unc = await base.embeddings.stacked(rows.map(() => ''));
  const noise = await Promise.all(rows.map((r) => new Rng(r.seed).randn(engine, [1, C, res, res], 'z1').toArray()));
  const z1Data = concatFloats(noise);
  const trajectoryOut = args.optional('trajectory');
  const bar = new ProgressBar(columns.length, 'sampling');
  const byColumn: Float32Array[][] = [];
  // --trajectory: per model, the clean-image prediction x̂0 = z − sigma·v of the first row at every step.
  const strips: Float32Array[][] = [];
  for (const [ci, col] of columns.entries()) {
    base.model.adapters = col.sets;
    const r = engine.scope(() => {
      const z1 = engine.fromArray(z1Data, [rows.length, C, res, res], 'z1');
      return sample(engine, modelVelocity(base.model), z1, uploadEmbeddings(engine, cond), uploadEmbeddings(engine, unc), { steps, cfgScale, shift: base.manifest.meta.shift, stepType: 'euler', noiseScale: 0, captureTrajectory: Boolean(trajectoryOut) }, new Rng(seed));
    });
    const data = await r.image.toArray();
    r.image.release();
    byColumn.push(rows.map((_, i) => data.slice(i * per, (i + 1) * per)));
    if (r.trajectory) {
      strips.push(await Promise.all(r.trajectory.predictions.map(async (t) => (await t.toArray()).slice(0, per))));
      // The last state is the image itself (released above).
      for (const t of [...r.trajectory.predictions, ...r.trajectory.states.slice(0, -1)]) t.release();
    }
    bar.update(ci + 1, col.label);
  }
  if (trajectoryOut) {
    writeFileSync(trajectoryOut, gridPng(strips.flat(), { scale: 4, cols: steps }));
    console.log(`wrote ${trajectoryOut}: the first row's x̂0 at each of ${steps} steps, one strip per model (${columns.map((c) => c.label).join(' | ')})`);
  }
  base.model.adapters = [];
  for (const l of loras) l.set.release();
  const images = rows.flatMap((_, r) => byColumn.map((c) => c[r]));
  writeFileSync(out, gridPng(images, { scale: 4, cols: columns.length }));
  console.log(`wrote ${out}: ${rows.length} row${rows.length > 1 ? 's' : ''} (prompts × seeds) × ${columns.length} column${columns.length > 1 ? 's' : ''} (${columns.map((c) => c.label).join(' | ')})`);
  return 0;
}

function evalOptions(args: Args, label = 'evaluating'): EvalOptions {
  const stepCounts = args.string('eval-steps', '10,20,40').split(',').map(Number);
  if (!stepCounts.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--eval-steps must be whole numbers of sampling steps separated by commas, got ${args.string('eval-steps', '')}`);
  let bar: ProgressBar | null = null;
  return {
    prompts: args.int('prompts', 24),
    stepCounts,
    cfgScale: Number(args.string('cfg', '4.5')),
    driftSamples: args.int('drift-samples', 8),
    onProgress: (done, total, what) => {
      if (done === 1) bar = new ProgressBar(total, label);
      bar?.update(done, what);
    },
  };
}



async function evalCommand(engine: Engine, args: Args): Promise<number> {
  const base = readBase(engine, args.required('base'));
  const ckPath = args.optional('checkpoint');
  let label = 'base';
  if (ckPath) {
    const ck = checkpointFromBytes(new Uint8Array(readFileSync(ckPath)));
    base.model.adapters = [loraFromCheckpoint(engine, base.manifest.config, ck.config, ck)];
    label = `${ck.config.method} (step ${ck.step})`;
  }
  const r = await evaluateModel(engine, base, evalOptions(args));
  const out = args.required('out');
  writeFileSync(out, JSON.stringify({ model: label, base: base.manifest.id, ...r, images: undefined }, null, 1));
  console.log(`| model | steps | overall | novel | in-dist | final drift |\n|---|---|---|---|---|---|\n${evalRows({ label, method: null, steps: 0, eval: r, validation: null, history: null, trainSeconds: 0 }).join('\n')}`);
  console.log(`wrote ${out}`);
  return 0;
}

async function compareCommand(engine: Engine, args: Args): Promise<number> {
  const baseDir = args.required('base');
  const base = readBase(engine, baseDir);
  const out = args.required('out');
  mkdirSync(out, { recursive: true });
  const cfg = trainConfigFrom(args, base);
  const spec = args.string('data', 'builtin:clean');
  const { train: data, validation } = await dataFrom(spec, base.manifest.meta.resolution, out, heldOutFraction(args), cfg.seed, base.tokenizer.captionTokens());
  // A user's folder: sampled on its held-out captions (its training images when too small for a split), drift
  // on those images, and no evaluator (it reads only the built-in dataset's grammar).
  const folder = !spec.startsWith('builtin:');
  const evalOpts = { ...evalOptions(args), heldOut: folder ? (validation ?? data) : null };
  console.log(`compare: base ${base.manifest.id}, ${data.size} examples, ${cfg.max_train_steps} steps each, seed ${cfg.seed}`);
  const results: ArmResult[] = [await evaluateBase(engine, base, evalOpts)];
  for (const method of ['sft', 'soar'] as const) results.push(await trainArm(engine, base, data, { ...cfg, method }, method.toUpperCase(), method, out, evalOpts, validation));
  for (const r of results) writeFileSync(join(out, `samples-${r.label.toLowerCase()}.png`), gridPng(r.eval.images, { scale: 4 }));
  // Loss curves as a picture: SFT in blue, SOAR in orange (total loss per step, log scale).
  const colors = { SFT: [40, 100, 220], SOAR: [230, 120, 20] } as const;
  const curves = results.filter((r) => r.history).map((r) => ({ color: colors[r.label as 'SFT' | 'SOAR'], points: r.history!.map((m) => [m.step, m.loss] as const) }));
  writeFileSync(join(out, 'loss-curves.png'), linePlotPng(curves, { logY: true }));
  const md = [
    `# SFT vs SOAR on ${base.manifest.id}`,
    '',
    `Data: ${args.string('data', 'builtin:clean')} (${data.size} examples); ${cfg.max_train_steps} steps, batch ${cfg.train_batch_size}, lr ${cfg.learning_rate}, seed ${cfg.seed};`,
    `SOAR: lambda_aux ${cfg.lambda_aux}, trajectory_length ${cfg.trajectory_length}, cfg_scale_sampling ${cfg.cfg_scale_sampling}. Sampled on ${folder ? 'the dataset\'s held-out captions' : `${evalOpts.prompts} held-out prompts`}, CFG ${evalOpts.cfgScale}.`,
    '',
    ...(folder
      ? [
          `No evaluator applies to this dataset (the GenEval-style one reads only the built-in dataset's captions): compare the sample grids, drawn on ${validation ? `the ${validation.size} held-out images' captions (held-out.txt)` : 'training captions (the folder is too small for a held-out split)'} with the same seeds for every model. Drift: distance of the sampled path from the straight path to those images.`,
          '',
          '| model | sampling steps | final drift |',
          '|---|---|---|',
          ...results.flatMap((r) => r.eval.byStep.map((s, i) => `| ${r.label} | ${s.steps} | ${r.eval.drift[i]?.final.toFixed(4) ?? '–'} |`)),
        ]
      : ['| model | sampling steps | overall | novel pairs | in-distribution | final drift |', '|---|---|---|---|---|---|', ...results.flatMap(evalRows)]),
    '',
    `Validation loss (fixed seed, lower is better${validation ? `, on the ${validation.size} held-out images of held-out.txt` : ''}): ${results.filter((r) => r.validation !== null).map((r) => `${r.label} ${r.validation!.toFixed(5)}`).join(', ')}.`,
    '',
    `Sample grids (largest step count, prompts in order): ${results.map((r) => `samples-${r.label.toLowerCase()}.png`).join(', ')}. Loss curves: loss-curves.png (SFT blue, SOAR orange, total loss, log scale) and report.json (history per run). LoRAs: sft.lora.safetensors, soar.lora.safetensors.`,
  ].join('\n');
  writeFileSync(join(out, 'report.md'), md + '\n');
  writeFileSync(join(out, 'report.json'), JSON.stringify({ config: cfg, base: base.manifest.id, results: results.map(armJson) }, null, 1));
  console.log(md);
  return 0;
}
