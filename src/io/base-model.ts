// A base model bundle: the denoiser (diffusers names), its text encoder (with its vocabulary) and a manifest.
//   model.json                  { format, id, preset, config, meta, files }
//   transformer.safetensors     SD3Transformer2DModel state dict
//   text_encoder.safetensors    the text encoder with its config and vocabulary in the metadata
//   text_encoder.onnx           the same encoder for onnxruntime-web (optional; the shipped base has it)
// The same bytes serve the browser (public/models/<id>/) and the CLI (a directory).
import type { ModelMeta, SD3Config } from '../model/config';
import { validateConfig } from '../model/config';

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

export function parseManifest(text: string): BaseModelManifest {
  let m: BaseModelManifest;
  try {
    m = JSON.parse(text) as BaseModelManifest;
  } catch (e) {
    throw new Error(`model.json is not valid JSON (${(e as Error).message})`);
  }
  if (m.format !== BASE_MODEL_FORMAT) throw new Error(`model.json has format ${JSON.stringify(m.format)}, expected ${BASE_MODEL_FORMAT}`);
  if (!m.config || !m.meta || !m.files?.transformer || !m.files?.text_encoder) throw new Error('model.json lacks config, meta or files');
  validateConfig(m.config);
  return m;
}

/** 64-bit FNV-1a over the bytes, as 16 hex digits (fast enough for tens of MB; identifies, does not secure). */
export function contentHash(bytes: Uint8Array): string {
  // 64-bit state as two 32-bit halves (BigInt per byte would be ~50x slower). Offset basis 0xcbf29ce484222325.
  let lo = 0x84222325 >>> 0;
  let hi = 0xcbf29ce4 >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    lo ^= bytes[i];
    // (hi:lo) *= 0x100000001b3 mod 2^64, with 32-bit halves: prime = 2^40 + 0x1b3.
    const a = lo * 0x1b3;
    const carry = Math.floor(a / 0x100000000);
    const newLo = a >>> 0;
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = newLo;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
