// One "arm" of a comparison: a LoRA trained from the base with one method and step count, then evaluated.
// Shared by `compare` (one seed, SFT vs SOAR) and `demo` (three seeds, plus SFT at SOAR's compute).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedBase } from '../io/base-runtime';
import { checkpointToBytes } from '../io/checkpoint-file';
import { exportLora } from '../io/lora-format';
import type { Engine } from '../tensor/engine';
import type { TrainConfig } from '../train/config';
import type { LoraSet } from '../model/lora';
import { stepCost } from '../train/methods';
import { Trainer, type StepMetrics, type TrainingData } from '../train/trainer';
import { evaluateModel, type EvalOptions, type EvalResult } from './evaluate';
import { ProgressBar, stepLine } from './progress';

export interface ArmResult {
  label: string;
  method: TrainConfig['method'] | null;
  steps: number;
  /** Transformer passes of the training, in single-image passes (forwards; backwards), from the method's cost. */
  compute?: { forwards: number; backwards: number };
  eval: EvalResult;
  /** Fixed-seed flow-matching loss on the training data after training (null for the base). */
  validation: number | null;
  history: StepMetrics[] | null;
  /** Wall-clock seconds of training (not evaluation). */
  trainSeconds: number;
}

export async function evaluateBase(engine: Engine, base: LoadedBase, evalOpts: EvalOptions): Promise<ArmResult> {
  base.model.adapters = [];
  return { label: 'base', method: null, steps: 0, eval: await evaluateModel(engine, base, evalOpts), validation: null, history: null, trainSeconds: 0 };
}

/**
 * Trains a LoRA with `cfg` on the base, saves its checkpoint and .safetensors under `outDir` as `<file>.*`,
 * evaluates base+LoRA, and detaches the LoRA again.
 */
export async function trainArm(
  engine: Engine,
  base: LoadedBase,
  data: TrainingData,
  cfg: TrainConfig,
  label: string,
  file: string,
  outDir: string,
  evalOpts: EvalOptions,
  validation: TrainingData | null = null,
  /** Adapters under the one trained (an earlier stage, e.g. SOAR before Flow-GRPO): kept on for training and evaluation. */
  under: LoraSet[] = [],
): Promise<ArmResult> {
  base.model.adapters = [...under];
  // The validation loss on held-out images when the data has them (a user's folder), else on training images.
  const trainer = await Trainer.create(engine, base.model, base.embeddings, data, cfg, validation ? { validation, validationCount: Math.min(32, validation.size) } : {});
  try {
    const bar = new ProgressBar(cfg.max_train_steps, label);
    const t0 = performance.now();
    await trainer.run(Infinity, (m) => bar.update(m.step, stepLine(m)));
    const trainSeconds = (performance.now() - t0) / 1000;
    const validation = await trainer.validationLoss();
    writeFileSync(join(outDir, `${file}.checkpoint.safetensors`), checkpointToBytes(await trainer.checkpoint()));
    if (trainer.lora) {
      const meta = { baseModelId: base.manifest.id, baseModelHash: base.manifest.transformer_hash, method: cfg.method, config: cfg, steps: trainer.step };
      writeFileSync(join(outDir, `${file}.lora.safetensors`), await exportLora(trainer.lora, meta));
    }
    base.model.adapters = [...under, ...(trainer.lora ? [trainer.lora] : [])];
    const evaluated = await evaluateModel(engine, base, evalOpts);
    const cost = stepCost(cfg);
    const perStep = cfg.train_batch_size * cfg.gradient_accumulation_steps;
    const compute = { forwards: cost.forwards * perStep * trainer.step, backwards: cost.backwards * perStep * trainer.step };
    return { label, method: cfg.method, steps: cfg.max_train_steps, compute, eval: evaluated, validation, history: [...trainer.history], trainSeconds };
  } finally {
    base.model.adapters = [];
    trainer.release();
  }
}

/** One markdown table row per sampling step count. */
export function evalRows(r: ArmResult): string[] {
  return r.eval.byStep.map((s, i) => `| ${r.label} | ${s.steps} | ${s.overall.toFixed(3)} | ${s.novel.toFixed(3)} | ${s.inDistribution.toFixed(3)} | ${r.eval.drift[i]?.final.toFixed(4) ?? '–'} |`);
}

/** The JSON form of a result: everything but the images. */
export function armJson(r: ArmResult): unknown {
  return { ...r, eval: { ...r.eval, images: undefined } };
}
