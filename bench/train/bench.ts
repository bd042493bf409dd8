// The training-step benchmark itself, platform-neutral (the Node entry gives it a GPU context): SFT and SOAR
// steps of the real Trainer (LoRA, built-in data, a real text encoder and embedding cache, as in
// test/train/trainer.test.ts) per model preset.
//
// Per preset, one Trainer (and one model) per method. `warmup` steps each (pipelines compile, the pool and the
// uniform arena grow, staging buffers appear), then `reps` timed steps each, ROUND-ROBIN (SFT, SOAR, SFT, ...),
// each waited on to completion: the trainer's metrics promise (its readbacks) and gpu.sync(). Reported per
// step: GPU time summed over the step's compute passes (PassTimer, timestamp queries; buffer copies between
// passes are not included), wall time, CPU recording time (until Trainer.trainStep resolves), dispatches,
// submits, pool bytes, buffers created, FLOPs (probe.ts, flops.ts). Then `profileReps` PROFILED steps each,
// with one compute pass per dispatch so each kernel gets its own timestamps (kernel-profiler.ts): GPU time per
// kernel and per phase of the step. Profiled steps are never among the timed ones (the extra pass boundaries
// change the timing a little).
//
// Text embeddings: every caption of the dataset is encoded before the first step, so no timed step runs the
// text encoder (in a real run only the first epoch does, once per caption).
import { describeAdapter, type GpuContext } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';
import { Engine } from '../../src/tensor/engine';
import { describeKernelChoices, type KernelChoices } from '../../src/tensor/kernels';
import { loadOrTuneKernels, type KernelCache, type TuneResult } from '../../src/tensor/tuning';
import type { AdamW } from '../../src/tensor/ops/optim';
import { matmul } from '../../src/tensor/ops/matmul';
import { PRESETS, type ModelPreset } from '../../src/model/config';
import { mmditForwardFlops, trainingPassFlops, type FlopBreakdown } from '../../src/model/flops';
import { trainStepFlops } from '../../src/train/methods';
import { MMDiT } from '../../src/model/mmdit';
import { builtinTokenizer } from '../../src/encode/builtin-vocab';
import { EmbeddingCache } from '../../src/encode/cache';
import { textEncoderConfigFor } from '../../src/encode/config';
import { TextEncoderModel, engineCaptionEncoder } from '../../src/encode/text-encoder';
import { builtinData } from '../../src/data/source';
import { DEFAULT_TRAIN, type Method, type TrainConfig } from '../../src/train/config';
import { methodInfo, stepCost } from '../../src/train/methods';

/**
 * SFT and SOAR train a LoRA; 'pretrain' is the `pretrain` command's step: every parameter of the denoiser and
 * of the text encoder (run inside the step, at lr × 0.1), flow matching, at the pretraining batch.
 */
export type BenchMethod = Method | 'pretrain';
/** The pretrain command's batch (PRETRAIN_DEFAULTS.batch). */
const PRETRAIN_BATCH = 16;
import { Trainer } from '../../src/train/trainer';
import { PassTimer } from '../lib/pass-timer';
import { median, randomF32 } from '../lib/stats';
import { KernelProfiler, type PassTime } from './kernel-profiler';
import { PHASES, StepProbe, type FlushCause, type Phase, type StepTally } from './probe';

export interface TrainBenchOptions {
  presets: string[];
  methods: BenchMethod[];
  warmup: number;
  reps: number;
  /** Extra per-dispatch-profiled steps per case (after the timed ones). */
  profile: boolean;
  profileReps: number;
  batch: number;
  trajectoryLength: number;
  rolloutPaths: number;
  /** Examples in the built-in dataset (several batches, so steps see different data as in training). */
  examples: number;
  /** 'tune': the adapter's measured kernel choices (as the CLI and the studio run); 'default': the GPU-shaped ones. */
  kernels: 'tune' | 'default';
}

export const DEFAULT_OPTIONS: TrainBenchOptions = {
  presets: ['tiny', 'studio-s'],
  methods: ['sft', 'soar'],
  warmup: 2,
  reps: 5,
  profile: true,
  profileReps: 2,
  batch: 4,
  trajectoryLength: 6,
  rolloutPaths: 1,
  examples: 16,
  kernels: 'tune',
};

