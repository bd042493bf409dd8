// Import of SD3 LoRA files (ours in either naming, and PEFT/diffusers or kohya files from other trainers) as a
// LoraSet on a given base. Everything is checked against the base's module list and shapes before a single
// GPU buffer is made; every refusal is a LoraImportError whose message lists the offending keys.
import type { SD3Config } from '../model/config';
import { ATTENTION_TARGETS, LoraSet, MLP_TARGETS, loraModuleNames } from '../model/lora';
import { parameterSpecs } from '../model/params';
import type { Engine } from '../tensor/engine';
import { findNonFinite, readSafetensors, SafetensorsError, type LoadedTensor, type SafetensorsFile } from '../codec/safetensors';
import { show } from '../codec/json';
import { blockLinears, splitModule, stripPeftPrefix, type BaseLinear } from './lora-keys';
import { externalAlpha, readOurMetadata, type LoraNaming, type OurMetadata } from './lora-meta';
import { collectKohya } from './lora-kohya';

export class LoraImportError extends Error {
  constructor(
    message: string,
    /** Each problem on its own (the message shows the first few). */
    readonly problems: string[] = [message],
  ) {
    super(message);
    this.name = 'LoraImportError';
  }
}

export interface BaseModelRef {
  config: SD3Config;
  id: string;
  hash: string;
}

export interface LoraImportOptions {
  /** Apply a LoRA whose metadata names another base (shapes must still fit); a warning says so. */
  allowOtherBase?: boolean;
}

export interface LoraImportResult {
  set: LoraSet;
  /** The file's `__metadata__`, as written. */
  metadata: Record<string, string>;
  warnings: string[];
  naming: LoraNaming;
}

export interface Matrix {
  shape: number[];
  data: Float32Array;
}

/** One adapter as the file has it, before the checks against the base. */
export interface FoundAdapter {
  module: string;
  A: Matrix;
  B: Matrix;
  /** The multiplier a loader applies to B·A for this file (alpha/rank, or 1 when B is already scaled). */
  scale: number;
  /** The file keys, for messages. */
  keyA: string;
  keyB: string;
}

/** What collecting a file's adapters produces; problems refuse the import, warnings do not. */
export interface Collected {
  found: FoundAdapter[];
  problems: string[];
  warnings: string[];
}

const SHOWN_PROBLEMS = 8;

/** Reads a LoRA file onto `model`, making its adapters as trainable parameters named after `name`. */
export function importLora(bytes: Uint8Array, model: BaseModelRef, engine: Engine, name: string, opts: LoraImportOptions = {}): LoraImportResult {
  let file: SafetensorsFile;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new LoraImportError(`not a safetensors file: ${e.message}`);
    throw e;
  }
  // A NaN or Inf weight would turn every image of the model into NaN: refused, not applied.
  const bad = findNonFinite(bytes);
  if (bad) throw new LoraImportError(`LoRA file: tensor ${show(bad.name)} has NaN or infinite values (the first at index ${bad.index}); the file is damaged: export it again`);
  let ours: OurMetadata | null;
  try {
    ours = readOurMetadata(file.metadata);
  } catch (e) {
    throw new LoraImportError((e as Error).message);
  }
  const naming = classify(file.tensors);
  const c = naming === 'peft' ? collectPeft(file, ours) : collectKohya(file, model.config, ours);
  const problems = [...baseProblems(ours, model, opts, c.warnings), ...c.problems, ...targetProblems(c.found, ours)];
  const rank = checkAgainstBase(c.found, model, problems);
  if (ours && rank && ours.rank !== rank) problems.push(`metadata lora_rank is ${ours.rank}, but the weights have rank ${rank}`);
  if (problems.length) {
    const shown = problems.slice(0, SHOWN_PROBLEMS).map((p) => `  - ${p}`);
    if (problems.length > SHOWN_PROBLEMS) shown.push(`  - … and ${problems.length - SHOWN_PROBLEMS} more`);
    throw new LoraImportError(`cannot import LoRA "${name}" onto base "${model.id}": ${problems.length} problem(s):\n${shown.join('\n')}`, problems);
  }
  const set = buildSet(c.found, rank, ours, model.config, engine, name, c.warnings);
  return { set, metadata: file.metadata, warnings: c.warnings, naming };
}

const PEFT_KEY = /\.lora_[AB]\.weight$/;
const KOHYA_KEY = /\.lora_(down|up)\.weight$/;
/** Base weights of an MMDiT in diffusers (transformer_blocks) or SAI (joint_blocks) layout. */
const CHECKPOINT_KEY = /(^|\.)(transformer_blocks|joint_blocks)\.\d+\..+\.weight$/;

