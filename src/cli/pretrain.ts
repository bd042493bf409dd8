// `npm run soar -- pretrain`: the built-in base from scratch. The denoiser and the text encoder train jointly
// (flow matching, every parameter) on the built-in broad split; the result is the bundle the studio ships in
// public/models/<preset>/ (model.json, transformer.safetensors, text_encoder.safetensors, text_encoder.onnx),
// with a model card (README.md) that records the config, the data, the losses, the evaluator's scores and the
// command that reproduces it. Checkpoints (with Adam state, ~4x the weights) go to --work, so an interrupted
// run continues exactly with --resume.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinData } from '../data/source';
import { TASKS, type Task } from '../data/builtin/vocab';
import { builtinVocabulary } from '../encode/builtin-vocab';
import { textEncoderConfigFor, textParameterSpecs } from '../encode/config';
import { exportTextEncoderOnnx } from '../encode/onnx-export';
import { randomBase, saveBase, type LoadedBase } from '../io/base-runtime';
import { checkpointFromBytes, checkpointToBytes } from '../io/checkpoint-file';
import { gridPng } from '../codec/png';
import { linePlotPng } from '../codec/plot';
import { PRESETS } from '../model/config';
import { SeededRandom } from '../model/random';
import type { Engine } from '../tensor/engine';
import { DEFAULT_TRAIN, validateTrainConfig, type TrainConfig } from '../train/config';
import { Trainer, type Checkpoint, type StepMetrics, type TrainingData } from '../train/trainer';
import type { TextEncoderModel } from '../encode/text-encoder';
import type { Args } from './args';
import { readBaseDir, writeBaseDir } from './base-dir';
import { evaluateModel, type EvalResult } from './evaluate';
import { fmtTime, ProgressBar, stepLine } from './progress';
import { describeAdapter } from '../gpu/device';
import { mixByIndex, mixLine, parseMix } from './curriculum';
import { swapShape, wordSeparation, type WordSeparation } from './word-separation';
import { chunkProbes, PROBE_IMAGES, PROBE_SIGMAS, type NoiseLoss, type ShapeUse } from './chunk-probes';

/** The defaults are the shipped base's recipe: `npm run soar -- pretrain` alone reproduces it. */
export const PRETRAIN_DEFAULTS = {
  preset: 'studio-s',
  steps: 720,
  batch: 16,
  lr: 2e-3,
  /**
   * The text encoder learns at lr × 0.1. Why: Adam moves every weight by ~lr per step whatever its gradient's
   * size, and the encoder's gradient is mostly noise until the denoiser reads the captions; at the full lr
   * the encoder's output wanders faster than the denoiser can follow and the denoiser learns to ignore it
   * (measured on the first shipped base: validation loss with the true, an empty and a shuffled caption
   * equal to 3 decimals). A caption-coloured fill task on studio-s, 60 steps at lr 8e-3: loss at t = 0.9
   * with caption / empty caption 0.86 / 0.86 at scale 1, 0.72 / 1.29 at scale 0.1.
   */
  textEncoderLrScale: 0.1,
  warmup: 50,
  seed: 1,
  captionDropout: 0.1,
  checkpointEvery: 50,
  /** Also checkpoint when this many minutes passed since the last one (a lost machine loses at most that). */
  checkpointMinutes: 5,
  /** Decay of the weight average the bundle ships (0: the last weights, as the shipped base was made). */
  ema: 0,
  /** Held-out prompts the evaluator scores at the end of each chunk (0: none). */
  chunkEvalPrompts: 16,
  evalPrompts: 48,
  evalSteps: 40,
  cfg: 4.5,
};

/** Every option `pretrain` reads (checked before any work: src/cli/args.ts expect). */
export const PRETRAIN_FLAGS = {
  values: ['preset', 'steps', 'batch', 'images', 'lr', 'text-encoder-lr-scale', 'warmup', 'seed', 'checkpoint-every', 'checkpoint-minutes', 'caption-dropout', 'out', 'work', 'minutes', 'ema', 'chunk-eval-prompts', 'eval-prompts', 'eval-steps', 'cfg', 'mix', 'chunk-eval-tasks', 'stop-at', 'logit-mean', 'weighting'],
  switches: ['resume'],
} as const;

/**
 * Replaces a caption by the empty one with probability `rate`, decided per example index (so a resumed run
 * sees the same captions). Per example, not per batch as in post-training: the base must learn the
 * unconditional velocity that classifier-free guidance needs next to every conditional one.
 */
export function withCaptionDropout(data: TrainingData, rate: number, seed: number): TrainingData {
  if (!(rate >= 0 && rate < 1)) throw new Error(`--caption-dropout must be in [0, 1), got ${rate}`);
  return {
    size: data.size,
    example(i) {
      const x = data.example(i);
      const drop = new SeededRandom((seed * 0x2545f491 + i * 0x9e3779b1) >>> 0).uniform() < rate;
      return drop ? { ...x, caption: '' } : x;
    },
  };
}

