// The model benchmark, platform-neutral: Node (Dawn) and Chromium run this same code; their entries (node.ts,
// browser.ts) only provide the GPU context and onnxruntime-web.
//
// Per preset: one MMDiT with random weights (adaLN and the output layer perturbed off zero, so the velocity is
// not trivially 0) and one LoRA adapter (rank 4, the attention targets, B random) active.
//   forward: ours = MMDiT.forward (noGrad) with the adapter as a separate rank-r path, as in training and
//     previews; ORT = the same model exported by src/model/onnx-export.ts with the adapter merged, run by
//     onnxruntime-web's WebGPU EP on GPU-resident inputs. Timed round-robin with the kernel bench's
//     measureAll; GPU time from timestamp queries when the device has them (ours: bench/lib/pass-timer.ts,
//     ORT: its own per-kernel profiling), else wall time. Both outputs are compared (err).
//   training step: SFT and SOAR LoRA steps (src/train/step.ts + AdamW): peak pool memory and wall time.
// GFLOPS from src/model/flops.ts (the forward with the adapter's GEMMs; the steps' executed FLOPs).
import { Gpu } from '../../src/gpu/runtime';
import { PRESETS } from '../../src/model/config';
import { mmditForwardFlops } from '../../src/model/flops';
import { trainStepFlops } from '../../src/train/methods';
import { ATTENTION_TARGETS, LoraSet, type LoraConfig } from '../../src/model/lora';
import { MMDiT } from '../../src/model/mmdit';
import { exportMMDiTOnnx, hostWeightsOf, mergedLoraOf, ONNX_CONTEXT, ONNX_OUTPUT, ONNX_POOLED, ONNX_SAMPLE, ONNX_TIMESTEP } from '../../src/model/onnx-export';
import { Engine } from '../../src/tensor/engine';
import { DEFAULT_TRAIN, type Method } from '../../src/train/config';
import { measureAll, DEFAULT_OPTIONS as KERNEL_DEFAULTS, type BenchEnv, type ImplResult } from '../kernels/bench';
import { OrtBench, type OrtCase, type Sample } from '../kernels/ort';
import { PassTimer } from '../lib/pass-timer';
import { randomF32 } from '../lib/stats';
import { measureStep, type StepMemory } from './memory';
import { reportHeader, type ReportHeader } from '../lib/report-header';

export interface ModelBenchOptions {
  presets: string[];
  /** Forward batch sizes. */
  batches: number[];
  /** Batch of the measured training steps. */
  stepBatch: number;
  /** SOAR trajectory_length of the measured step (aux items per sample). */
  soarK: number;
  warmup: number;
  reps: number;
  budgetMs: number;
}

/** --quick (the default): batches 1 and 4; --full adds 16 (minutes on SwiftShader). */
// Steps: the app's default trajectory_length (6 aux items per sample, all in one chunk); a SOAR step of studio-s
// at batch 4 is about a minute on SwiftShader, so --quick measures batch 1.
export const QUICK: ModelBenchOptions = { presets: ['tiny', 'studio-s'], batches: [1, 4], stepBatch: 1, soarK: DEFAULT_TRAIN.trajectory_length, warmup: 1, reps: 5, budgetMs: 3000 };
export const FULL: ModelBenchOptions = { ...QUICK, batches: [1, 4, 16], stepBatch: 4 };

export const BENCH_LORA: LoraConfig = { rank: 4, alpha: 4, targets: [...ATTENTION_TARGETS] };

export interface ForwardRow {
  preset: string;
  batch: number;
  /** Image tokens + text tokens per sample. */
  tokens: { image: number; text: number };
  /** Forward FLOPs incl. the adapter's GEMMs (flops.ts). */
  flops: number;
  ours: ImplResult;
  /** ORT with its per-kernel profiling on (GPU time; its wall time includes the profiling's extra passes). */
  ort: ImplResult | null;
  /** ORT with profiling off: wall time only, its real end-to-end speed (profiling ends a pass per kernel). */
  ortPlain: ImplResult | null;
  /** max |ours − ORT| / max |ours| over the whole output (null: not compared). */
  err: number | null;
  /** Distinct WebGPU kernels ORT ran in one inference, with their count. */
  ortKernels: Array<{ kernel: string; count: number }>;
}

