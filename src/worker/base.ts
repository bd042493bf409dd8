// The base model of the studio: the shipped pretrained one at /models/<preset>/ (model.json + its two
// safetensors files, same origin) when it is there, else a random base of the preset from seed 1, which is
// deterministic, so a run trained on it resumes exactly after a reload.
import { builtinVocabulary } from '../encode/builtin-vocab';
import { loadBase, randomBase, type LoadedBase } from '../io/base-runtime';
import { PRESETS } from '../model/config';
import type { Engine } from '../tensor/engine';
import type { BaseInfo } from './protocol';

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

export function baseInfo(base: LoadedBase, source: BaseInfo['source']): BaseInfo {
  let parameters = 0;
  for (const t of base.model.weights.values()) parameters += t.size;
  return {
    id: base.manifest.id,
    preset: base.manifest.preset,
    source,
    resolution: base.manifest.meta.resolution,
    parameters,
    trainable: true,
  };
}

/**
 * The shipped base's files, or null when none is shipped for this preset: a 404, or the SPA fallback of a dev or
 * preview server, which answers unknown paths with index.html (200, text/html).
 */
export async function fetchShippedBase(fetchFn: Fetch, preset: string): Promise<{ manifest: string; transformer: Uint8Array; textEncoder: Uint8Array } | null> {
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
  let files: { transformer?: string; text_encoder?: string } | undefined;
  try {
    files = (JSON.parse(manifest) as { files?: { transformer?: string; text_encoder?: string } }).files;
  } catch (e) {
    throw new BaseLoadError(`${root}model.json is not valid JSON (${(e as Error).message})`, 'The shipped model files are damaged: rebuild or redeploy the studio (public/models/).');
  }
  if (!files?.transformer || !files.text_encoder) throw new BaseLoadError(`${root}model.json does not name its transformer and text encoder files`, 'Regenerate the base bundle with `npm run soar -- init-base` or the pretraining script.');
  const get = async (name: string): Promise<Uint8Array> => {
    const r = await fetchFn(`${root}${name}`);
    if (!r.ok) throw new BaseLoadError(`${root}${name} could not be downloaded (HTTP ${r.status})`, 'The model files are incomplete on the server: redeploy public/models/, then reload.');
    return new Uint8Array(await r.arrayBuffer());
  };
  const [transformer, textEncoder] = await Promise.all([get(files.transformer), get(files.text_encoder)]);
  return { manifest, transformer, textEncoder };
}

export async function loadStudioBase(engine: Engine, preset: string, fetchFn: Fetch | null): Promise<StudioBase> {
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
    return { base, info: baseInfo(base, 'builtin') };
  }
  const base = randomBase(engine, preset, builtinVocabulary(p.meta.max_text_tokens), RANDOM_BASE_SEED);
  return { base, info: baseInfo(base, 'random') };
}

export function releaseBase(base: LoadedBase): void {
  base.model.release();
  base.textEncoder.release();
}