export interface StepSample {
  wallMs: number;
  recordMs: number;
  /** Part of recordMs spent inside Gpu.dispatch (the rest: ops, autograd, uploads, the trainer). */
  dispatchCpuMs: number;
  gpuMs: number | null;
  dispatches: number;
  submits: number;
  readbacks: number;
  passes: number;
  /** Pool bytes/buffers created during this step (GpuStats.bytesAllocated delta). */
  newPoolBytes: number;
  newPoolBuffers: number;
  /** Every GPU buffer created in the step, pool or not (GPUDevice.createBuffer). */
  created: StepTally['created'];
  leaked: StepTally['leaked'];
  bytesInUseAfter: number;
  peakBytesInUse: number;
  /** Peak minus bytes in use at the step's start: the step's own working set (activations, grads, temporaries). */
  stepPeakBytes: number;
}

export interface Breakdown {
  dispatches: number;
  flops: number;
  /** GPU ms from the profiled step (null without timestamps or without --profile). */
  gpuMs: number | null;
}

export interface CaseProfile {
  /** False when no step was profiled with timestamps (then only counts and FLOPs are filled in). */
  timed: boolean;
  /** Sum of the per-dispatch pass times (each dispatch: fastest of the profiled steps). */
  kernelMs: number;
  /** First pass begin to last pass end of the last profiled step (includes gaps between passes and submits). */
  spanMs: number;
  phases: Partial<Record<Phase, Breakdown & { uploads: number; uploadBytes: number }>>;
  kernels: Record<string, Breakdown>;
  /** Per phase and kernel (the detail of the glue phases). */
  phaseKernels: Partial<Record<Phase, Record<string, Breakdown>>>;
  /** Matmuls by shape ("tiled 24x... "): where the FLOPs and the time go. */
  matmulShapes: Record<string, Breakdown & { phase: string }>;
}

export interface CaseResult {
  preset: string;
  method: BenchMethod;
  config: { batch: number; K: number; P: number; auxItems: number; loraParams: number; rank: number; resolution: number };
  /** Median of the timed steps: GPU time when timestamps exist, else wall. */
  ms: number;
  source: 'gpu' | 'wall';
  wallMs: number;
  gpuMs: number | null;
  recordMs: number;
  /** Median CPU ms inside Gpu.dispatch per step (included in recordMs). */
  dispatchCpuMs: number;
  minMs: number;
  dispatches: number;
  submits: number;
  submitCauses: Partial<Record<FlushCause, number>>;
  /** For submits other than reads: which buffer or kernel caused them, with the phase (last timed step). */
  submitLabels: Record<string, string>;
  readbacks: number;
  passes: number;
  /** Pool bytes in use at the step's peak and after it: everything resident, i.e. the preset's models for BOTH
   *  methods (one per trainer), text encoder, LoRA, Adam state, caches. */
  peakBytesInUse: number;
  bytesInUseAfter: number;
  /** The step's own working set above what was resident when it began (max over timed steps). */
  stepPeakBytes: number;
  /** The pool's whole footprint (bytesAllocated: in use + free), cumulative over the cases run before. */
  poolBytes: number;
  /** Max over timed steps of pool bytes created per step: 0 when the pool is in steady state. */
  newBytesPerStep: number;
  /** Max over timed steps of pool bytes in use that a step acquired and never released. */
  leakedBytesPerStep: number;
  /** FLOPs per step from src/model/flops.ts trainStepFlops: what the kernels execute (attention recompute and
   *  the elementwise estimate included); `modelFlops` without the recompute. The predicted ratio uses `flops`. */
  flops: number;
  modelFlops: number;
  /** Cross-check: GEMM + attention FLOPs counted from the step's dispatches (flops.ts) vs the same part of the
   *  analytic count (linear + lora + attention). */
  counted: { gemmAttention: number; analyticGemmAttention: number; modelConvention: number };
  steps: StepSample[];
  profile: CaseProfile | null;
  /** Names of what was created / leaked in timed steps (label: count over the timed steps). */
  createdLabels: Record<string, { count: number; bytes: number; kind: string }>;
  leakedLabels: Record<string, { count: number; bytes: number; phase: string }>;
  /** Host load averages [1, 5, 15 min] when the preset's runs started and ended (null where unknown). */
  hostLoad: { start: number[]; end: number[] } | null;
  /**
   * The step's GFLOP/s (analytic FLOPs / median wall ms) against the engine's own matmul on the preset's largest
   * GEMM (same run, same adapter, same kernel choices): how much of the adapter's matmul speed a whole step
   * keeps. Filled per preset after its steps.
   */
  efficiency: { stepGflops: number; matmulGflops: number; matmulShape: string; ratio: number } | null;
}

