// A full fine-tune back as a LoRA of the base it started from, for the CLI (extract-lora) and the studio (Files →
// "A full fine-tune as a LoRA"): each targeted module's ΔW = W_tuned − W_base through the truncated SVD of
// src/model/lora-extract.ts, with the share of ΔW's energy the rank keeps. Only the targeted weights are read,
// one module at a time, so memory stays near one weight pair however large the fine-tune's files are. The studio
// reads the base's weights from the model it has loaded; the CLI reads them from the base's files by range too
// (extractLoraFromFiles), so neither side is ever held whole.
import { SafetensorsError } from '../codec/safetensors';
import type { SD3Config } from '../model/config';
import { LoraSet, loraModuleNames } from '../model/lora';
import { parameterSpecs } from '../model/params';
import { extractLowRank } from '../model/lora-extract';
import type { Engine } from '../tensor/engine';
import type { ExtractionBase } from './extraction-base';
import { TunedInputError, type TensorReader } from './tuned-transformer';

export interface ModuleEnergy {
  module: string;
  /** Σ_{i<rank} σ_i² / ‖ΔW‖²_F: 1 when the rank holds the whole change (or there is none). */
  energyKept: number;
  /** The factors' rank (below the LoRA's when the module is smaller than it; the rest is zero). */
  rank: number;
}

export interface ExtractionSummary {
  rank: number;
  modules: number;
  min: number;
  mean: number;
  /** The modules that keep the least, lowest first. */
  worst: ModuleEnergy[];
}

export interface ExtractOptions {
  rank: number;
  targets: readonly string[];
  /** The LoRA's name in the studio. */
  name: string;
  /** The base's weight of a parameter (a GPU readback: the studio takes its lock for it). */
  baseWeight(name: string): Promise<Float32Array>;
  /** After each module (the studio posts progress and yields to other messages here). */
  onModule?(done: number, total: number, module: string): void | Promise<void>;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** The worst `count` modules, the lowest and the mean share kept. */
export function summarizeEnergy(modules: readonly ModuleEnergy[], rank: number, count = 5): ExtractionSummary {
  const sorted = [...modules].sort((a, b) => a.energyKept - b.energyKept);
  const mean = modules.reduce((s, m) => s + m.energyKept, 0) / Math.max(1, modules.length);
  return { rank, modules: modules.length, min: sorted[0]?.energyKept ?? 1, mean, worst: sorted.slice(0, count) };
}

/**
 * Checks from the headers alone, before any SVD, that the fine-tune is of the base's architecture (every weight it
 * shares with the base has the base's shape, no more blocks) and holds every module to extract in a float dtype:
 * a fine-tune of another model is refused at once, naming a tensor that differs.
 */
export function checkTunedFits(tuned: TensorReader, config: SD3Config, targets: readonly string[], baseId: string): Array<{ name: string; out: number; in: number }> {
  const modules = loraModuleNames(config, targets);
  if (!modules.length) throw new TunedInputError(`the targets ${targets.join(', ')} select no module of the base`, 'Choose attention or attention + MLP targets.');
  const advice = `Pick a fine-tune of the base loaded now (${baseId}): the LoRA is the difference from the weights the fine-tune started from, so the architecture and every shape must match.`;
  for (const spec of parameterSpecs(config)) {
    const e = tuned.entry(spec.name);
    if (e && (e.shape.length !== spec.shape.length || e.shape.some((d, i) => d !== spec.shape[i]))) {
      throw new TunedInputError(`${spec.name} is [${e.shape.join(', ')}] in ${tuned.description} and [${spec.shape.join(', ')}] in the base ${baseId}: the fine-tune is of another model`, advice);
    }
  }
  const blocks = 1 + Math.max(-1, ...tuned.names().map((n) => Number(/^transformer_blocks\.(\d+)\./.exec(n)?.[1] ?? -1)));
  if (blocks > config.num_layers) throw new TunedInputError(`${tuned.description} has ${blocks} transformer blocks and the base ${baseId} ${config.num_layers}: the fine-tune is of another model`, advice);
  const missing = modules.filter((m) => !tuned.entry(`${m.name}.weight`));
  if (missing.length) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more of the ${modules.length} weights to extract)` : '';
    throw new TunedInputError(`${tuned.description} has no ${missing[0].name}.weight${more}: it is not a fine-tune of this base's architecture (diffusers names are expected)`, advice);
  }
  for (const m of modules) {
    const e = tuned.entry(`${m.name}.weight`)!;
    if (!FLOAT_DTYPES.has(e.dtype)) throw new TunedInputError(`${m.name}.weight is ${e.dtype} in ${tuned.description}; F32, F16 and BF16 weights are read`, 'Save the fine-tune in float32, float16 or bfloat16.');
  }
  return modules;
}