/** Which naming the file uses; refuses files that hold no LoRA at all (or a full model). */
function classify(tensors: Map<string, LoadedTensor>): LoraNaming {
  const keys = [...tensors.keys()];
  const peft = keys.some((k) => PEFT_KEY.test(k));
  const kohya = keys.some((k) => KOHYA_KEY.test(k));
  if (peft && kohya) throw new LoraImportError('the file mixes PEFT keys (lora_A/lora_B) and kohya keys (lora_down/lora_up); convert it to one naming first');
  if (peft) return 'peft';
  if (kohya) return 'kohya';
  const weights = keys.filter((k) => CHECKPOINT_KEY.test(k));
  if (weights.length) {
    throw new LoraImportError(
      `this is a full model checkpoint (${keys.length} tensors, e.g. ${weights.slice(0, 2).join(', ')}), not a LoRA: load it as a base model instead`,
    );
  }
  const sample = keys.slice(0, 3).join(', ') || 'none';
  throw new LoraImportError(
    `no LoRA weights found: expected keys ending in .lora_A.weight/.lora_B.weight (PEFT/diffusers) or .lora_down.weight/.lora_up.weight (kohya); the file has ${keys.length} tensors (${sample})`,
  );
}

/** LoRAs trained with a text encoder carry its adapters too; we adapt only the transformer. */
const TEXT_ENCODER = /^(text_encoder(_\d)?|te\d?|lora_te\d?)[._]/;

function collectPeft(file: SafetensorsFile, ours: OurMetadata | null): Collected {
  const out: Collected = { found: [], problems: [], warnings: [] };
  const parts = new Map<string, { A?: [string, LoadedTensor]; B?: [string, LoadedTensor] }>();
  const alphas = new Map<string, [string, number]>();
  let skipped = 0;
  for (const [key, t] of file.tensors) {
    if (TEXT_ENCODER.test(key)) {
      skipped++;
      continue;
    }
    const lora = /^(.+)\.lora_([AB])\.weight$/.exec(key);
    const alpha = /^(.+)\.alpha$/.exec(key);
    if (lora) {
      const module = stripPeftPrefix(lora[1]);
      const p = parts.get(module) ?? {};
      const slot = lora[2] as 'A' | 'B';
      if (p[slot]) out.problems.push(`${key} and ${p[slot]![0]} both address ${module}`);
      p[slot] = [key, t];
      parts.set(module, p);
    } else if (alpha) {
      if (t.data.length !== 1) out.problems.push(`${key} should be a scalar, has shape [${t.shape.join(', ')}]`);
      else alphas.set(stripPeftPrefix(alpha[1]), [key, t.data[0]]);
    } else {
      out.problems.push(`${key} [${t.shape.join(', ')}] is not a LoRA weight (DoRA, LoHa and other variants are not supported)`);
    }
  }
  if (skipped) out.warnings.push(`ignored ${skipped} text-encoder tensor(s): only the transformer's adapters are imported`);
  // Alpha in the file, from most to least specific. Our PEFT files have alpha folded into B already.
  const networkAlpha = ours ? (ours.folded ? null : ours.alpha) : externalAlpha(file.metadata);
  for (const [module, p] of parts) {
    if (!p.A || !p.B) {
      const [have, missing] = p.A ? [p.A[0], 'lora_B'] : [p.B![0], 'lora_A'];
      out.problems.push(`${have} has no matching ${missing} (${have.replace(/lora_[AB]\.weight$/, `${missing}.weight`)})`);
      continue;
    }
    const rank = p.A[1].shape[0];
    const alpha = alphas.get(module)?.[1] ?? networkAlpha;
    out.found.push({ module, A: p.A[1], B: p.B[1], scale: alpha === null ? 1 : alpha / rank, keyA: p.A[0], keyB: p.B[0] });
    alphas.delete(module);
  }
  for (const [, [key]] of alphas) out.problems.push(`${key} has no lora_A/lora_B beside it`);
  return out;
}

/** The base-model record in our metadata against the base we are importing onto. */
function baseProblems(ours: OurMetadata | null, model: BaseModelRef, opts: LoraImportOptions, warnings: string[]): string[] {
  if (!ours?.baseModelHash) {
    warnings.push(`the file does not record its base model; its shapes were checked against "${model.id}"`);
    return [];
  }
  if (ours.baseModelHash === model.hash) return [];
  const what = `the LoRA was trained on base "${ours.baseModelId}" (hash ${ours.baseModelHash}), but the base loaded is "${model.id}" (hash ${model.hash})`;
  if (opts.allowOtherBase) {
    warnings.push(`${what}; applied anyway (allowOtherBase): expect a different result than in training`);
    return [];
  }
  return [`${what}: load that base model, or import with allowOtherBase to apply it to this one anyway`];
}

/** Our metadata's target_modules must cover every adapter in the file: training resumes with those targets. */
function targetProblems(found: FoundAdapter[], ours: OurMetadata | null): string[] {
  if (!ours) return [];
  const outside = found.filter((f) => {
    const s = splitModule(f.module);
    return s && !ours.targets.includes(s.suffix);
  });
  if (!outside.length) return [];
  const list = ours.targets.slice(0, 12).map((t) => show(t)).join(', ');
  const more = outside.length > 1 ? ` (and ${outside.length - 1} more adapter(s))` : '';
  return [`${outside[0].keyA}${more} adapts ${outside[0].module}, but the metadata's target_modules [${list}] do not include it: the file's metadata and weights disagree; export it again`];
}