export interface RatioRow {
  preset: string;
  /** Medians of the timed steps (GPU time when available). */
  measured: number;
  measuredWall: number;
  /** Fastest timed step of each: less sensitive to other processes on a shared CPU. */
  measuredMin: number;
  /** Profiled kernel time (per dispatch, fastest of the profiled steps); null without profiling. */
  profiled: number | null;
  predictedFlops: number;
  /** src/train/config.ts stepCost().relativeToSft (forward/backward count model). */
  predictedStepCost: number;
  /** measured / predictedFlops − 1. */
  deviation: number;
}

/** Bumped when the report's shape changes: run.ts ignores stored reports of another version. */
export const REPORT_VERSION = 1;

export interface TrainBenchReport {
  version: number;
  env: string;
  date: string;
  platform: string;
  adapter: string;
  timestampQuery: boolean;
  options: TrainBenchOptions;
  cases: CaseResult[];
  ratios: RatioRow[];
  /** The kernel variants the steps ran, and the autotuner's measurements when it ran. */
  kernels: { choices: KernelChoices; tuning: TuneResult | null };
}

export interface TrainBenchEnv {
  name: string;
  platform: string;
  ctx: GpuContext;
  log: (line: string) => void;
  /** The host's 1/5/15-minute load averages (Node: os.loadavg), to tell a contended run from a quiet one. */
  load?: () => number[];
  /** Where the autotuner's choices persist (null: measured every run). */
  kernelCache?: KernelCache | null;
}

function trainConfig(o: TrainBenchOptions, method: BenchMethod, shift: number): TrainConfig {
  if (method === 'pretrain') {
    return { ...DEFAULT_TRAIN, method: 'sft', train_mode: 'full', train_batch_size: PRETRAIN_BATCH, cond_dropout_rate: 0, shift, max_train_steps: 1_000_000 };
  }
  if (method === 'grpo') {
    // Flow-GRPO: the batch's captions each get a group of 4, the reference's geneval recipe otherwise (10
    // sampling steps with CFG, 9 trained steps). The toy reward, not the evaluator: on a random base every
    // evaluator score ties at 0, and a tied group trains nothing, so the step would time sampling alone.
    return { ...DEFAULT_TRAIN, method, train_batch_size: Math.max(1, Math.floor(o.batch / 4)), sample_num_image_per_prompt: 4, reward_fn: 'redness', shift, max_train_steps: 1_000_000 };
  }
  // Default SOAR hyper-parameters (DEFAULT_TRAIN) with K and P pinned to the brief's 6 and 1.
  return { ...DEFAULT_TRAIN, method, train_batch_size: o.batch, trajectory_length: o.trajectoryLength, num_rollout_paths: o.rolloutPaths, shift, max_train_steps: 1_000_000 };
}

/** Model, text encoder, embedding cache and data of a preset, as test/train/trainer.test.ts builds them. */
async function world(engine: Engine, presetName: string, examples: number) {
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`bench:train: unknown preset ${presetName} (known: ${Object.keys(PRESETS).join(', ')})`);
  const tok = builtinTokenizer(preset.meta.max_text_tokens);
  const encoder = TextEncoderModel.init(engine, textEncoderConfigFor(preset, tok.vocabSize), 2);
  const cache = new EmbeddingCache(engineCaptionEncoder(encoder, tok, `bench-${presetName}`));
  const data = builtinData('clean', examples, preset.meta.resolution);
  await cache.stacked(Array.from({ length: data.size }, (_, i) => data.example(i).caption));
  await cache.unconditional();
  return { preset, encoder, tokenizer: tok, cache, data };
}

