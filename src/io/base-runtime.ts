// A base model on the engine: denoiser + text encoder + embedding cache, from bundle bytes or from a preset
// with random weights (tests, and the start of pretraining). Shared by the CLI and the studio worker.
import { EmbeddingCache } from '../encode/cache';
import { textEncoderConfigFor } from '../encode/config';
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

export function loadBase(engine: Engine, files: BaseFiles): LoadedBase {
  const manifest = parseManifest(files.manifest);
  const hash = contentHash(files.transformer);
  if (manifest.transformer_hash && manifest.transformer_hash !== hash) {
    throw new Error(`${manifest.files.transformer} does not match model.json (hash ${hash}, expected ${manifest.transformer_hash}): the download is incomplete or the files are from different models`);
  }
  const model = new MMDiT(engine, manifest.config, loadStateDict(engine, manifest.config, files.transformer).weights);
  const te = loadTextEncoder(files.textEncoder);
  const textEncoder = TextEncoderModel.fromHost(engine, te.config, te.weights);
  return finish(manifest, model, textEncoder, te.vocab);
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
