// The base a full fine-tune is compared with when it is turned into a LoRA (extract-lora), opened like the
// fine-tune itself: headers first, each weight read by range when the extraction asks for it, so a real
// SD3.5-Medium base (a ~5 GB diffusers transformer, often sharded, F16/BF16) is never held whole and no model is
// loaded on the GPU. Two layouts, told apart by model.json:
//   - the studio's base bundle folder (model.json + the transformer.safetensors it names): config, id and hash
//     from the manifest, the hash checked against the file by range (as loadBase checks it, in bounded memory);
//   - a diffusers transformer (one .safetensors, a transformer folder with config.json and its weights or shards +
//     index, or a pipeline folder holding transformer/), opened by openTunedTransformer: the config from its
//     config.json, or from the weights' shapes when there is none (a single file).
// Either way every parameter the config implies is checked against the headers (name, shape, float dtype) here.
import type { ByteSource } from '../codec/safetensors-chunked';
import { isObject, parseJson, show } from '../codec/json';
import { validateConfig, type SD3Config } from '../model/config';
import { parameterSpecs } from '../model/params';
import { ContentHash, parseManifest } from './base-model';
import { openTunedTransformer, TunedInputError, type TensorReader, type TunedFile } from './tuned-transformer';

export interface ExtractionBase {
  /** base_model_id in the LoRA's metadata: the bundle's id, or the diffusers model's name (see openExtractionBase). */
  id: string;
  /** base_model_hash in the LoRA's metadata: the bundle's transformer_hash, or diffusersBaseHash. */
  hash: string;
  kind: 'bundle' | 'diffusers';
  config: SD3Config;
  weights: TensorReader;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);
/** model.json and config.json are a few KB; anything near this is not one. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;
/** The bundle's transformer is hashed in pieces of this size (bounded memory whatever its size). */
const HASH_CHUNK = 16 * 1024 * 1024;
const PICK_BASE =
  "Pick the base the fine-tune started from: the studio's base bundle folder (model.json + transformer.safetensors), or its diffusers transformer (the transformer folder with config.json, a pipeline folder holding transformer/, or one .safetensors).";

/**
 * Opens the base among `files` (as tunedFilesAt lists a path: relative paths, read by range). `name` is the id
 * of a diffusers base whose config.json does not name it (the picked folder's or file's name).
 */
export async function openExtractionBase(files: readonly TunedFile[], name: string): Promise<ExtractionBase> {
  const manifest = files.find((f) => f.path === 'model.json');
  return manifest ? openBundle(manifest, files) : openDiffusers(files, name);
}

async function readText(file: TunedFile): Promise<string> {
  if (file.source.size > MAX_JSON_BYTES) throw new TunedInputError(`${file.path} is ${file.source.size} bytes, too large for a config file`, PICK_BASE);
  const bytes = await file.source.read(0, file.source.size);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TunedInputError(`${file.path} is not UTF-8 text`, PICK_BASE);
  }
}

async function openBundle(manifestFile: TunedFile, files: readonly TunedFile[]): Promise<ExtractionBase> {
  const manifest = parseManifest(await readText(manifestFile)); // refuses a damaged model.json with its own advice
  const file = files.find((f) => f.path === manifest.files.transformer);
  if (!file) throw new TunedInputError(`${manifest.files.transformer} is missing: model.json names it, so the bundle is incomplete`, 'Write the bundle again (init-base, or pretrain).');
  const weights = await openTunedTransformer([file], 'base');
  if (manifest.transformer_hash) {
    const hash = await sourceHash(file.source);
    if (hash !== manifest.transformer_hash) {
      throw new TunedInputError(
        `${file.path} does not match model.json (hash ${hash}, expected ${manifest.transformer_hash})`,
        'The download is incomplete or the files are from different models: write or download the bundle again.',
      );
    }
  }
  checkWeightsFit(weights, manifest.config, 'model.json', 'The bundle is damaged: write it again (init-base, or pretrain).');
  return { id: manifest.id, hash: manifest.transformer_hash, kind: 'bundle', config: manifest.config, weights };
}

/** contentHash of a whole file, read in pieces: the same digest loadBase computes from the bytes in memory. */
async function sourceHash(source: ByteSource): Promise<string> {
  const h = new ContentHash();
  for (let at = 0; at < source.size; at += HASH_CHUNK) {
    const end = Math.min(at + HASH_CHUNK, source.size);
    const bytes = await source.read(at, end);
    if (bytes.byteLength !== end - at) throw new TunedInputError(`${source.name} could not be read to its end (it shrank while open?)`, 'Check the file and pick it again.');
    h.update(bytes);
  }
  return h.digest();
}