/** Images through the model in one step's largest pass (SOAR's aux batch: batch × K × P). */
function stepImages(cfg: TrainConfig): number {
  return Math.max(...methodInfo(cfg.method).passes(cfg, cfg.train_batch_size).map((p) => p.batch));
}

/**
 * The engine's matmul (the kernel its tuned choices pick) on the preset's largest GEMM: the MLP's up-projection
 * (D → 4·D) over every image token of the largest pass. Fastest of 5 runs, each awaited.
 */
async function largestGemmRate(engine: Engine, preset: ModelPreset, images: number): Promise<{ gflops: number; shape: string }> {
  const c = preset.config;
  const D = c.num_attention_heads * c.attention_head_dim;
  const tokens = (c.sample_size / c.patch_size) ** 2;
  const [M, N, K] = [images * tokens, 4 * D, D];
  const x = engine.keep(engine.fromArray(randomF32(M * K, 5), [M, K], 'bench.x'));
  const w = engine.keep(engine.fromArray(randomF32(N * K, 6), [N, K], 'bench.w'));
  let best = Infinity;
  try {
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      engine.noGrad(() => matmul(x, w, { transB: true })).release();
      await engine.gpu.sync();
      if (i > 0) best = Math.min(best, performance.now() - t0); // the first compiles
    }
  } finally {
    x.release();
    w.release();
  }
  return { gflops: (2 * M * N * K) / best / 1e6, shape: `${M}x${N}x${K}` };
}

/** The base model, initialised as test/train/trainer.test.ts does (the same weights for every call). */
function initModel(engine: Engine, preset: ModelPreset): MMDiT {
  const model = MMDiT.init(engine, preset.config, 1);
  // adaLN-Zero starts every block at identity and the output layer at zero: give the modulation and output
  // weights small values, as the trainer test does, so the step computes something non-trivial.
  model.writeZeroInitLayers((n, i) => randomF32(n, 1 + i).map((x) => 0.1 * x));
  return model;
}

const sumBy = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0);

function countLabels<T extends { label: string; bytes: number }, K extends string>(items: T[], extra: (x: T) => [K, string]): Record<string, { count: number; bytes: number } & Record<K, string>> {
  const out: Record<string, { count: number; bytes: number } & Record<K, string>> = {};
  for (const x of items) {
    const [k, v] = extra(x);
    const e = (out[x.label] ??= { count: 0, bytes: 0, [k]: v } as { count: number; bytes: number } & Record<K, string>);
    e.count++;
    e.bytes += x.bytes;
  }
  return out;
}