export async function pretrainCommand(engine: Engine, args: Args): Promise<number> {
  const d = PRETRAIN_DEFAULTS;
  const presetName = args.string('preset', d.preset);
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`--preset ${JSON.stringify(presetName)}: one of ${Object.keys(PRESETS).join(', ')}`);
  const steps = args.int('steps', d.steps);
  const batch = args.int('batch', d.batch);
  // Distinct images: by default every example is new (the broad split is unlimited); fewer means epochs.
  const images = args.int('images', steps * batch);
  if (!(images >= batch)) throw new Error(`--images must be at least the batch (${batch}), got ${images}`);
  const seed = args.int('seed', d.seed);
  const every = args.int('checkpoint-every', d.checkpointEvery);
  const dropout = Number(args.string('caption-dropout', String(d.captionDropout)));
  const encoderLrScale = Number(args.string('text-encoder-lr-scale', String(d.textEncoderLrScale)));
  if (!(encoderLrScale >= 0 && Number.isFinite(encoderLrScale))) throw new Error(`--text-encoder-lr-scale must be a number >= 0, got ${args.string('text-encoder-lr-scale', '')}`);
  const out = args.string('out', `public/models/${presetName}`);
  // The resumable state lives in the repository (pretrain/<preset>/), replaced in place: commit it after every
  // chunk so that a run of many hours survives the loss of the machine it ran on.
  const work = args.string('work', `pretrain/${presetName}`);
  // A chunk: this process trains at most --minutes, checkpointing every --checkpoint-minutes and at the end.
  const minutes = Number(args.string('minutes', 'Infinity'));
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number of minutes, got ${args.string('minutes', '')}`);
  const checkpointMinutes = Number(args.string('checkpoint-minutes', String(d.checkpointMinutes)));
  if (!(checkpointMinutes > 0)) throw new Error(`--checkpoint-minutes must be a positive number, got ${args.string('checkpoint-minutes', '')}`);
  // Ends this chunk at exactly this step (a recipe that changes mid-run is reproduced chunk by chunk with it).
  const stopAt = args.int('stop-at', steps);
  const emaDecay = Number(args.string('ema', String(d.ema)));
  if (!(emaDecay >= 0 && emaDecay < 1)) throw new Error(`--ema must be a decay in [0, 1) (0: no weight average), got ${args.string('ema', '')}`);
  // Evaluator scores of the (averaged) weights at the end of every chunk, on this many held-out prompts (0: none).
  const evalEvery = args.int('chunk-eval-prompts', d.chunkEvalPrompts);
  // Only these tasks' held-out prompts in the chunk evaluations (e.g. single_object,colors: the floor's tasks).
  const evalTasks = parseTasks(args.string('chunk-eval-tasks', ''));
  const evalPrompts = args.int('eval-prompts', d.evalPrompts);
  const evalSteps = args.int('eval-steps', d.evalSteps);
  const cfgScale = Number(args.string('cfg', String(d.cfg)));
  const res = preset.meta.resolution;
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN,
    method: 'sft',
    train_mode: 'full',
    seed,
    max_train_steps: steps,
    train_batch_size: batch,
    learning_rate: Number(args.string('lr', String(d.lr))),
    lr_scheduler: 'cosine',
    lr_warmup_steps: args.int('warmup', d.warmup),
    cond_dropout_rate: 0, // per example instead, see withCaptionDropout
    shift: preset.meta.shift,
    // Where the training noise levels concentrate: t = sigmoid(N(mean, 1)). Above 0 it trains the high noise
    // levels more, where a sample commits to its layout (the base's sampling schedule stays the preset's shift).
    logit_mean: Number(args.string('logit-mean', String(DEFAULT_TRAIN.logit_mean))),
    // uniform: every noise level alike, the sampler's first steps (σ 1 to 0.9, where a sample commits to its
    // layout) included; logit-normal trains those with a few % of the images (measured on studio-s: a model whose
    // clean-image error at σ = 1 stayed above a blind guess of the mean image, inventing layouts from the noise).
    weighting_scheme: args.string('weighting', DEFAULT_TRAIN.weighting_scheme) as TrainConfig['weighting_scheme'],
    checkpointing_steps: every,
  };
  const errs = validateTrainConfig(cfg);
  if (errs.length) throw new Error(`invalid pretraining config:\n  ${errs.join('\n  ')}`);
  mkdirSync(out, { recursive: true });
  mkdirSync(work, { recursive: true });

  const base = randomBase(engine, presetName, builtinVocabulary(preset.meta.max_text_tokens), seed, { adaLNZero: true });
  const id = `${presetName}-base`;
  const mix = parseMix(args.string('mix', 'broad'));
  const data = withCaptionDropout(builtinData('broad', images, res, seed, mixByIndex(mix, images, seed)), dropout, seed);
  const validation = builtinData('broad', 32, res, seed + 1); // another stream: never trained on
  // Single objects from a third stream, for shape use: their loss with the right shape word and with another.
  const singles = builtinData('broad', 32, res, seed + 2, () => 'single');
  // A frozen encoder (scale 0) stays out of the step: captions come from the embedding cache, each distinct one
  // encoded once, so the step pays for neither the encoder's forward nor its gradient and Adam state.
  const frozenEncoder = encoderLrScale === 0;
  const trainer = await Trainer.create(engine, base.model, base.embeddings, data, cfg, {
    ...(frozenEncoder ? {} : { textEncoder: { model: base.textEncoder, tokenizer: base.tokenizer, lrScale: encoderLrScale } }),
    validation,
    validationCount: 32,
    emaDecay,
  });
  const ckPath = join(work, 'checkpoint.safetensors');
  const metricsPath = join(work, 'metrics.json');
  const resume = args.flag('resume');
  if (resume) {
    if (!existsSync(ckPath)) throw new Error(`--resume: ${ckPath} does not exist (start without --resume)`);
    const ck = checkpointFromBytes(new Uint8Array(readFileSync(ckPath)));
    trainer.restore(frozenEncoder ? await withoutFrozenEncoder(ck, base.textEncoder, trainer.parameters().length) : ck);
    console.log(`resumed at step ${trainer.step}`);
  }
  // What earlier chunks recorded (kept across --resume): caption use per checkpoint, evaluator scores per
  // chunk, and the compute spent so far.
  const earlier = resume && existsSync(metricsPath) ? readWorkMetrics(metricsPath, trainer.step) : null;
  const captionUse: CaptionUse[] = earlier?.captionUse ?? [];
  const chunkEvals: ChunkEval[] = earlier?.evals ?? [];
  const separation: WordSeparation[] = earlier?.separation ?? [];
  const compute: Compute = earlier?.compute ?? { images: 0, seconds: 0, chunks: 0 };
  if (!(stopAt > trainer.step && stopAt <= steps)) throw new Error(`--stop-at must be after the current step (${trainer.step}) and at most --steps (${steps}), got ${stopAt}`);
  // The options that decide the weights, per stretch of steps: a recipe changed between chunks is recorded, so
  // the model card can give the commands that reproduce the run exactly.
  const recipe: RecipePhase[] = earlier?.recipe ?? [];
  const trainingArgs = recipeArgs(args);
  if (recipe.at(-1)?.args !== trainingArgs) recipe.push({ from: trainer.step, args: trainingArgs });
  compute.chunks++;
  const started = performance.now();
  const startStep = trainer.step;
  let accounted = { at: started, step: startStep };
  const account = () => {
    const now = performance.now();
    compute.images += (trainer.step - accounted.step) * batch;
    compute.seconds += (now - accounted.at) / 1000;
    accounted = { at: now, step: trainer.step };
  };
  console.log(`pretraining ${presetName} (${encoderLrScale > 0 ? 'denoiser + text encoder' : 'denoiser; text encoder frozen'}, ${parameterTotal(trainer)} parameters) on builtin:broad (${mixLine(mix)}): ${steps} steps of ${batch}, lr ${cfg.learning_rate} cosine (text encoder × ${encoderLrScale}), caption dropout ${dropout}${emaDecay ? `, weight average ${emaDecay}` : ''}${Number.isFinite(minutes) ? `; this chunk stops after ${minutes} minutes` : ''}`);
  const bar = new ProgressBar(steps, 'pretrain', trainer.step);
  const writeMetrics = () =>
    writeFileSync(metricsPath, JSON.stringify({ config: cfg, args: argLine(args), recipe, textEncoderLrScale: encoderLrScale, emaDecay, compute, history: trainer.history, validation: trainer.validation, captionUse, separation, evals: chunkEvals }));
  // The resumable state: checkpoint (weights, Adam moments, the weight average, RNG, data order, history) and
  // the metrics beside it, both replaced in place, so the folder can be committed as it is after every chunk.
  const saveState = async () => {
    const val = await trainer.validationLoss();
    // Caption and shape use of what would ship: the weight average when the run keeps one. The raw weights of a
    // step at lr 3e-3 swing with their last batches (measured: their shape use changed sign between checkpoints
    // while the average's grew steadily), so a small effect only shows on the average.
    const average = await trainer.emaWeights();
    const use = await withWeights(trainer, average, async () => ({
      // (the identity caption map keeps this measurement out of the validation curve, which stays on the trained weights)
      captioned: average ? await trainer.validationLoss({ caption: (c) => c }) : val,
      empty: await trainer.validationLoss({ emptyCaptions: true }),
      shapeRight: await trainer.validationLoss({ data: singles }),
      shapeSwapped: await trainer.validationLoss({ data: singles, caption: swapShape }),
    }));
    const { empty, shapeRight, shapeSwapped } = use;
    captionUse.push({ step: trainer.step, ...use, ...(average ? { weights: 'average' as const } : {}) });
    // A frozen encoder's contexts never move: measured once, at the run's (or the freeze's) first checkpoint.
    if (!frozenEncoder || !separation.length) separation.push(await wordSeparation(base.textEncoder, base.tokenizer, trainer.step));
    const sep = separation.at(-1)!;
    account();
    writeFileSync(ckPath, checkpointToBytes(await trainer.checkpoint()));
    writeMetrics();
    console.log(`\nstep ${trainer.step}: validation loss ${val.toFixed(5)}; ${average ? 'weight average: ' : ''}captioned ${use.captioned.toFixed(5)} vs empty ${empty.toFixed(5)}, single objects ${shapeRight.toFixed(5)} (shape word swapped ${shapeSwapped.toFixed(5)}); caption contexts apart by colour ${sep.color.toFixed(2)}, by shape ${sep.shape.toFixed(2)}; state in ${work} (${fmtTime(compute.seconds)} and ${compute.images.toLocaleString('en-US')} images over ${compute.chunks} chunk${compute.chunks > 1 ? 's' : ''} so far)`);
  };
  const budgetMs = minutes * 60_000;
  let lastSave = performance.now();
  let saveMs = 0;
  while (!trainer.done) {
    // Slices of a few steps, so the clock is looked at often enough to stop inside the budget.
    const slice = Math.min(SLICE_STEPS, every - (trainer.step % every), stopAt - trainer.step);
    await trainer.run(slice, (m) => bar.update(m.step, stepLine(m, `|g| ${m.grad_norm.toFixed(2)} lr ${m.lr.toExponential(2)}`)));
    const now = performance.now();
    const stepMs = (now - started) / Math.max(1, trainer.step - startStep);
    // Stop when one more slice and the final save would overrun the budget.
    const stop = !trainer.done && (trainer.step >= stopAt || now - started + SLICE_STEPS * stepMs + saveMs + chunkEvalMs(evalEvery) > budgetMs);
    if (trainer.done || stop || trainer.step % every === 0 || now - lastSave > checkpointMinutes * 60_000) {
      const t = performance.now();
      await saveState();
      lastSave = performance.now();
      saveMs = Math.max(saveMs, lastSave - t);
    }
    if (stop) {
      if (evalEvery) chunkEvals.push(await evaluateChunk(engine, trainer, base, id, work, { prompts: evalEvery, tasks: evalTasks, resolution: res, seed: seed + 3 }, cfgScale, compute));
      writeMetrics();
      console.log(`\nchunk ${compute.chunks} ends at step ${trainer.step}/${steps} (${trainer.step >= stopAt ? '--stop-at' : 'the --minutes budget'}). Commit ${work}/ to keep it, then continue with:\n  npm run soar -- pretrain ${argLine(args).replace(/ ?--stop-at \d+/, '')} --resume`);
      trainer.release();
      return 0;
    }
  }
  account();
  // The bundle that ships: the weight average when the run keeps one (cleaner samples), else the last weights.
  await withWeights(trainer, await trainer.emaWeights(), async () => {
    const files = await saveBase(base, id, `pretrained ${trainer.step} steps`, 'text_encoder.onnx');
    writeBaseDir(out, files, exportTextEncoderOnnx(base.textEncoder.config, await base.textEncoder.toHost()));
  });
  if (evalEvery) chunkEvals.push(await evaluateChunk(engine, trainer, base, id, work, { prompts: evalEvery, tasks: evalTasks, resolution: res, seed: seed + 3 }, cfgScale, compute));
  writeMetrics();
  trainer.release();

  // Evaluate exactly what ships: reload the bundle from its bytes.
  const shipped = readBaseDir(engine, out, 'the bundle was not written');
  const result = await evaluateModel(engine, shipped, { prompts: evalPrompts, stepCounts: [evalSteps], cfgScale, driftSamples: 8 });
  writeFileSync(join(out, 'samples.png'), gridPng(result.images, { scale: 2, cols: 12 }));
  writeFileSync(join(out, 'loss.png'), linePlotPng([{ color: [40, 100, 220], points: smooth(trainer.history).map((m) => [m.step, m.loss] as const) }], { logY: true }));
  const adapter = describeAdapter(engine.gpu.summary);
  const card = modelCard({ presetName, cfg, images, adapter, dropout, encoderLrScale, emaDecay, captionUse, separation, compute, chunkEvals, history: trainer.history, validation: trainer.validation, result, evalSteps, cfgScale, out, recipe });
  writeFileSync(join(out, 'README.md'), card);
  writeFileSync(join(out, 'eval.json'), JSON.stringify({ model: id, cfg: cfgScale, ...result, images: undefined }, null, 1));
  console.log(card);
  return 0;
}

/** Steps between looks at the clock (a studio-s step at batch 16 takes ~2 s here). */
const SLICE_STEPS = 10;

/** Total compute of a pretraining run across its chunks. */
interface Compute {
  images: number;
  seconds: number;
  chunks: number;
}

/** Evaluator scores of the weights at the end of a chunk (the learning curve against images seen). */
interface ChunkEval {
  step: number;
  images: number;
  hours: number;
  prompts: number;
  /** When the chunk evaluation was limited to some tasks' prompts. */
  tasks?: Task[];
  sampleSteps: number;
  overall: number;
  perTask: Record<string, number>;
  /** Shape use and loss by noise level of the same weights (absent in records from before they were measured). */
  shapeUse?: ShapeUse;
  noiseLoss?: NoiseLoss;
}

/** "a / b / c (mean image)" over PROBE_SIGMAS. */
function fmtNoiseLoss(n: NoiseLoss | undefined): string {
  return n ? `${PROBE_SIGMAS.map((s) => n.bySigma[s].toFixed(4)).join(' / ')} (${n.meanImage.toFixed(4)})` : '';
}

function fmtShapeUse(u: ShapeUse | undefined): string {
  const pct = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));
  return u ? `${pct(u.small)} / ${pct(u.large)} %` : '';
}

/** Sampling steps of the chunk evaluation: the issue's yardstick is 20 Euler steps. */
const CHUNK_EVAL_STEPS = 20;

/** A generous estimate of a chunk evaluation's time, so a chunk stops early enough to run it. */
function chunkEvalMs(prompts: number): number {
  return prompts ? 120_000 + prompts * 4_000 : 0; // ~80 s of bundle and probes (chunk-probes.ts), 40 s to spare
}

function readWorkMetrics(path: string, step: number): { captionUse: CaptionUse[]; separation: WordSeparation[]; evals: ChunkEval[]; compute: Compute | null; recipe: RecipePhase[] | null } {
  let m: { captionUse?: CaptionUse[]; separation?: WordSeparation[]; evals?: ChunkEval[]; compute?: Compute; recipe?: RecipePhase[] };
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as typeof m;
  } catch (e) {
    throw new Error(`--resume: ${path} is not readable JSON (${(e as Error).message}); restore it from the repository (git checkout -- ${path})`);
  }
  const c = m.compute;
  const compute = c && Number.isFinite(c.images) && Number.isFinite(c.seconds) && Number.isInteger(c.chunks) ? c : null;
  return {
    captionUse: (Array.isArray(m.captionUse) ? m.captionUse : []).filter((u) => u.step <= step),
    separation: (Array.isArray(m.separation) ? m.separation : []).filter((u) => u.step <= step),
    evals: (Array.isArray(m.evals) ? m.evals : []).filter((u) => u.step <= step),
    compute,
    recipe: Array.isArray(m.recipe) ? m.recipe.filter((r) => typeof r?.args === 'string' && Number.isInteger(r.from) && r.from <= step) : null,
  };
}

/**
 * Runs `fn` with `weights` (by parameter name) in the trainer's parameters, then puts the training weights
 * back: the bundle and the evaluation see the weight average, the next step the weights being trained.
 */
async function withWeights<R>(trainer: Trainer, weights: Map<string, Float32Array> | null, fn: () => Promise<R>): Promise<R> {
  if (!weights) return fn();
  const params = trainer.parameters();
  const current = await Promise.all(params.map((p) => p.toArray()));
  const gpu = params[0].engine.gpu;
  params.forEach((p) => gpu.write(p.buffer, weights.get(p.name)!));
  try {
    return await fn();
  } finally {
    params.forEach((p, k) => gpu.write(p.buffer, current[k]));
  }
}

/**
 * The chunk's end, for the model card's curve: the evaluator on held-out prompts, and the probes on unseen single
 * objects (their own stream, `seed`), both of what would ship now (the weight average when the run keeps one).
 */
async function evaluateChunk(engine: Engine, trainer: Trainer, base: LoadedBase, id: string, work: string, which: { prompts: number; tasks: Task[] | undefined; resolution: number; seed: number }, cfgScale: number, compute: Compute): Promise<ChunkEval> {
  const prompts = which.prompts;
  const dir = join(work, 'eval-bundle');
  const probes = await withWeights(trainer, await trainer.emaWeights(), async () => {
    writeBaseDir(dir, await saveBase(base, id, `chunk evaluation at step ${trainer.step}`));
    return chunkProbes(trainer, which.resolution, which.seed);
  });
  const loaded = readBaseDir(engine, dir, 'the evaluation bundle was not written');
  try {
    const r = await evaluateModel(engine, loaded, { prompts, tasks: which.tasks, stepCounts: [CHUNK_EVAL_STEPS], cfgScale, driftSamples: 0 });
    const at = r.byStep[0];
    const e: ChunkEval = { step: trainer.step, images: compute.images, hours: compute.seconds / 3600, prompts: r.prompts.length, ...(which.tasks ? { tasks: which.tasks } : {}), sampleSteps: CHUNK_EVAL_STEPS, overall: at.overall, perTask: at.perTask, ...probes };
    const per = Object.entries(at.perTask).map(([t, v]) => `${t} ${v.toFixed(2)}`).join(', ');
    console.log(`evaluator at step ${trainer.step} (${compute.images.toLocaleString('en-US')} images): overall ${e.overall.toFixed(3)} on ${e.prompts} held-out prompts${which.tasks ? ` (${which.tasks.join(', ')} only)` : ''}, ${CHUNK_EVAL_STEPS} steps: ${per}; shape use ${fmtShapeUse(probes.shapeUse)}; clean-image error at σ ${PROBE_SIGMAS.join(' / ')} ${fmtNoiseLoss(probes.noiseLoss)} (mean image in brackets)`);
    return e;
  } finally {
    loaded.model.release();
    loaded.textEncoder.release();
  }
}

function parseTasks(text: string): Task[] | undefined {
  if (!text) return undefined;
  const tasks = text.split(',').map((t) => t.trim());
  for (const t of tasks) if (!(TASKS as readonly string[]).includes(t)) throw new Error(`--chunk-eval-tasks: ${JSON.stringify(t)} is not a task (one of ${TASKS.join(', ')})`);
  return tasks as Task[];
}

function parameterTotal(t: Trainer): string {
  return t.parameters().reduce((n, p) => n + p.size, 0).toLocaleString('en-US');
}

/** Mean loss per window of 10 steps: the raw per-batch loss swings with the noise levels drawn. */
function smooth(history: StepMetrics[]): StepMetrics[] {
  const w = 10;
  const out: StepMetrics[] = [];
  for (let i = 0; i + w <= history.length; i += w) {
    const part = history.slice(i, i + w);
    out.push({ ...part[w - 1], loss: part.reduce((s, m) => s + m.loss, 0) / w });
  }
  return out;
}

/** From step `from` on, the run trained with these options (argLine without the chunking and reporting ones). */
interface RecipePhase {
  from: number;
  args: string;
}

/** Options that change only how a run is cut into chunks or reported, not the weights it ends with. */
const NOT_RECIPE = ['minutes', 'checkpoint-minutes', 'stop-at', 'chunk-eval-prompts', 'chunk-eval-tasks', 'work', 'out'];

/**
 * A checkpoint whose text encoder was in the step at learning-rate scale 0 (its weights and Adam state saved
 * after the denoiser's), made resumable by a trainer that keeps the frozen encoder out of the step: the encoder's
 * entries are dropped once its saved weights are checked to be the frozen ones (a checkpoint whose encoder moved
 * must be resumed with the scale it trained at). A checkpoint without encoder entries comes back as it is.
 */
export async function withoutFrozenEncoder(ck: Checkpoint, encoder: TextEncoderModel, trained: number): Promise<Checkpoint> {
  const names = textParameterSpecs(encoder.config).map((s) => s.name);
  const saved = names.filter((n) => n in ck.tensors);
  if (saved.length === 0) return ck;
  if (saved.length !== names.length || ck.adam.m.length !== trained + names.length) {
    throw new Error(`--resume: the checkpoint holds ${saved.length} of the text encoder's ${names.length} weights and Adam state for ${ck.adam.m.length} tensors (the denoiser has ${trained}): it was made by another version or config`);
  }
  const live = await encoder.toHost();
  for (const n of names) {
    const a = ck.tensors[n].data;
    const b = live.get(n)!.data;
    if (a.length !== b.length || a.some((v, k) => v !== b[k])) {
      throw new Error(`--resume: the checkpoint's text encoder (${n}) is not the frozen one this run starts from: it trained; resume with the --text-encoder-lr-scale it was made with`);
    }
  }
  const tensors = Object.fromEntries(Object.entries(ck.tensors).filter(([n]) => !names.includes(n)));
  const keep = <T>(xs: T[]) => xs.slice(0, trained);
  const adam = { steps: keep(ck.adam.steps), m: keep(ck.adam.m), v: keep(ck.adam.v), ...(ck.adam.ema ? { ema: keep(ck.adam.ema) } : {}) };
  return { ...ck, tensors, adam };
}