/** ΔW in float64, from the two weights (which are unreachable once this returns: one pair in memory at a time). */
async function moduleDelta(tuned: TensorReader, name: string, base: (n: string) => Promise<Float32Array>): Promise<Float64Array> {
  const t = (await tuned.read(name)).data;
  const w = await base(name);
  const delta = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) {
    delta[i] = t[i] - w[i];
    if (!Number.isFinite(delta[i])) {
      const where = Number.isFinite(t[i]) ? 'the base' : tuned.description;
      throw new TunedInputError(`${name} holds ${t[i]} at index ${i} in ${where}`, 'The fine-tune diverged or the file is damaged: use an earlier checkpoint of the run.');
    }
  }
  return delta;
}

/**
 * A fine-tune against a base read from files: the same tensors, name for name and shape for shape (the dtypes may
 * differ), checked from the headers before a weight is read; the first difference is named, the base's tensors in
 * their order first, then any the fine-tune has beyond them.
 */
export function checkSameTensors(base: TensorReader, baseId: string, tuned: TensorReader): void {
  const inBase = `the base ${baseId} (${base.description})`;
  const inTuned = `the fine-tune (${tuned.description})`;
  const advice = `Pick the fine-tune of this base, or the base it started from: the LoRA is the difference from the weights the fine-tune started from, so every tensor and shape must match.`;
  for (const name of base.names()) {
    const [b, t] = [base.entry(name)!, tuned.entry(name)];
    if (!t) throw new TunedInputError(`${name} is in ${inBase} but not in ${inTuned}: the two are not the same architecture`, advice);
    if (t.shape.length !== b.shape.length || t.shape.some((d, i) => d !== b.shape[i])) {
      throw new TunedInputError(`${name} is [${t.shape.join(', ')}] in ${inTuned} and [${b.shape.join(', ')}] in ${inBase}: the fine-tune is of another model`, advice);
    }
  }
  const extra = tuned.names().find((n) => !base.entry(n));
  if (extra !== undefined) throw new TunedInputError(`${extra} is in ${inTuned} but not in ${inBase}: the two are not the same architecture`, advice);
}

/**
 * extractLoraFromTuned with the base read from its files by range too (extract-lora): the two checked tensor by
 * tensor first, then each module's base weight read when its turn comes, so about one weight pair is in memory
 * at a time and no model is loaded on the GPU (only the LoRA's factors are there).
 */
export async function extractLoraFromFiles(engine: Engine, base: ExtractionBase, tuned: TensorReader, opts: Omit<ExtractOptions, 'baseWeight'>): Promise<{ set: LoraSet; modules: ModuleEnergy[] }> {
  checkSameTensors(base.weights, base.id, tuned);
  return extractLoraFromTuned(engine, base.config, tuned, base.id, { ...opts, baseWeight: async (name) => (await base.weights.read(name)).data });
}

/** The LoRA (alpha = rank, so B·A is ΔW's approximation itself) and each module's energy kept. */
export async function extractLoraFromTuned(engine: Engine, config: SD3Config, tuned: TensorReader, baseId: string, opts: ExtractOptions): Promise<{ set: LoraSet; modules: ModuleEnergy[] }> {
  const { rank } = opts;
  if (!(Number.isInteger(rank) && rank >= 1)) throw new TunedInputError(`the rank must be a whole number ≥ 1, got ${rank}`, 'Choose a rank such as 8.');
  const targets = checkTunedFits(tuned, config, opts.targets, baseId);
  const set = LoraSet.create(engine, opts.name, config, { rank, alpha: rank, targets: [...opts.targets] }, 0);
  const modules: ModuleEnergy[] = [];
  try {
    for (const [i, t] of targets.entries()) {
      const e = extractLowRank(await moduleDelta(tuned, `${t.name}.weight`, opts.baseWeight), t.out, t.in, rank);
      // Factors padded to the set's rank when ΔW has fewer dimensions than that (zeros add nothing).
      const A = new Float32Array(rank * t.in);
      const B = new Float32Array(t.out * rank);
      A.set(e.A);
      for (let o = 0; o < t.out; o++) for (let j = 0; j < e.rank; j++) B[o * rank + j] = e.B[o * e.rank + j];
      const m = set.modules.get(t.name)!;
      engine.gpu.write(m.A.buffer, A);
      engine.gpu.write(m.B.buffer, B);
      modules.push({ module: t.name, energyKept: e.energyKept, rank: e.rank });
      await opts.onModule?.(i + 1, targets.length, t.name);
    }
  } catch (e) {
    set.release();
    if (e instanceof SafetensorsError) throw new TunedInputError(e.message, 'The file is damaged or not a safetensors file: download or save it again.');
    throw e;
  }
  return { set, modules };
}