export interface StepRow extends StepMemory {
  preset: string;
  /** Executed FLOPs of the step (flops.ts trainStepFlops). */
  flops: number;
}

export interface ModelBenchReport extends ReportHeader {
  options: ModelBenchOptions;
  lora: LoraConfig;
  forward: ForwardRow[];
  steps: StepRow[];
}

const isError = (r: unknown): r is { error: string } => typeof r === 'object' && r !== null && 'error' in r;
const errorOf = (err: unknown) => ({ error: err instanceof Error ? err.message.split('\n')[0] : String(err) });

/** A model whose every path carries signal, with the benchmark's adapter active. */
function setupModel(engine: Engine, preset: string): { model: MMDiT; lora: LoraSet } {
  const c = PRESETS[preset].config;
  const model = MMDiT.init(engine, c, 1);
  let seed = 100;
  seed += model.writeZeroInitLayers((n, i) => randomF32(n, 100 + i).map((v) => 0.1 * v));
  model.setTrainable(false);
  const lora = LoraSet.create(engine, 'bench', c, BENCH_LORA, 2);
  for (const m of lora.modules.values()) engine.gpu.write(m.B.buffer, randomF32(m.B.size, seed++).map((v) => 0.05 * v));
  model.adapters = [lora];
  return { model, lora };
}

function forwardInputs(preset: string, B: number) {
  const c = PRESETS[preset].config;
  const H = c.sample_size;
  const T = PRESETS[preset].meta.max_text_tokens;
  return [
    { name: ONNX_SAMPLE, shape: [B, c.in_channels, H, H], data: randomF32(B * c.in_channels * H * H, 1) },
    { name: ONNX_TIMESTEP, shape: [B], data: randomF32(B, 2).map((v) => 500 + 500 * v) },
    { name: ONNX_CONTEXT, shape: [B, T, c.joint_attention_dim], data: randomF32(B * T * c.joint_attention_dim, 3) },
    { name: ONNX_POOLED, shape: [B, c.pooled_projection_dim], data: randomF32(B * c.pooled_projection_dim, 4) },
  ];
}

/** One ORT run with its profiling off (ORT reads the mode at every run start); wall time only. */
function unprofiled(bench: OrtBench, ort: OrtCase) {
  return async (): Promise<Sample> => {
    const profiling = bench.ort.env.webgpu.profiling!;
    profiling.mode = 'off';
    try {
      return { wallMs: (await ort.run()).wallMs, gpuMs: null };
    } finally {
      profiling.mode = 'default';
    }
  };
}

function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return a.length === b.length ? diff / (scale || 1) : Number.NaN;
}