export async function runTrainBench(env: TrainBenchEnv, options: Partial<TrainBenchOptions> = {}): Promise<TrainBenchReport> {
  const o: TrainBenchOptions = { ...DEFAULT_OPTIONS, ...options };
  if (o.reps < 1) throw new Error('bench:train: --reps must be at least 1');
  const gpu = new Gpu(env.ctx);
  const engine = new Engine(gpu);
  const timer = PassTimer.create(env.ctx.device);
  const profiler = o.profile ? KernelProfiler.create(env.ctx.device) : null;
  let tuning: TuneResult | null = null;
  if (o.kernels === 'tune') {
    const r = await loadOrTuneKernels(engine, env.kernelCache ?? null, { log: (m) => env.log(`tune ${m.op} ${m.shapeClass} ${m.variant}: ${m.ms === null ? `refused (${m.refused})` : `${m.ms.toFixed(1)} ms`}`) });
    tuning = r.tuned;
  }
  env.log(`kernels: ${describeKernelChoices(engine.kernels)}${o.kernels === 'default' ? ' (defaults)' : tuning ? ` (measured in ${(tuning.ms / 1000).toFixed(1)} s)` : ' (cached)'}`);
  const probe = new StepProbe(engine);
  const cases: CaseResult[] = [];
  try {
    for (const presetName of o.presets) {
      const w = await world(engine, presetName, o.examples);
      // One model per method (same weights): Trainer.create installs its LoRA on the model it is given, and
      // two adapters on one model would both run in every forward.
      const runners: Runner[] = [];
      try {
        for (const method of o.methods) {
          const model = initModel(engine, w.preset);
          const cfg = trainConfig(o, method, w.preset.meta.shift);
          const textEncoder = method === 'pretrain' ? { model: w.encoder, tokenizer: w.tokenizer, lrScale: 0.1 } : undefined;
          const trainer = await Trainer.create(engine, model, w.cache, w.data, cfg, { textEncoder });
          runners.push({ method, model, trainer, cfg, samples: [], passesSeen: 0, label: `${presetName} ${method}` });
          // The trainer's optimiser is private; the probe needs it to mark the optimiser phase.
          probe.watch(model, (trainer as unknown as { optimizer: AdamW }).optimizer);
        }
        const ctx = { engine, model: w.preset.config, tokens: w.cache.encoder.tokens, probe, timer, profiler, presetName, resolution: w.preset.meta.resolution };
        const start = env.load?.() ?? null;
        const results = await runPreset(env, o, ctx, runners);
        const end = env.load?.() ?? null;
        for (const c of results) c.hostLoad = start && end ? { start, end } : null;
        const peak = await largestGemmRate(engine, w.preset, Math.max(...runners.map((r) => stepImages(r.cfg))));
        for (const c of results) {
          const stepGflops = c.flops / c.wallMs / 1e6;
          c.efficiency = { stepGflops, matmulGflops: peak.gflops, matmulShape: peak.shape, ratio: stepGflops / peak.gflops };
        }
        env.log(`engine matmul on ${presetName}'s largest GEMM (${peak.shape}): ${peak.gflops.toFixed(3)} GFLOP/s`);
        cases.push(...results);
      } finally {
        for (const r of runners) {
          r.trainer.release();
          r.model.release();
        }
        for (const t of w.encoder.weights.values()) t.release();
      }
    }
  } finally {
    probe.uninstall();
    profiler?.dispose();
    timer?.dispose();
    gpu.destroy();
  }
  return {
    version: REPORT_VERSION,
    env: env.name,
    date: new Date().toISOString(),
    platform: env.platform,
    adapter: describeAdapter(env.ctx.summary),
    timestampQuery: timer !== null,
    options: o,
    cases,
    ratios: ratios(cases),
    kernels: { choices: engine.kernels, tuning },
  };
}

interface Runner {
  method: BenchMethod;
  model: MMDiT;
  trainer: Trainer;
  cfg: TrainConfig;
  label: string;
  samples: Array<{ sample: StepSample; tally: StepTally }>;
  /** Most compute passes seen in one step so far (PassTimer can time at most 64). */
  passesSeen: number;
}

interface PresetCtx {
  engine: Engine;
  model: ModelPreset['config'];
  /** Text tokens per caption (the context length the MMDiT sees). */
  tokens: number;
  probe: StepProbe;
  timer: PassTimer | null;
  profiler: KernelProfiler | null;
  presetName: string;
  resolution: number;
}

/** PassTimer throws past 64 passes in one timed iteration; a step that needs more is timed by wall only. */
const PASS_TIMER_MAX = 64;

/**
 * Warm-up, timed and profiled steps of every method of a preset. The timed steps run round-robin (SFT, SOAR,
 * SFT, SOAR, ...) so that load from other processes on a shared machine falls on both methods alike: the ratio
 * is the number that matters, and a busy spell during one method's block of steps would skew it.
 */