async function openDiffusers(files: readonly TunedFile[], name: string): Promise<ExtractionBase> {
  const weights = await openTunedTransformer(files, 'base');
  const folder = weights.folder ?? '';
  const configPath = folder ? `${folder}/config.json` : 'config.json';
  const configFile = files.find((f) => f.path === configPath);
  let config: SD3Config;
  let nameOrPath: unknown;
  if (configFile) {
    const json = parseJson(await readText(configFile), configFile.path, (m) => {
      throw new TunedInputError(m, 'Pick the folder diffusers saved, with its config.json as written.');
    });
    if (!isObject(json)) throw new TunedInputError(`${configFile.path} is not a JSON object`, 'Pick the folder diffusers saved, with its config.json as written.');
    config = configFromDiffusers(json, configFile.path);
    nameOrPath = json._name_or_path;
  } else {
    config = configFromWeights(weights);
  }
  checkWeightsFit(weights, config, configFile ? configFile.path : 'the config its shapes imply', 'Download or save the base transformer again, with its config.json.');
  // The id: diffusers records where a model was loaded from in _name_or_path (`stabilityai/stable-diffusion-3.5-medium`)
  // when it saves one; an absolute local path there says nothing to whoever gets the LoRA, so the folder's name then.
  const recorded = typeof nameOrPath === 'string' && nameOrPath.trim() && !/^([/\\~]|[A-Za-z]:[/\\])/.test(nameOrPath) ? nameOrPath.trim() : '';
  return { id: recorded || name, hash: await diffusersBaseHash(weights), kind: 'diffusers', config, weights };
}

/**
 * SD3Transformer2DModel's config.json as an SD3Config (the field names are diffusers' own); SD3-Medium's configs
 * predate dual_attention_layers and qk_norm, whose diffusers defaults are none and no norm.
 */
function configFromDiffusers(json: Record<string, unknown>, path: string): SD3Config {
  const cls = json._class_name;
  if (cls !== undefined && cls !== 'SD3Transformer2DModel') {
    throw new TunedInputError(`${path} is the config of a ${show(cls)}, not of an SD3Transformer2DModel`, 'Pick an SD3 or SD3.5 transformer: the LoRA is of the studio\'s architecture.');
  }
  const config = {
    sample_size: json.sample_size,
    patch_size: json.patch_size,
    in_channels: json.in_channels,
    out_channels: json.out_channels,
    num_layers: json.num_layers,
    attention_head_dim: json.attention_head_dim,
    num_attention_heads: json.num_attention_heads,
    joint_attention_dim: json.joint_attention_dim,
    caption_projection_dim: json.caption_projection_dim,
    pooled_projection_dim: json.pooled_projection_dim,
    pos_embed_max_size: json.pos_embed_max_size,
    dual_attention_layers: json.dual_attention_layers ?? [],
    qk_norm: json.qk_norm ?? null,
  } as SD3Config;
  try {
    validateConfig(config);
  } catch (e) {
    throw new TunedInputError(`${path}: ${(e as Error).message}`, 'Pick the folder diffusers saved, with its config.json as written.');
  }
  return config;
}

/**
 * The config of a base that came without config.json (one .safetensors), read off its weights' shapes. The
 * extraction uses only the parameters' names and shapes, which these fix; two fields they do not: the head width
 * when there is no q/k norm (taken as SD3's 64, or one head when the width is not a multiple of it) and sample_size
 * (taken as the position table's side in pixels), neither of which a weight's shape or a LoRA depends on.
 */