export async function runModelBench(env: BenchEnv, options: Partial<ModelBenchOptions> = {}): Promise<ModelBenchReport> {
  const o: ModelBenchOptions = { ...QUICK, ...options };
  const timing = { ...KERNEL_DEFAULTS, warmup: o.warmup, reps: o.reps, budgetMs: o.budgetMs };
  const gpu = new Gpu(env.ctx);
  const engine = new Engine(gpu);
  const timer = PassTimer.create(env.ctx.device);
  const ortBench = env.ort ? new OrtBench(env.ort) : null;
  const forward: ForwardRow[] = [];
  const steps: StepRow[] = [];

  try {
    for (const preset of o.presets) {
      if (!PRESETS[preset]) throw new Error(`bench:model: unknown preset ${preset} (${Object.keys(PRESETS).join(', ')})`);
      const c = PRESETS[preset].config;
      const T = PRESETS[preset].meta.max_text_tokens;
      const H = c.sample_size;
      const { model, lora } = setupModel(engine, preset);
      try {
        const weights = await hostWeightsOf(model.weights);
        const merged = await mergedLoraOf(lora);
        for (const B of o.batches) {
          const inputs = forwardInputs(preset, B);
          const tensors = inputs.map((i) => engine.keep(engine.fromArray(i.data, i.shape, i.name)));
          const [x, timestep, context, pooled] = tensors;
          const run = () => model.forward({ x, timestep, context, pooled });
          const row: ForwardRow = {
            preset,
            batch: B,
            tokens: { image: (H / c.patch_size) ** 2, text: T },
            flops: mmditForwardFlops(c, { batch: B, height: H, width: H, tokens: T }, lora.config).total,
            ours: { error: 'not run' },
            ort: null,
            ortPlain: null,
            err: null,
            ortKernels: [],
          };
          const ours = async (): Promise<Sample> => {
            timer?.begin();
            const t0 = performance.now();
            engine.noGrad(() => engine.scope(() => void run()));
            await gpu.sync();
            const wallMs = performance.now() - t0;
            return { wallMs, gpuMs: timer ? await timer.end() : null };
          };
          let ort: OrtCase | null = null;
          try {
            if (ortBench) {
              // Exported per batch size with that batch fixed: the shapes ORT's kernels specialise on are all static.
              const bytes = exportMMDiTOnnx(c, weights, { batch: B, tokens: T, height: H, width: H, mergedLoras: [merged] });
              ort = await ortBench.prepareModel(bytes, 'MMDiT (ONNX, standard ops)', inputs, ONNX_OUTPUT).catch((err: unknown) => {
                row.ort = errorOf(err);
                return null;
              });
            }
            // measureAll's third slot ('naive' in the kernel bench) times ORT unprofiled here.
            let kernels: string[] = []; // of the last profiled run (an unprofiled one reports none)
            const profiled = async () => {
              const sample = await ort!.run();
              kernels = ort!.kernels;
              return sample;
            };
            const t = await measureAll({ ours, ...(ort ? { ort: profiled, naive: unprofiled(ortBench!, ort) } : {}) }, timing);
            row.ours = t.ours ?? row.ours;
            if (ort) {
              row.ort = t.ort ?? { error: 'not run' };
              row.ortPlain = t.naive ?? { error: 'not run' };
              const counts = new Map<string, number>();
              for (const k of kernels) counts.set(k.split(':')[0], (counts.get(k.split(':')[0]) ?? 0) + 1);
              row.ortKernels = [...counts].map(([kernel, count]) => ({ kernel, count }));
              if (!isError(row.ort) && kernels.length === 0) row.ort = { error: 'no WebGPU kernel profiled: ORT ran the model on its CPU provider' };
              const mine = engine.keep(engine.noGrad(() => engine.scope(run)));
              try {
                row.err = relError(await mine.toArray(), await ort.output());
              } finally {
                mine.release();
              }
            }
          } catch (err) {
            row.ours = isError(row.ours) ? errorOf(err) : row.ours;
          } finally {
            await ort?.release();
            for (const t of tensors) t.release();
          }
          forward.push(row);
          env.log(`[${env.name}] ${preset} batch ${B}: ours ${fmt(row.ours)}, ORT ${row.ort ? fmt(row.ort) : '-'}${row.err !== null ? `, err ${row.err.toExponential(1)}` : ''}`);
        }

        // Training steps last: they update the adapter.
        for (const method of ['sft', 'soar'] as Method[]) {
          try {
            const m = await measureStep(engine, model, lora, method, o.stepBatch, T, o.soarK);
            const f = trainStepFlops(c, { batch: o.stepBatch, height: H, width: H, tokens: T }, {
              ...DEFAULT_TRAIN,
              method,
              train_mode: 'lora',
              rank: lora.config.rank,
              lora_targets: [...lora.config.targets],
              trajectory_length: o.soarK,
              num_rollout_paths: 1,
            });
            steps.push({ preset, ...m, flops: f.total });
            env.log(`[${env.name}] ${preset} ${method} step batch ${o.stepBatch}: ${m.ms.toFixed(0)} ms, peak ${(m.peakBytes / 2 ** 20).toFixed(2)} MiB`);
          } catch (err) {
            env.log(`[${env.name}] ${preset} ${method} step failed: ${errorOf(err).error}`);
          }
        }
      } finally {
        lora.release();
        model.release();
      }
    }
  } finally {
    timer?.dispose();
    gpu.destroy();
  }

  return {
    ...reportHeader(env, ortBench, timer !== null),
    options: o,
    lora: BENCH_LORA,
    forward,
    steps,
  };
}

function fmt(r: ImplResult): string {
  return isError(r) ? `error (${r.error})` : `${r.ms.toFixed(1)} ms [${r.source}, ${r.reps} reps]`;
}