async function runPreset(env: TrainBenchEnv, o: TrainBenchOptions, p: PresetCtx, runners: Runner[]): Promise<CaseResult[]> {
  const gpu = p.engine.gpu;

  const step = async (r: Runner, timed: boolean): Promise<{ sample: StepSample; tally: StepTally; loss: number }> => {
    const s0 = { ...gpu.stats };
    const created0 = gpu.pool.bytesCreated;
    const buffers0 = gpu.pool.buffersCreated;
    const useTimer = timed && p.timer !== null && r.passesSeen <= PASS_TIMER_MAX;
    p.probe.begin(r.method);
    if (useTimer) p.timer!.begin();
    const t0 = performance.now();
    const { metrics } = await r.trainer.trainStep();
    const t1 = performance.now();
    p.probe.recorded();
    const m = await metrics;
    await gpu.sync();
    const t2 = performance.now();
    const gpuMs = useTimer ? await p.timer!.end() : null;
    const tally = p.probe.end();
    r.passesSeen = Math.max(r.passesSeen, tally.passes);
    return {
      loss: m.loss,
      tally,
      sample: {
        wallMs: t2 - t0,
        recordMs: t1 - t0,
        dispatchCpuMs: tally.dispatchCpuMs,
        gpuMs,
        dispatches: gpu.stats.dispatches - s0.dispatches,
        submits: gpu.stats.submits - s0.submits,
        readbacks: gpu.stats.readbacks - s0.readbacks,
        passes: tally.passes,
        newPoolBytes: gpu.pool.bytesCreated - created0,
        newPoolBuffers: gpu.pool.buffersCreated - buffers0,
        created: tally.created,
        leaked: tally.leaked,
        bytesInUseAfter: gpu.pool.bytesInUse,
        peakBytesInUse: tally.peakBytesInUse,
        stepPeakBytes: tally.peakBytesInUse - tally.startBytesInUse,
      },
    };
  };

  for (let i = 0; i < o.warmup; i++) {
    for (const r of runners) {
      const s = await step(r, false);
      env.log(`[${r.label}] warm-up ${i + 1}/${o.warmup}: ${s.sample.wallMs.toFixed(0)} ms wall, ${s.sample.dispatches} dispatches, ${s.sample.passes} passes, loss ${s.loss.toFixed(4)}`);
    }
  }
  for (let i = 0; i < o.reps; i++) {
    for (const r of runners) {
      const s = await step(r, true);
      r.samples.push(s);
      const g = s.sample.gpuMs !== null ? `${s.sample.gpuMs.toFixed(1)} ms GPU, ` : '';
      env.log(`[${r.label}] step ${i + 1}/${o.reps}: ${g}${s.sample.wallMs.toFixed(0)} ms wall, ${s.sample.submits} submits, +${s.sample.newPoolBytes} pool bytes, loss ${s.loss.toFixed(4)}`);
    }
  }
  // Profiled steps, round-robin too. With several, each dispatch keeps its fastest time: on a CPU shared with
  // other processes, a slow sample is a preemption, not the kernel.
  const profiled = new Map<Runner, Array<{ tally: StepTally; passes: PassTime[] }>>(runners.map((r) => [r, []]));
  for (let i = 0; p.profiler && i < o.profileReps; i++) {
    for (const r of runners) {
      p.probe.profiler = p.profiler;
      p.profiler.arm();
      let prof: Awaited<ReturnType<typeof step>>;
      let passes: PassTime[];
      try {
        prof = await step(r, false);
      } finally {
        passes = await p.profiler.disarm();
        p.probe.profiler = null;
      }
      profiled.get(r)!.push({ tally: prof.tally, passes });
      const kernelMs = passes.reduce((t, x) => t + (x.endNs - x.beginNs) / 1e6, 0);
      env.log(`[${r.label}] profiled step ${i + 1}/${o.profileReps}: ${kernelMs.toFixed(1)} ms in kernels, ${prof.sample.wallMs.toFixed(0)} ms wall`);
    }
  }
  const profiles = new Map<Runner, CaseProfile>();
  for (const r of runners) {
    const runs = profiled.get(r)!;
    profiles.set(r, runs.length ? buildProfile(runs) : buildProfile([{ tally: r.samples[r.samples.length - 1].tally, passes: [] }]));
  }
  return runners.map((r) => summarize(p, r, profiles.get(r)!));
}

