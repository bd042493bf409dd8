// The base model of the studio: the shipped pretrained one at /models/<preset>/ (model.json + its two
// safetensors files, same origin) when it is there, else a random base of the preset from seed 1, which is
// deterministic, so a run trained on it resumes exactly after a reload.
import { builtinVocabulary } from '../encode/builtin-vocab';
import { loadBase, randomBase, type LoadedBase } from '../io/base-runtime';
import { parseManifest } from '../io/base-model';
import { PRESETS } from '../model/config';
import type { Engine } from '../tensor/engine';
import type { BaseInfo } from './protocol';
import { EmbeddingCache, type CaptionEncoder } from '../encode/cache';
import type { TextEncoderConfig } from '../encode/config';
import type { Tokenizer } from '../encode/tokenizer';

/** Seed of the random base (fixed: exact resume after a reload depends on getting the same weights). */
export const RANDOM_BASE_SEED = 1;

export type Fetch = (url: string) => Promise<Response>;

export class BaseLoadError extends Error {
  constructor(
    message: string,
    readonly advice: string,
  ) {
    super(message);
    this.name = 'BaseLoadError';
  }
}

export interface StudioBase {
  base: LoadedBase;
  info: BaseInfo;
}

/** An open ONNX text encoder: the cache's encoder, what runs it, and how to close its session. */
export interface OnnxEncoder {
  encoder: CaptionEncoder;
  /** e.g. 'onnxruntime-web (wasm)'. */
  runtime: string;
  release(): Promise<void>;
}

/**
 * Opens the shipped text encoder's ONNX file: onnxruntime-web in the worker (studio.worker.ts), its Node build in
 * tests. The frozen encoder of post-training runs there, not on the training kernels (architecture.md).
 */
export type OnnxEncoderFactory = (model: Uint8Array, tokenizer: Tokenizer, config: TextEncoderConfig, id: string) => Promise<OnnxEncoder>;

/** Encoder sessions by base, closed with the base (releaseBase). */
const onnxSessions = new WeakMap<LoadedBase, OnnxEncoder>();

export function baseInfo(base: LoadedBase, source: BaseInfo['source'], textEncoder = 'WGSL kernels (the engine)'): BaseInfo {
  let parameters = 0;
  for (const t of base.model.weights.values()) parameters += t.size;
  return {
    id: base.manifest.id,
    preset: base.manifest.preset,
    source,
    resolution: base.manifest.meta.resolution,
    parameters,
    trainable: true,
    textEncoder,
  };
}

/**
 * The shipped base's files, or null when none is shipped for this preset: a 404, or the SPA fallback of a dev or
 * preview server, which answers unknown paths with index.html (200, text/html).
 */
export async function fetchShippedBase(fetchFn: Fetch, preset: string): Promise<{ manifest: string; transformer: Uint8Array; textEncoder: Uint8Array; textEncoderOnnx: Uint8Array | null } | null> {
  const root = `/models/${encodeURIComponent(preset)}/`;
  let res: Response;
  try {
    res = await fetchFn(`${root}model.json`);
  } catch {
    return null; // offline or no server (tests): no shipped base
  }
  if (res.status === 404 || !res.ok) return null;
  const manifest = await res.text();
  if (/^\s*</.test(manifest) || (res.headers.get('content-type') ?? '').includes('text/html')) return null;
  // Every name is checked (plain file names inside the bundle's folder) before anything is fetched by it.
  let files: ReturnType<typeof parseManifest>['files'];
  try {
    files = parseManifest(manifest).files;
  } catch (e) {
    throw new BaseLoadError(`${root}model.json is damaged: ${(e as Error).message}`, 'The shipped model files are damaged: rebuild or redeploy the studio (public/models/).');
  }
  const get = async (name: string): Promise<Uint8Array> => {
    const r = await fetchFn(`${root}${name}`);
    if (!r.ok) throw new BaseLoadError(`${root}${name} could not be downloaded (HTTP ${r.status})`, 'The model files are incomplete on the server: redeploy public/models/, then reload.');
    return new Uint8Array(await r.arrayBuffer());
  };
  const [transformer, textEncoder, textEncoderOnnx] = await Promise.all([get(files.transformer), get(files.text_encoder), files.text_encoder_onnx ? get(files.text_encoder_onnx) : null]);
  return { manifest, transformer, textEncoder, textEncoderOnnx };
}

export async function loadStudioBase(engine: Engine, preset: string, fetchFn: Fetch | null, onnx: OnnxEncoderFactory | null = null): Promise<StudioBase> {
  const p = PRESETS[preset];
  if (!p) throw new BaseLoadError(`There is no model preset "${preset}".`, `Choose one of: ${Object.keys(PRESETS).join(', ')}.`);
  const shipped = fetchFn ? await fetchShippedBase(fetchFn, preset) : null;
  if (shipped) {
    let base: LoadedBase;
    try {
      base = loadBase(engine, shipped);
    } catch (e) {
      throw new BaseLoadError(`The shipped base model for ${preset} could not be loaded: ${(e as Error).message}`, 'Reload the page (a download may have been cut short); if it persists, the deployed files are inconsistent: redeploy public/models/.');
    }
    if (!shipped.textEncoderOnnx || !onnx) return { base, info: baseInfo(base, 'builtin') };
    // Captions through onnxruntime-web. If it cannot start here, the same weights on the engine's kernels give
    // the same embeddings (tested to ~1e-6), so the studio carries on and says which one runs.
    try {
      const session = await onnx(shipped.textEncoderOnnx, base.tokenizer, base.textEncoder.config, `${base.manifest.id}:onnx:${base.tokenizer.fingerprint()}`);
      onnxSessions.set(base, session);
      base.embeddings = new EmbeddingCache(session.encoder);
      return { base, info: baseInfo(base, 'builtin', session.runtime) };
    } catch (e) {
      return { base, info: baseInfo(base, 'builtin', `WGSL kernels (onnxruntime-web did not start: ${e instanceof Error ? e.message : String(e)})`) };
    }
  }
  const base = randomBase(engine, preset, builtinVocabulary(p.meta.max_text_tokens), RANDOM_BASE_SEED);
  return { base, info: baseInfo(base, 'random') };
}

export function releaseBase(base: LoadedBase): void {
  base.model.release();
  base.textEncoder.release();
  void onnxSessions.get(base)?.release();
  onnxSessions.delete(base);
}
