// `__metadata__` of our LoRA files: what we write, and what we read back from ours and from other writers.
import type { LoraSet } from '../model/lora';
import type { Method, TrainConfig } from '../train/config';
import { isObject, parseJson, show } from '../codec/json';

/** The format tag in `__metadata__.format`; the major version changes only with an incompatible layout. */
export const LORA_FORMAT = 'soar-studio-lora/1';
const FORMAT_FAMILY = 'soar-studio-lora/';

export type LoraNaming = 'peft' | 'kohya';

export interface LoraExportInfo {
  baseModelId: string;
  baseModelHash: string;
  /** The method that trained it ('unknown' for an imported file that did not say). */
  method: Method | 'unknown';
  /** The training hyper-parameters to record (any subset of TrainConfig). */
  config?: Partial<TrainConfig>;
  steps: number;
  /** More keys to record, e.g. `extraction` for a LoRA taken from a full fine-tune (never overrides ours). */
  notes?: Record<string, string>;
}

export function exportMetadata(set: LoraSet, info: LoraExportInfo, naming: LoraNaming): Record<string, string> {
  const meta: Record<string, string> = {
    ...info.notes,
    format: LORA_FORMAT,
    lora_rank: String(set.config.rank),
    lora_alpha: String(set.config.alpha),
    target_modules: JSON.stringify(set.config.targets),
    method: info.method,
    base_model_id: info.baseModelId,
    base_model_hash: info.baseModelHash,
    steps: String(info.steps),
    hyperparameters: JSON.stringify(info.config ?? {}),
    naming,
    // Readers of our PEFT files must not apply lora_alpha again: it is already in lora_B.
    alpha_folded: naming === 'peft' ? 'true' : 'false',
  };
  // The preview strength is folded into the weights too; recorded so the file says why they are scaled.
  if (set.strength !== 1) meta.strength_folded = String(set.strength);
  if (naming === 'kohya') {
    // sd-scripts' own metadata keys, which UIs and model sites read to show rank and alpha.
    meta.ss_network_module = 'networks.lora_sd3';
    meta.ss_network_dim = String(set.config.rank);
    meta.ss_network_alpha = String(set.config.alpha);
  }
  return meta;
}

/** What our own metadata says (null for files written by other tools). */
export interface OurMetadata {
  rank: number;
  alpha: number;
  targets: string[];
  /** PEFT files: lora_B already holds alpha/rank·strength. */
  folded: boolean;
  baseModelId: string;
  baseModelHash: string;
}

/** Parses our metadata; a problem (a newer format, a broken field) is thrown as a message. */
export function readOurMetadata(meta: Record<string, string>): OurMetadata | null {
  const format = meta.format ?? '';
  if (!format.startsWith(FORMAT_FAMILY)) return null;
  if (format !== LORA_FORMAT) throw new Error(`the file is in format ${show(format)}; this version reads ${LORA_FORMAT}: update SOAR Studio`);
  const rank = Number(meta.lora_rank);
  const alpha = Number(meta.lora_alpha);
  let targets: unknown;
  try {
    targets = parseJson(meta.target_modules ?? 'null', 'metadata target_modules');
  } catch {
    targets = null;
  }
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`metadata lora_rank is ${show(meta.lora_rank)}, not a positive integer`);
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`metadata lora_alpha is ${show(meta.lora_alpha)}, not a positive number`);
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw new Error(`metadata target_modules is not a JSON list of names`);
  if (!targets.length) throw new Error('metadata target_modules is an empty list; a LoRA of ours names the modules it adapts: export it again');
  return {
    rank,
    alpha,
    targets: targets as string[],
    folded: meta.alpha_folded === 'true',
    baseModelId: meta.base_model_id ?? '',
    baseModelHash: meta.base_model_hash ?? '',
  };
}

/**
 * A network-wide alpha other writers record: a plain `lora_alpha`, or diffusers' `lora_adapter_metadata`
 * (a JSON of the PEFT LoraConfig, keys possibly prefixed `transformer.`). Null when there is none.
 */
export function externalAlpha(meta: Record<string, string>): number | null {
  const candidates: unknown[] = [meta.lora_alpha];
  if (meta.lora_adapter_metadata) {
    try {
      const cfg = parseJson(meta.lora_adapter_metadata, 'metadata lora_adapter_metadata');
      if (isObject(cfg)) candidates.push(cfg['transformer.lora_alpha'], cfg.lora_alpha);
    } catch {
      // Unreadable: treat as absent (the tensors may still carry .alpha).
    }
  }
  for (const c of candidates) {
    // Only a number or a numeric string: Number() of a list would read [4] as 4 (and recurse through nesting).
    if (typeof c !== 'number' && (typeof c !== 'string' || c === '')) continue;
    const v = Number(c);
    if (Number.isFinite(v) && v > 0) return v;
  }
  return null;
}
