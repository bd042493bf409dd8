// A base model on the engine: denoiser + text encoder + embedding cache, from bundle bytes or from a preset
// with random weights (tests, and the start of pretraining). Shared by the CLI and the studio worker.
import { EmbeddingCache } from '../encode/cache';
import { textEncoderConfigFor, type TextEncoderConfig } from '../encode/config';
import { findNonFinite } from '../codec/safetensors';
import { show } from '../codec/json';
import { TextEncoderModel, engineCaptionEncoder } from '../encode/text-encoder';
import { Tokenizer, type VocabularyJson } from '../encode/tokenizer';
import { initTextWeights, loadTextEncoder, saveTextEncoder } from '../encode/weights';
import { PRESETS, type ModelPreset } from '../model/config';
import { MMDiT } from '../model/mmdit';
import { loadStateDict, saveStateDict } from '../model/weights';
import type { Engine } from '../tensor/engine';
import { BASE_MODEL_FORMAT, contentHash, parseManifest, type BaseModelManifest } from './base-model';

export interface LoadedBase {
  manifest: BaseModelManifest;
  model: MMDiT;
  textEncoder: TextEncoderModel;
  tokenizer: Tokenizer;
  embeddings: EmbeddingCache;
}

export interface BaseFiles {
  manifest: string;
  transformer: Uint8Array;
  textEncoder: Uint8Array;
}

/**
 * Loads a bundle. Everything is parsed and checked on the host first (manifest, hash, finite weights, the text
 * encoder against the transformer) so a damaged bundle is refused before a GPU buffer is made.
 */
export function loadBase(engine: Engine, files: BaseFiles): LoadedBase {
  const manifest = parseManifest(files.manifest);
  const hash = contentHash(files.transformer);
  if (manifest.transformer_hash && manifest.transformer_hash !== hash) {
    throw new Error(`${manifest.files.transformer} does not match model.json (hash ${hash}, expected ${manifest.transformer_hash}): the download is incomplete or the files are from different models`);
  }
  const bad = findNonFinite(files.transformer);
  if (bad) throw new Error(`${manifest.files.transformer}: tensor ${show(bad.name)} has NaN or infinite values (the first at index ${bad.index}); the file is damaged: write the base bundle again`);
  const te = loadTextEncoder(files.textEncoder);
  checkEncoderFits(manifest, te.config);
  const model = new MMDiT(engine, manifest.config, loadStateDict(engine, manifest.config, files.transformer).weights);
  try {
    const textEncoder = TextEncoderModel.fromHost(engine, te.config, te.weights);
    return finish(manifest, model, textEncoder, te.vocab);
  } catch (e) {
    model.release();
    throw e;
  }
}

/** The encoder must produce what the transformer reads: its context width, pooled width and token count. */
function checkEncoderFits(m: BaseModelManifest, c: TextEncoderConfig): void {
  const pairs: Array<[string, number, string, number]> = [
    ['hidden_size', c.hidden_size, 'config.joint_attention_dim', m.config.joint_attention_dim],
    ['projection_dim', c.projection_dim, 'config.pooled_projection_dim', m.config.pooled_projection_dim],
    ['max_position_embeddings', c.max_position_embeddings, 'meta.max_text_tokens', m.meta.max_text_tokens],
  ];
  for (const [k, v, mk, mv] of pairs) {
    if (v !== mv) throw new Error(`${m.files.text_encoder}: the text encoder's ${k} is ${v}, but model.json's ${mk} is ${mv}: the files are from different models`);
  }
}

/**
 * A base with random weights, standing in where no pretrained base is shipped. Its adaLN and output layers are
 * small random values rather than zero (see MMDiT.init), so a LoRA trained on it gets gradients; pass
 * `adaLNZero: true` for the start of pretraining.
 */
export function randomBase(engine: Engine, presetName: string, vocab: VocabularyJson, seed: number, opts: { adaLNZero?: boolean } = {}): LoadedBase {
  const preset: ModelPreset | undefined = PRESETS[presetName];
  if (!preset) throw new Error(`unknown preset ${JSON.stringify(presetName)}; one of ${Object.keys(PRESETS).join(', ')}`);
  const model = MMDiT.init(engine, preset.config, seed, { adaLNZero: opts.adaLNZero ?? false });
  const tok = new Tokenizer(vocab);
  const teConfig = textEncoderConfigFor(preset, tok.vocabSize);
  const textEncoder = TextEncoderModel.fromHost(engine, teConfig, initTextWeights(teConfig, seed + 1));
  const manifest: BaseModelManifest = {
    format: BASE_MODEL_FORMAT,
    id: `${presetName}-random-${seed}`,
    preset: presetName,
    config: preset.config,
    meta: preset.meta,
    files: { transformer: 'transformer.safetensors', text_encoder: 'text_encoder.safetensors' },
    transformer_hash: '',
  };
  return finish(manifest, model, textEncoder, vocab);
}

function finish(manifest: BaseModelManifest, model: MMDiT, textEncoder: TextEncoderModel, vocab: VocabularyJson): LoadedBase {
  const tokenizer = new Tokenizer(vocab);
  const embeddings = new EmbeddingCache(engineCaptionEncoder(textEncoder, tokenizer, `${manifest.id}:${tokenizer.fingerprint()}`));
  return { manifest, model, textEncoder, tokenizer, embeddings };
}

/**
 * Serialises a base (after pretraining) to bundle files; the manifest records the transformer's hash, and names
 * `onnxFile` when the caller writes the encoder's ONNX export beside it.
 */
export async function saveBase(base: LoadedBase, id: string, notes?: string, onnxFile?: string): Promise<BaseFiles> {
  const transformer = await saveStateDict(base.model.weights, { format: 'soar-studio-transformer', id });
  const host = await base.textEncoder.toHost();
  const textEncoder = saveTextEncoder(base.textEncoder.config, base.tokenizer.toJSON(), host);
  const files = { ...base.manifest.files, ...(onnxFile ? { text_encoder_onnx: onnxFile } : {}) };
  const manifest: BaseModelManifest = { ...base.manifest, id, files, transformer_hash: contentHash(transformer), notes };
  return { manifest: JSON.stringify(manifest, null, 2), transformer, textEncoder };
}