function recipeArgs(args: Args): string {
  return argLine(args)
    .split(/ (?=--)/)
    .filter((a) => a && !NOT_RECIPE.includes(a.slice(2).split(' ')[0]))
    .join(' ');
}

/** The commands that reproduce a run: one, or one per recipe phase, each stopping where the next began. */
export function reproduceCommands(recipe: readonly RecipePhase[]): string[] {
  return recipe.map((r, k) => {
    const next = recipe[k + 1];
    return ['npm run soar -- pretrain', r.args, k > 0 ? '--resume' : '', next ? `--stop-at ${next.from}` : ''].filter(Boolean).join(' ');
  });
}

function argLine(args: Args): string {
  return args.entries().map(([k, v]) => (v === true ? `--${k}` : `--${k} ${v}`)).filter((a) => !a.startsWith('--resume')).join(' ');
}

/** Validation loss with the true captions and with every caption empty, at one checkpoint. */
interface CaptionUse {
  step: number;
  captioned: number;
  empty: number;
  /** Single-object images: the loss with their captions, and with the shape word swapped for another shape. */
  shapeRight?: number;
  shapeSwapped?: number;
  /** Measured on the weight average (what ships); absent: on the trained weights (earlier records). */
  weights?: 'average';
}

interface CardInput {
  presetName: string;
  cfg: TrainConfig;
  images: number;
  /** The WebGPU adapter it trained on, as Dawn names it. */
  adapter: string;
  dropout: number;
  encoderLrScale: number;
  emaDecay: number;
  captionUse: CaptionUse[];
  separation: WordSeparation[];
  /** Compute over every chunk of the run. */
  compute: Compute;
  chunkEvals: ChunkEval[];
  history: StepMetrics[];
  validation: Array<{ step: number; loss: number }>;
  result: EvalResult;
  evalSteps: number;
  cfgScale: number;
  out: string;
  recipe: RecipePhase[];
}

