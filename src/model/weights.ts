// Loading and saving an MMDiT state dict by diffusers name (safetensors). Real SD3/SD3.5 transformer files
// (`transformer/diffusion_pytorch_model.safetensors`) load as they are; a `transformer.` or
// `model.diffusion_model.` prefix is not accepted silently: the original (non-diffusers) SD3 key layout differs,
// so such a file is refused with the first unknown keys named.
import { readSafetensors, writeSafetensors, type LoadedTensor } from '../codec/safetensors';
import type { Engine } from '../tensor/engine';
import type { Tensor } from '../tensor/tensor';
import type { SD3Config } from './config';
import { parameterSpecs } from './params';

export class WeightsMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsMismatchError';
  }
}

const list = (names: string[], n = 5) => names.slice(0, n).join(', ') + (names.length > n ? ` and ${names.length - n} more` : '');

/** Checks a state dict against the config: every expected key present with its shape; no unknown keys. */
export function checkStateDict(config: SD3Config, tensors: Map<string, { shape: readonly number[] }>): void {
  const specs = parameterSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !tensors.has(s.name)).map((s) => s.name);
  const unexpected = [...tensors.keys()].filter((k) => !expected.has(k));
  const wrong: string[] = [];
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (t && (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i]))) {
      wrong.push(`${s.name} is [${t.shape.join(', ')}], the config needs [${s.shape.join(', ')}]`);
    }
  }
  const problems: string[] = [];
  if (wrong.length) problems.push(`shape mismatch: ${list(wrong, 3)}`);
  if (missing.length) problems.push(`missing: ${list(missing)}`);
  if (unexpected.length) problems.push(`unexpected keys: ${list(unexpected)}`);
  if (problems.length) throw new WeightsMismatchError(`these weights do not fit the model config: ${problems.join('; ')}`);
}

/** Parses a safetensors state dict and uploads it (F16/BF16 widened to F32). */
export function loadStateDict(engine: Engine, config: SD3Config, bytes: Uint8Array): { weights: Map<string, Tensor>; metadata: Record<string, string> } {
  const file = readSafetensors(bytes);
  checkStateDict(config, file.tensors);
  const weights = new Map<string, Tensor>();
  for (const [name, t] of file.tensors as Map<string, LoadedTensor>) {
    weights.set(name, engine.keep(engine.fromArray(t.data, t.shape, name)));
  }
  return { weights, metadata: file.metadata };
}

/** Reads every weight back and writes a safetensors file (F32 unless F16 is asked for). */
export async function saveStateDict(weights: Map<string, Tensor>, metadata: Record<string, string> = {}, dtype: 'F32' | 'F16' = 'F32'): Promise<Uint8Array> {
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of weights) out.set(name, { shape: t.shape, data: await t.toArray() });
  return writeSafetensors(out, metadata, dtype);
}
