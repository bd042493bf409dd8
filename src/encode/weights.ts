// Text encoder weights on the host: random initialisation, and the safetensors file that ships a trained
// encoder together with its config and vocabulary (in the header's __metadata__), so one file is enough to
// rebuild the tokenizer and the model identically in the browser and in Node.
import { findNonFinite, readSafetensors, writeSafetensors, type TensorToWrite } from '../codec/safetensors';
import { parseJson, show, type Fail } from '../codec/json';
import { SeededRandom, initialValues } from '../model/random';
import { textParameterSpecs, validateTextEncoderConfig, type TextEncoderConfig } from './config';
import { FIRST_WORD_ID, validateVocabulary, type VocabularyJson } from './tokenizer';

/** A host-side state dict: name → shape and float32 data. */
export type HostWeights = Map<string, { shape: number[]; data: Float32Array }>;

export const TEXT_ENCODER_FORMAT = 'soar-text-encoder';

/** Fresh weights, reproducible from the seed (the same on every host). */
export function initTextWeights(c: TextEncoderConfig, seed: number): HostWeights {
  validateTextEncoderConfig(c);
  const rng = new SeededRandom(seed);
  const out: HostWeights = new Map();
  for (const spec of textParameterSpecs(c)) out.set(spec.name, { shape: spec.shape, data: initialValues(spec.init, spec.shape, rng) });
  return out;
}

/** Throws naming every missing or misshapen parameter; unknown names are an error too (a wrong file). */
export function checkTextWeights(c: TextEncoderConfig, w: ReadonlyMap<string, { shape: readonly number[] }>): void {
  const specs = textParameterSpecs(c);
  const problems: string[] = [];
  for (const s of specs) {
    const t = w.get(s.name);
    if (!t) problems.push(`missing ${s.name}`);
    else if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      problems.push(`${s.name} is [${t.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
    }
  }
  const known = new Set(specs.map((s) => s.name));
  for (const name of w.keys()) if (!known.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length) throw new Error(`text encoder weights: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (and ${problems.length - 8} more)` : ''}`);
}

/** The tokenizer of `vocab` must produce exactly the ids and the length the encoder was built for. */
export function checkVocabularyFits(c: TextEncoderConfig, vocab: VocabularyJson): void {
  const rows = FIRST_WORD_ID + vocab.words.length + vocab.buckets;
  if (rows !== c.vocab_size) throw new Error(`text encoder: the vocabulary has ${rows} ids, the encoder's vocab_size is ${c.vocab_size}`);
  if (vocab.max_length !== c.max_position_embeddings) {
    throw new Error(`text encoder: the vocabulary's max_length ${vocab.max_length} differs from max_position_embeddings ${c.max_position_embeddings}`);
  }
}

/** The safetensors bytes of an encoder: weights (F32 by default) + config and vocabulary as metadata. */
export function saveTextEncoder(c: TextEncoderConfig, vocab: VocabularyJson, w: HostWeights, dtype: 'F32' | 'F16' = 'F32'): Uint8Array {
  checkTextWeights(c, w);
  checkVocabularyFits(c, vocab);
  const tensors = new Map<string, TensorToWrite>(w);
  return writeSafetensors(tensors, { format: TEXT_ENCODER_FORMAT, config: JSON.stringify(c), vocabulary: JSON.stringify(vocab) }, dtype);
}

/** Reads what saveTextEncoder wrote; every part is validated (the file may come from anywhere). */
export function loadTextEncoder(bytes: Uint8Array): { config: TextEncoderConfig; vocab: VocabularyJson; weights: HostWeights } {
  const fail: Fail = (m) => {
    throw new Error(`text encoder file: ${m}; the file is damaged or not a text encoder of SOAR Studio: write the base bundle again`);
  };
  const file = readSafetensors(bytes);
  const meta = file.metadata;
  if (meta.format !== TEXT_ENCODER_FORMAT) throw new Error(`loadTextEncoder: metadata format is ${show(meta.format)}, expected ${TEXT_ENCODER_FORMAT}`);
  const config = parseJson(meta.config ?? 'null', 'metadata config', fail) as TextEncoderConfig;
  validateTextEncoderConfig(config);
  const vocab = parseJson(meta.vocabulary ?? 'null', 'metadata vocabulary', fail) as VocabularyJson;
  validateVocabulary(vocab);
  checkVocabularyFits(config, vocab);
  const weights: HostWeights = new Map();
  for (const [name, t] of file.tensors) weights.set(name, { shape: t.shape, data: t.data });
  checkTextWeights(config, weights);
  const bad = findNonFinite(bytes);
  if (bad) fail(`tensor ${show(bad.name)} has NaN or infinite values (the first at index ${bad.index})`);
  return { config, vocab, weights };
}