function summarize(p: PresetCtx, r: Runner, profile: CaseProfile): CaseResult {
  const steps = r.samples.map((s) => s.sample);
  const tally = r.samples[r.samples.length - 1].tally;
  const gpu = p.engine.gpu;
  const gpuTimes = steps.map((s) => s.gpuMs);
  const gpuMs = gpuTimes.every((g): g is number => g !== null) ? median(gpuTimes as number[]) : null;
  const wallMs = median(steps.map((s) => s.wallMs));
  const chosen = gpuMs !== null ? (gpuTimes as number[]) : steps.map((s) => s.wallMs);
  const submitCauses: Partial<Record<FlushCause, number>> = {};
  const submitLabels: Record<string, string> = {};
  for (const s of tally.submits) {
    submitCauses[s.cause] = (submitCauses[s.cause] ?? 0) + 1;
    if (s.cause !== 'read') submitLabels[s.cause] = [submitLabels[s.cause], `'${s.label}' in ${s.phase}`].filter(Boolean).join(', ');
  }
  const { cfg, trainer } = r;
  const analytic = trainStepFlops(p.model, stepShape(p, cfg), cfg);
  return {
    preset: p.presetName,
    method: r.method,
    config: {
      batch: cfg.train_batch_size,
      K: cfg.trajectory_length,
      P: cfg.num_rollout_paths,
      auxItems: r.method === 'soar' ? cfg.train_batch_size * cfg.trajectory_length * cfg.num_rollout_paths : 0,
      loraParams: trainer.lora ? trainer.lora.parameterCount() : 0,
      rank: cfg.rank,
      resolution: p.resolution,
    },
    ms: gpuMs ?? wallMs,
    source: gpuMs !== null ? 'gpu' : 'wall',
    wallMs,
    gpuMs,
    recordMs: median(steps.map((s) => s.recordMs)),
    dispatchCpuMs: median(steps.map((s) => s.dispatchCpuMs)),
    minMs: Math.min(...chosen),
    dispatches: median(steps.map((s) => s.dispatches)),
    submits: median(steps.map((s) => s.submits)),
    submitCauses,
    submitLabels,
    readbacks: median(steps.map((s) => s.readbacks)),
    passes: median(steps.map((s) => s.passes)),
    peakBytesInUse: Math.max(...steps.map((s) => s.peakBytesInUse)),
    stepPeakBytes: Math.max(...steps.map((s) => s.stepPeakBytes)),
    bytesInUseAfter: steps[steps.length - 1].bytesInUseAfter,
    poolBytes: gpu.pool.bytesCreated,
    newBytesPerStep: Math.max(...steps.map((s) => s.newPoolBytes)),
    leakedBytesPerStep: Math.max(...steps.map((s) => sumBy(s.leaked, (l) => l.bytes))),
    flops: analytic.total,
    modelFlops: analytic.model,
    counted: {
      gemmAttention: sumBy(tally.dispatches, (d) => d.executedFlops),
      analyticGemmAttention: analyticGemmAttention(p, cfg),
      modelConvention: sumBy(tally.dispatches, (d) => d.flops),
    },
    steps,
    profile,
    createdLabels: countLabels(steps.flatMap((s) => s.created), (x) => ['kind', x.kind]),
    leakedLabels: countLabels(steps.flatMap((s) => s.leaked), (x) => ['phase', x.phase]),
    hostLoad: null,
    efficiency: null,
  };
}

function stepShape(p: PresetCtx, cfg: TrainConfig) {
  return { batch: cfg.train_batch_size, height: p.resolution, width: p.resolution, tokens: p.tokens };
}

/** linear + lora + attention of the step's passes by src/model/flops.ts (what flops.ts counts per dispatch). */
function analyticGemmAttention(p: PresetCtx, cfg: TrainConfig): number {
  const shape = stepShape(p, cfg);
  const lora = { rank: cfg.rank, targets: cfg.lora_targets };
  const part = (f: FlopBreakdown) => f.linear + f.lora + f.attention;
  // The method's own passes (src/train/methods): with backward, forward + backward; without, forward only.
  let total = 0;
  for (const ps of methodInfo(cfg.method).passes(cfg, shape.batch)) {
    const s = { ...shape, batch: ps.batch };
    let flops: number;
    if (ps.backward) {
      const f = trainingPassFlops(p.model, s, lora);
      flops = part(f.forward) + part(f.backward);
    } else flops = part(mmditForwardFlops(p.model, s, lora));
    total += (ps.count ?? 1) * flops;
  }
  return total;
}