function modelCard(c: CardInput): string {
  const p = PRESETS[c.presetName];
  const s = c.result.byStep[0];
  const tail = c.history.slice(-10);
  const lastLoss = tail.reduce((sum, m) => sum + m.loss, 0) / Math.max(1, tail.length);
  const sizes = ['transformer.safetensors', 'text_encoder.safetensors', 'text_encoder.onnx'].map((f) => `${f} ${(readFileSync(join(c.out, f)).length / 1024).toFixed(0)} KiB`);
  return [
    `# ${c.presetName}-base: the studio's built-in base model`,
    '',
    `An SD3-architecture MMDiT (diffusers \`SD3Transformer2DModel\` names) and its text encoder, pretrained from scratch`,
    'on the built-in procedural dataset with this project\'s own CLI (WebGPU through Dawn, the same kernels as the studio). It exists so that',
    'SFT and SOAR can be compared in the studio within minutes and without any download; it is a small research',
    'base for flat coloured shapes on a dark background, not a general image model.',
    '',
    '## Reproduce',
    '',
    ...(c.recipe.length > 1 ? ['The recipe changed during the run; these commands, in order, give the same weights:', ''] : []),
    '```',
    ...reproduceCommands(c.recipe),
    '```',
    '',
    `Compute: ${c.compute.images.toLocaleString('en-US')} images in ${(c.compute.seconds / 3600).toFixed(2)} hours over ${c.compute.chunks} chunk${c.compute.chunks > 1 ? 's' : ''} (each chunk a \`--minutes\` budget that the next continues exactly), on ${c.adapter} through Dawn (${(c.compute.images / Math.max(1, c.compute.seconds)).toFixed(2)} images/s). Same seed, same numbers: the data order, the noise and the initialisation are all seeded.`,
    '',
    '## Model',
    '',
    '```json',
    JSON.stringify(p.config),
    JSON.stringify(p.meta),
    '```',
    '',
    `Text encoder: ${JSON.stringify(Object.fromEntries(Object.entries(textConfigOf(c)).filter(([k]) => k !== 'vocab_size')))}. Files: ${sizes.join(', ')}.`,
    '',
    '## Training',
    '',
    `- Data: \`builtin:broad\` (seed ${c.cfg.seed}), ${c.images} distinct images at ${p.meta.resolution}×${p.meta.resolution}, ${seenTimes(c.cfg.max_train_steps * c.cfg.train_batch_size, c.images)}; captions replaced by the empty caption with probability ${c.dropout} (per image) for classifier-free guidance.`,
    `- Flow matching (SFT, velocity = noise − data), ${c.cfg.weighting_scheme === 'uniform' ? 'uniform t' : `logit-normal t (mean ${c.cfg.logit_mean}, std ${c.cfg.logit_std})`} (at the end; the recipe below gives each stretch of steps), shift ${c.cfg.shift}; ${c.encoderLrScale > 0 ? 'denoiser and text encoder trained jointly, every parameter' : 'every parameter of the denoiser; the text encoder frozen at its seeded random initialisation (learning-rate scale 0: a random encoder keeps every word as far apart as every other, where a jointly trained one learned to amplify colour words and to squeeze shape words together; see the word separation below)'}.`,
    `- ${c.cfg.max_train_steps} steps, batch ${c.cfg.train_batch_size}, AdamW lr ${c.cfg.learning_rate} (text encoder × ${c.encoderLrScale}; ${c.cfg.lr_warmup_steps} warm-up steps, cosine to 0), betas (${c.cfg.adam_beta1}, ${c.cfg.adam_beta2}), weight decay ${c.cfg.adam_weight_decay}, gradient clipping ${c.cfg.max_grad_norm}.`,
    ...(c.emaDecay ? [`- The bundle holds an exponential moving average of the weights (decay ${c.emaDecay}), updated after every step; the last weights are in the checkpoint.`] : []),
    `- Loss (mean of the last 10 steps): ${lastLoss.toFixed(4)}. Validation loss (32 unseen broad images, fixed noise): ${c.validation.map((v) => `${v.step}: ${v.loss.toFixed(4)}`).filter((_, i, a) => i % Math.ceil(a.length / 8) === 0 || i === a.length - 1).join(', ')}. Curve: loss.png.`,
    `- Caption use (the same validation images and noise with every caption empty; equal losses mean the model ignores its captions): ${captionUseLine(c.captionUse)}.`,
    ...(c.captionUse.some((u) => u.shapeRight !== undefined) ? [`- Shape use (32 unseen single-object images, fixed noise: the loss with their captions vs with the shape word swapped for another shape; equal losses mean the model ignores shape words): ${pickSome(c.captionUse.filter((u) => u.shapeRight !== undefined)).map((u) => `${u.step}${averaged(u)}: ${u.shapeRight!.toFixed(4)} vs ${u.shapeSwapped!.toFixed(4)}`).join(', ')}.`] : []),
    ...(c.separation.length ? [`- Word separation (mean distance between the text encoder's contexts of captions that differ in one colour word / one shape word; a word the encoder does not separate is a word the denoiser cannot follow): ${pickSome(c.separation).map((w) => `${w.step}: ${w.color.toFixed(2)} / ${w.shape.toFixed(2)}`).join(', ')}.`] : []),
    '',
    '## Evaluation',
    '',
    `The GenEval-style evaluator (src/eval) on ${c.result.prompts.length} held-out prompts (half name a colour–shape pair never shown in the clean split), ${c.evalSteps} Euler steps, CFG ${c.cfgScale}, one fixed seed per prompt:`,
    '',
    '| overall | novel pairs | in-distribution | ' + Object.keys(s.perTask).join(' | ') + ' |',
    '|---|---|---|' + Object.keys(s.perTask).map(() => '---').join('|') + '|',
    `| ${s.overall.toFixed(3)} | ${s.novel.toFixed(3)} | ${s.inDistribution.toFixed(3)} | ${Object.values(s.perTask).map((v) => v.toFixed(3)).join(' | ')} |`,
    '',
    s.overall >= 0.5
      ? `At or above the 0.5 this base aims for.`
      : `Below the 0.5 this base aims for: look at samples.png before trusting comparisons on it. More steps and a larger batch (the same command with --steps and --batch) are the way up.`,
    '',
    `Final-state trajectory drift from the ideal path (8 clean images): ${c.result.drift[0].final.toFixed(4)}. Samples: samples.png (prompts in the order of eval.json).`,
    '',
    ...chunkCurve(c.chunkEvals),
  ].join('\n');
}

