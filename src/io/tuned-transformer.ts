// A fine-tuned transformer as the reference trainer (diffusers `save_pretrained`) leaves it, opened for reading
// tensor by tensor: one .safetensors file, or a `transformer/` folder with `diffusion_pytorch_model.safetensors`
// or shards `diffusion_pytorch_model-0000k-of-0000n.safetensors` and their `….safetensors.index.json`. Only
// headers are read here; tensors are read when asked (ChunkedSafetensors), so the files may be any size. A
// diffusers base (SD3.5-Medium as downloaded) is laid out the same way and opened by the same code
// (src/io/extraction-base.ts).
import { isObject, parseJson, show } from '../codec/json';
import { ChunkedSafetensors, type ByteSource } from '../codec/safetensors-chunked';
import type { HeaderEntry, LoadedTensor } from '../codec/safetensors';

/** A refusal of the picked input: what is wrong and what to do. */
export class TunedInputError extends Error {
  constructor(
    message: string,
    readonly advice: string,
  ) {
    super(message);
    this.name = 'TunedInputError';
  }
}

/** One picked file, with its path relative to what was picked (`transformer/config.json`). */
export interface TunedFile {
  path: string;
  source: ByteSource;
}

/** Tensors by name across one file or several shards. */
export interface TensorReader {
  /** What was opened, for messages: a file name, or the index and its shard count. */
  readonly description: string;
  /** The picked folder the weights are in ('' for the top, `transformer` in a pipeline folder), where its config.json is. */
  readonly folder?: string;
  names(): string[];
  entry(name: string): HeaderEntry | undefined;
  read(name: string): Promise<LoadedTensor>;
}

/** Whose transformer is being opened, for the advice: the fine-tune (the default) or the base it started from. */
export type TransformerRole = 'fine-tune' | 'base';

const pickAdvice = (role: TransformerRole) =>
  `Pick the ${role}'s transformer folder (diffusion_pytorch_model.safetensors, or its shards with diffusion_pytorch_model.safetensors.index.json) or its single .safetensors file.`;
/** A diffusers index lists names and shard files; anything near this size is not one. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const SHARD_NAME = /-\d+-of-\d+\.safetensors$/i;

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const isWeights = (p: string) => /\.safetensors$/i.test(p);
const isIndex = (p: string) => /\.safetensors\.index\.json$/i.test(p);

/** Picks the transformer's files out of what was picked, and opens their headers. */
export async function openTunedTransformer(files: readonly TunedFile[], role: TransformerRole = 'fine-tune'): Promise<TensorReader> {
  const advice = pickAdvice(role);
  const candidates = files.filter((f) => isWeights(f.path) || isIndex(f.path));
  if (!candidates.length) {
    const seen = files.length ? ` (got ${files.slice(0, 3).map((f) => f.path).join(', ')}${files.length > 3 ? ', …' : ''})` : '';
    throw new TunedInputError(`no .safetensors file was picked${seen}`, advice);
  }
  // A whole pipeline folder also holds the VAE and text encoders: its `transformer/` subfolder is the one.
  let dirs = [...new Set(candidates.map((f) => dirOf(f.path)))];
  if (dirs.length > 1) dirs = dirs.filter((d) => d === 'transformer' || d.endsWith('/transformer'));
  if (dirs.length !== 1) {
    const all = [...new Set(candidates.map((f) => dirOf(f.path) || '.'))];
    throw new TunedInputError(`safetensors files are in several folders (${all.join(', ')}) and none of them alone is named transformer`, advice);
  }
  const here = candidates.filter((f) => dirOf(f.path) === dirs[0]);
  const indexes = here.filter((f) => isIndex(f.path));
  const weights = here.filter((f) => isWeights(f.path));
  if (indexes.length > 1) throw new TunedInputError(`several index files: ${indexes.map((f) => f.path).join(', ')}`, 'Pick a folder with one saved transformer in it.');
  if (indexes.length === 1) return openSharded(indexes[0], weights, dirs[0], advice);
  if (weights.length === 1) return openSingle(weights[0], dirs[0]);
  const names = weights.map((f) => f.path);
  if (names.some((n) => SHARD_NAME.test(n))) {
    throw new TunedInputError(`the transformer is sharded (${names.join(', ')}) but its index (diffusion_pytorch_model.safetensors.index.json) was not picked`, 'Pick the whole transformer folder: the shards and the index that says which tensor is in which.');
  }
  throw new TunedInputError(`several .safetensors files (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''}) and no index to join them`, advice);
}

async function openSingle(file: TunedFile, folder: string): Promise<TensorReader> {
  const st = await ChunkedSafetensors.open(file.source);
  return { description: file.path, folder, names: () => st.names(), entry: (n) => st.entry(n), read: (n) => st.read(n) };
}

async function openSharded(index: TunedFile, weights: readonly TunedFile[], folder: string, advice: string): Promise<TensorReader> {
  const weightMap = await readIndex(index);
  const dir = dirOf(index.path);
  const byPath = new Map(weights.map((f) => [f.path, f]));
  const shardNames = [...new Set(weightMap.values())];
  const missing = shardNames.filter((s) => !byPath.has(dir ? `${dir}/${s}` : s));
  if (missing.length) {
    throw new TunedInputError(
      `${index.path} names ${missing.length} shard(s) that were not picked: ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', …' : ''}`,
      'Pick the whole transformer folder, with every shard its index names, and check that each download finished.',
    );
  }
  const shards = new Map<string, ChunkedSafetensors>();
  for (const s of shardNames) shards.set(s, await ChunkedSafetensors.open(byPath.get(dir ? `${dir}/${s}` : s)!.source));
  for (const [tensor, s] of weightMap) {
    if (!shards.get(s)!.entry(tensor)) {
      throw new TunedInputError(`${index.path} puts ${show(tensor)} in ${s}, which has no such tensor`, 'The index and the shards come from different saves: download the transformer folder again.');
    }
  }
  const shardOf = (n: string) => {
    const s = weightMap.get(n);
    return s === undefined ? undefined : shards.get(s);
  };
  return {
    description: `${index.path} (${shardNames.length} shard${shardNames.length === 1 ? '' : 's'})`,
    folder,
    names: () => [...weightMap.keys()],
    entry: (n) => shardOf(n)?.entry(n),
    read: (n) => {
      const st = shardOf(n);
      if (!st) throw new TunedInputError(`${index.path} has no tensor ${show(n)}`, advice);
      return st.read(n);
    },
  };
}

/** The index's weight_map: tensor name → shard file name. */
async function readIndex(index: TunedFile): Promise<Map<string, string>> {
  const bad = (what: string): never => {
    throw new TunedInputError(`${index.path} is not a safetensors index: ${what}`, 'Pick the folder diffusers saved, with its diffusion_pytorch_model.safetensors.index.json as written.');
  };
  if (index.source.size > MAX_INDEX_BYTES) bad(`it is ${index.source.size} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await index.source.read(0, index.source.size));
  } catch {
    return bad('it is not UTF-8 text');
  }
  const json = parseJson(text, 'it', bad);
  if (!isObject(json) || !isObject(json.weight_map)) return bad('it has no "weight_map" object');
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(json.weight_map)) {
    if (typeof shard !== 'string' || !isWeights(shard)) bad(`weight_map[${show(tensor)}] is ${show(shard)}, not a .safetensors file name`);
    map.set(tensor, shard as string);
  }
  if (!map.size) bad('its weight_map is empty');
  return map;
}