/**
 * Per-phase / per-kernel dispatch counts and FLOPs of a step, with GPU times when passes were timed: per
 * dispatch, the fastest of the profiled steps (they record the same dispatch sequence; if one does not, only
 * the last step is used).
 */
function buildProfile(runs: Array<{ tally: StepTally; passes: PassTime[] }>): CaseProfile {
  const last = runs[runs.length - 1];
  const tally = last.tally;
  const n = tally.dispatches.length;
  const same = runs.filter((x) => x.passes.length > 0 && x.tally.dispatches.length === n && x.tally.dispatches.every((d, i) => d.kernel === tally.dispatches[i].kernel));
  const usable = same.length ? same : last.passes.length ? [last] : [];
  const timed = usable.length > 0;
  const ms = new Float64Array(n).fill(timed ? Infinity : 0);
  for (const run of usable) {
    const mine = new Float64Array(n);
    for (const x of run.passes) if (x.tag >= 0 && x.tag < n) mine[x.tag] += (x.endNs - x.beginNs) / 1e6;
    for (let i = 0; i < n; i++) ms[i] = Math.min(ms[i], mine[i]);
  }
  const passes = usable.length ? usable[usable.length - 1].passes : [];
  const blank = (): Breakdown => ({ dispatches: 0, flops: 0, gpuMs: timed ? 0 : null });
  const blankPhase = () => ({ ...blank(), uploads: 0, uploadBytes: 0 });
  const add = (b: Breakdown, i: number) => {
    b.dispatches++;
    b.flops += tally.dispatches[i].flops;
    if (b.gpuMs !== null) b.gpuMs += ms[i];
  };
  const phases: CaseProfile['phases'] = {};
  const kernels: CaseProfile['kernels'] = {};
  const phaseKernels: CaseProfile['phaseKernels'] = {};
  const matmulShapes: CaseProfile['matmulShapes'] = {};
  tally.dispatches.forEach((d, i) => {
    add((phases[d.phase] ??= blankPhase()), i);
    add((kernels[d.kernel] ??= blank()), i);
    add(((phaseKernels[d.phase] ??= {})[d.kernel] ??= blank()), i);
    if (d.kernel.startsWith('matmul')) {
      const key = `${d.phase.startsWith('bwd') ? 'bwd' : d.phase.startsWith('fwd') ? 'fwd' : d.phase} ${d.detail}`;
      add((matmulShapes[key] ??= Object.assign(blank(), { phase: d.phase })), i);
    }
  });
  for (const u of tally.uploads) {
    const p = (phases[u.phase] ??= blankPhase());
    p.uploads++;
    p.uploadBytes += u.bytes;
  }
  // Keep the step's phase order in the JSON.
  const ordered: CaseProfile['phases'] = {};
  for (const ph of PHASES) if (phases[ph]) ordered[ph] = phases[ph];
  const kernelMs = timed ? ms.reduce((t, x) => t + x, 0) : 0;
  const spanMs = timed ? (Math.max(...passes.map((p) => p.endNs)) - Math.min(...passes.map((p) => p.beginNs))) / 1e6 : 0;
  return { timed, kernelMs, spanMs, phases: ordered, kernels, phaseKernels, matmulShapes };
}

function ratios(cases: CaseResult[]): RatioRow[] {
  const out: RatioRow[] = [];
  for (const preset of new Set(cases.map((c) => c.preset))) {
    const sft = cases.find((c) => c.preset === preset && c.method === 'sft');
    const soar = cases.find((c) => c.preset === preset && c.method === 'soar');
    if (!sft || !soar) continue;
    const measured = soar.ms / sft.ms;
    const predictedFlops = soar.flops / sft.flops;
    out.push({
      preset,
      measured,
      measuredWall: soar.wallMs / sft.wallMs,
      measuredMin: soar.minMs / sft.minMs,
      profiled: soar.profile?.timed && sft.profile?.timed ? soar.profile.kernelMs / sft.profile.kernelMs : null,
      predictedFlops,
      predictedStepCost: stepCost({ ...DEFAULT_TRAIN, method: 'soar', trajectory_length: soar.config.K, num_rollout_paths: soar.config.P }).relativeToSft,
      deviation: measured / predictedFlops - 1,
    });
  }
  return out;
}