/** Module existence, shapes and ranks against the base; returns the common rank (0 when there is none). */
function checkAgainstBase(found: FoundAdapter[], model: BaseModelRef, problems: string[]): number {
  const base = blockLinears(model.config);
  const ranks = new Map<number, string[]>();
  const seen = new Set<string>();
  for (const f of found) {
    if (seen.has(f.module)) {
      problems.push(`${f.keyA}: ${f.module} is addressed twice in the file`);
      continue;
    }
    seen.add(f.module);
    const b = base.get(f.module);
    if (!b) {
      problems.push(`${f.keyA}: ${missingModule(f.module, model)}`);
      continue;
    }
    const p = shapeProblem(f, b);
    if (p) {
      problems.push(p);
      continue;
    }
    if (!(f.scale > 0) || !Number.isFinite(f.scale)) {
      problems.push(`${f.keyA}: alpha gives scale ${f.scale}; it must be a positive number`);
      continue;
    }
    const r = f.A.shape[0];
    ranks.set(r, [...(ranks.get(r) ?? []), f.module]);
  }
  if (ranks.size > 1) {
    const list = [...ranks].map(([r, ms]) => `rank ${r} (${ms.length} module(s), e.g. ${ms[0]})`).join(', ');
    problems.push(`inconsistent ranks across modules: ${list}; an adapter set here has one rank`);
  }
  if (found.length === 0 && problems.length === 0) problems.push('the file holds no transformer adapters');
  return ranks.size === 1 ? [...ranks.keys()][0] : 0;
}

function missingModule(module: string, model: BaseModelRef): string {
  const s = splitModule(module);
  if (s && s.block >= model.config.num_layers) {
    return `the base has no ${module}: block ${s.block}, but "${model.id}" has ${model.config.num_layers} blocks (0–${model.config.num_layers - 1})`;
  }
  if (parameterSpecs(model.config).some((p) => p.name === `${module}.weight`)) {
    return `${module} is outside the transformer blocks; adapters are supported on block linears only`;
  }
  return `the base has no linear module ${module}`;
}

function shapeProblem(f: FoundAdapter, b: BaseLinear): string | null {
  const fmt = (s: number[]) => `[${s.join(', ')}]`;
  const { A, B } = f;
  if (A.shape.length !== 2 || B.shape.length !== 2) return `${f.keyA} ${fmt(A.shape)} / ${f.keyB} ${fmt(B.shape)}: LoRA weights must be matrices`;
  if (A.shape[0] !== B.shape[1]) return `rank mismatch: ${f.keyA} ${fmt(A.shape)} has rank ${A.shape[0]}, ${f.keyB} ${fmt(B.shape)} has rank ${B.shape[1]}`;
  if (A.shape[1] !== b.in || B.shape[0] !== b.out) {
    return `${f.keyA} ${fmt(A.shape)} and ${f.keyB} ${fmt(B.shape)} do not fit the base's ${f.module}.weight [${b.out}, ${b.in}] (need [rank, ${b.in}] and [${b.out}, rank])`;
  }
  if (A.shape[0] < 1) return `${f.keyA} has rank 0`;
  return null;
}

/** Suffix order for a derived target list: ours first, in their usual order, then the rest sorted. */
const KNOWN_TARGETS: readonly string[] = [...ATTENTION_TARGETS, ...MLP_TARGETS];

function buildSet(found: FoundAdapter[], rank: number, ours: OurMetadata | null, config: SD3Config, engine: Engine, name: string, warnings: string[]): LoraSet {
  const scales = found.map((f) => f.scale);
  const uniform = scales.every((s) => Math.abs(s - scales[0]) <= 1e-6 * scales[0]);
  // Keep the file's alpha where it is one number (so training continues with the same alpha/rank); where
  // modules differ, alpha = rank and each module's own scale goes into its B.
  const alpha = ours ? ours.alpha : uniform ? scales[0] * rank : rank;
  const present = [...new Set(found.map((f) => splitModule(f.module)!.suffix))];
  const targets = ours
    ? ours.targets
    : present.sort((a, b) => targetOrder(a) - targetOrder(b) || (a < b ? -1 : 1));
  const set = new LoraSet(name, { rank, alpha, targets });
  const setScale = alpha / rank;
  try {
    for (const f of found) {
      const k = f.scale / setScale;
      const B = Math.abs(k - 1) < 1e-12 ? f.B.data : Float32Array.from(f.B.data, (v) => v * k);
      set.modules.set(f.module, {
        name: f.module,
        A: engine.parameter(f.A.data, f.A.shape, `${f.module}.lora_A`),
        B: engine.parameter(B, f.B.shape, `${f.module}.lora_B`),
      });
    }
  } catch (e) {
    set.release();
    throw e;
  }
  const missing = loraModuleNames(config, targets).filter((m) => !set.modules.has(m.name));
  if (missing.length) {
    warnings.push(`the file has no adapter for ${missing.length} module(s) its targets select (e.g. ${missing[0].name}); they stay unadapted`);
  }
  return set;
}

function targetOrder(suffix: string): number {
  const i = KNOWN_TARGETS.indexOf(suffix);
  return i < 0 ? KNOWN_TARGETS.length : i;
}