function configFromWeights(weights: TensorReader): SD3Config {
  const shape = (n: string): number[] => {
    const e = weights.entry(n);
    if (!e) {
      throw new TunedInputError(
        `${weights.description} has no ${n}, and no config.json came with it: it is not an SD3/SD3.5 transformer with diffusers names`,
        'Pick the base\'s diffusers transformer folder, with its config.json, or a single .safetensors with diffusers names.',
      );
    }
    return e.shape;
  };
  const [D, inChannels, patch] = shape('pos_embed.proj.weight');
  const table = shape('pos_embed.pos_embed')[1];
  const maxSize = Math.round(Math.sqrt(table));
  const blocks = new Set(weights.names().flatMap((n) => /^transformer_blocks\.(\d+)\./.exec(n)?.[1] ?? []).map(Number));
  const norm = weights.entry('transformer_blocks.0.attn.norm_q.weight');
  const head = norm ? norm.shape[0] : D % 64 === 0 ? 64 : D;
  const config: SD3Config = {
    sample_size: maxSize * patch,
    patch_size: patch,
    in_channels: inChannels,
    out_channels: Math.floor(shape('proj_out.weight')[0] / (patch * patch)),
    num_layers: blocks.size ? Math.max(...blocks) + 1 : 0,
    attention_head_dim: head,
    num_attention_heads: Math.floor(D / head),
    joint_attention_dim: shape('context_embedder.weight')[1],
    caption_projection_dim: shape('context_embedder.weight')[0],
    pooled_projection_dim: shape('time_text_embed.text_embedder.linear_1.weight')[1],
    pos_embed_max_size: maxSize,
    dual_attention_layers: [...blocks].filter((b) => weights.entry(`transformer_blocks.${b}.attn2.to_q.weight`)).sort((a, b) => a - b),
    qk_norm: norm ? 'rms_norm' : null,
  };
  try {
    validateConfig(config);
  } catch (e) {
    throw new TunedInputError(`${weights.description}: its shapes are not those of an SD3 transformer (${(e as Error).message})`, 'Pick the base\'s diffusers transformer folder, with its config.json.');
  }
  return config;
}

/**
 * Every parameter the config implies is in the base with its shape and a float dtype, and no block beyond the
 * config's: the modules to extract are then all there, and anything else is refused before a weight is read.
 */
function checkWeightsFit(weights: TensorReader, config: SD3Config, configFrom: string, advice: string): void {
  for (const spec of parameterSpecs(config)) {
    const e = weights.entry(spec.name);
    if (!e) throw new TunedInputError(`the base ${weights.description} has no ${spec.name}, which ${configFrom} implies`, advice);
    if (e.shape.length !== spec.shape.length || e.shape.some((d, i) => d !== spec.shape[i])) {
      throw new TunedInputError(`${spec.name} is [${e.shape.join(', ')}] in the base ${weights.description}, but ${configFrom} implies [${spec.shape.join(', ')}]`, advice);
    }
    if (!FLOAT_DTYPES.has(e.dtype)) throw new TunedInputError(`${spec.name} is ${e.dtype} in the base ${weights.description}; F32, F16 and BF16 weights are read`, 'Save the base in float32, float16 or bfloat16.');
  }
  const blocks = 1 + Math.max(-1, ...weights.names().map((n) => Number(/^transformer_blocks\.(\d+)\./.exec(n)?.[1] ?? -1)));
  if (blocks > config.num_layers) throw new TunedInputError(`the base ${weights.description} has ${blocks} transformer blocks, but ${configFrom} says ${config.num_layers}`, advice);
}

/**
 * base_model_hash of a diffusers base: `fnv1a64-header-vectors:` and 16 hex digits. A bundle records the FNV-1a
 * of its whole transformer file, but that would mean reading every byte of a ~5 GB base, which reading by range is
 * there to avoid. The header alone (names, dtypes, shapes) is stable, yet it names an architecture, not weights:
 * a fine-tune saved like its base has the same one. So the hash covers the header listing (sorted by name) and the
 * values of every 1-D tensor (the biases and norm scales, ~0.1% of SD3.5-Medium's bytes, which a full fine-tune
 * trains too): the same for the same files on any machine, different for the base and its fine-tune, and, by its
 * prefix, never mistaken for (or equal to) a bundle's whole-file hash. It does not see a change confined to the
 * matrices (a LoRA merged into the weights, say).
 */
export async function diffusersBaseHash(weights: TensorReader): Promise<string> {
  const h = new ContentHash();
  const names = weights.names().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const encoder = new TextEncoder();
  for (const n of names) {
    const e = weights.entry(n)!;
    h.update(encoder.encode(`${n}\t${e.dtype}\t${e.shape.join(',')}\n`));
  }
  for (const n of names) {
    if (weights.entry(n)!.shape.length !== 1) continue;
    const { data } = await weights.read(n);
    // Little-endian float32 whatever the host: the hash must not depend on the machine.
    const bytes = new Uint8Array(data.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
    h.update(bytes);
  }
  return `fnv1a64-header-vectors:${h.digest()}`;
}
