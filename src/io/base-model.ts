// A base model bundle: the denoiser (diffusers names), its text encoder (with its vocabulary) and a manifest.
//   model.json                  { format, id, preset, config, meta, files }
//   transformer.safetensors     SD3Transformer2DModel state dict
//   text_encoder.safetensors    the text encoder with its config and vocabulary in the metadata
//   text_encoder.onnx           the same encoder for onnxruntime-web (optional; the shipped base has it)
// The same bytes serve the browser (public/models/<id>/) and the CLI (a directory).
import type { ModelMeta, SD3Config } from '../model/config';
import { validateConfig } from '../model/config';
import { JsonObject, parseJson, show, type Fail } from '../codec/json';

export const BASE_MODEL_FORMAT = 'soar-studio-base/1';

export interface BaseModelManifest {
  format: typeof BASE_MODEL_FORMAT;
  id: string;
  preset: string;
  config: SD3Config;
  meta: ModelMeta;
  /** `text_encoder_onnx`: the same encoder as an ONNX model, for onnxruntime-web (the studio's frozen encoder). */
  files: { transformer: string; text_encoder: string; text_encoder_onnx?: string };
  /** FNV-1a of the transformer file: LoRAs record it to refuse a different base. */
  transformer_hash: string;
  notes?: string;
}

/**
 * A bundle's file names: plain names inside its folder. Anything else (`../x`, `/etc/x`, `C:\\x`, `%2e%2e/x`,
 * which a URL resolves like `../x`) could make the CLI read, or the studio fetch, a file outside the bundle.
 */
const BUNDLE_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Parses and validates model.json: every field's type, the config's invariants, and file names in the bundle. */
export function parseManifest(text: string): BaseModelManifest {
  const fail: Fail = (m) => {
    throw new Error(`${m}: the base model bundle is damaged; write it again (npm run soar -- init-base, or pretrain)`);
  };
  const o = JsonObject.of(parseJson(text, 'model.json', fail), 'model.json', fail);
  if (o.value.format !== BASE_MODEL_FORMAT) fail(`model.json has format ${show(o.value.format)}, expected ${BASE_MODEL_FORMAT}`);
  o.str('id');
  o.str('preset');
  o.str('transformer_hash');
  if (o.has('notes')) o.str('notes');
  const meta = o.obj('meta');
  meta.str('id');
  meta.int('resolution', 1, 1 << 16);
  if (!(meta.num('shift') > 0)) fail(`model.json.meta.shift must be positive, got ${meta.value.shift}`);
  meta.int('max_text_tokens', 2, 1 << 16);
  const files = o.obj('files');
  for (const k of ['transformer', 'text_encoder', 'text_encoder_onnx']) {
    if (k === 'text_encoder_onnx' && !files.has(k)) continue;
    const name = files.str(k);
    if (!BUNDLE_FILE.test(name) || name.includes('..')) fail(`model.json.files.${k} is ${show(name)}: a bundle names its files inside its own folder (letters, digits, '.', '_', '-')`);
  }
  try {
    validateConfig(o.value.config as SD3Config);
  } catch (e) {
    fail(`model.json.config: ${(e as Error).message}`);
  }
  return o.value as unknown as BaseModelManifest;
}

/** 64-bit FNV-1a over the bytes, as 16 hex digits (fast enough for tens of MB; identifies, does not secure). */
export function contentHash(bytes: Uint8Array): string {
  return new ContentHash().update(bytes).digest();
}

/** contentHash fed piece by piece (a file read by range): the same digest as over the concatenated bytes. */
export class ContentHash {
  // 64-bit state as two 32-bit halves (BigInt per byte would be ~50x slower). Offset basis 0xcbf29ce484222325.
  private lo = 0x84222325 >>> 0;
  private hi = 0xcbf29ce4 >>> 0;

  update(bytes: Uint8Array): this {
    let { lo, hi } = this;
    for (let i = 0; i < bytes.length; i++) {
      lo ^= bytes[i];
      // (hi:lo) *= 0x100000001b3 mod 2^64, with 32-bit halves: prime = 2^40 + 0x1b3.
      const a = lo * 0x1b3;
      const carry = Math.floor(a / 0x100000000);
      const newLo = a >>> 0;
      hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
      lo = newLo;
    }
    this.lo = lo;
    this.hi = hi;
    return this;
  }

  digest(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}