/** The evaluator's score against images seen, one row per chunk: how far the compute at hand got. */
function chunkCurve(evals: ChunkEval[]): string[] {
  if (!evals.length) return [];
  const tasks = [...new Set(evals.flatMap((e) => Object.keys(e.perTask)))];
  return [
    '## Score against images seen',
    '',
    `At the end of every chunk, ${evals[0].sampleSteps} Euler steps, on held-out prompts (all tasks spread evenly, or only the tasks named; a task a row did not score is blank). Shape use: the loss increase with the shape word swapped, on ${PROBE_IMAGES} unseen small / large single objects (0: the model ignores shape words). Clean-image error: the mean squared error of x̂0 = x − σ·v̂ on the same images at fixed noise levels; at σ = 1 a model that knows nothing scores the images' variance around their mean image (given in brackets), and one above it invents layouts out of the noise:`,
    '',
    '| step | images | hours | prompts | overall | ' + tasks.join(' | ') + ' | shape use small / large | clean-image error σ ' + PROBE_SIGMAS.join(' / ') + ' |',
    '|---:|---:|---:|---|---:|' + tasks.map(() => '---:').join('|') + '|---:|---:|',
    ...evals.map((e) => `| ${e.step} | ${e.images.toLocaleString('en-US')} | ${e.hours.toFixed(2)} | ${e.prompts}${e.tasks ? ` (${e.tasks.join(', ')})` : ''} | ${e.overall.toFixed(3)} | ${tasks.map((t) => (e.perTask[t] === undefined ? '' : e.perTask[t].toFixed(3))).join(' | ')} | ${fmtShapeUse(e.shapeUse)} | ${fmtNoiseLoss(e.noiseLoss)} |`),
    '',
  ];
}

function seenTimes(examples: number, images: number): string {
  const times = examples / images;
  return times <= 1 ? 'each seen once' : `each seen ${Number.isInteger(times) ? times : `~${times.toFixed(1)}`} times`;
}

/** About six entries spread over a list, the last included. */
function pickSome<T>(xs: readonly T[]): T[] {
  return xs.filter((_, i, a) => i % Math.ceil(a.length / 6) === 0 || i === a.length - 1);
}

function captionUseLine(use: CaptionUse[]): string {
  const picked = pickSome(use);
  return picked.map((u) => `${u.step}${averaged(u)}: ${u.captioned.toFixed(4)} captioned vs ${u.empty.toFixed(4)} empty`).join(', ');
}

/** Marks a record measured on the weight average, in a run whose earlier records were not. */
function averaged(u: CaptionUse): string {
  return u.weights === 'average' ? ' (average)' : '';
}

function textConfigOf(c: CardInput): Record<string, unknown> {
  return textEncoderConfigFor(PRESETS[c.presetName], 1) as unknown as Record<string, unknown>;
}
