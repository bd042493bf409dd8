// A base model bundle as a directory (model.json + transformer.safetensors + text_encoder.safetensors, and the
// encoder's .onnx when there is one): what init-base and pretrain write and every other command reads.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBase, type BaseFiles, type LoadedBase } from '../io/base-runtime';
import { parseManifest } from '../io/base-model';
import type { Engine } from '../tensor/engine';

/** The bundle's bytes; `missing` says how to make one when the directory has no model.json. */
export function readBaseFiles(dir: string, missing: string): BaseFiles {
  const manifestPath = join(dir, 'model.json');
  if (!existsSync(manifestPath)) throw new Error(`${dir} has no model.json, so it is not a base model: ${missing}`);
  const manifest = readFileSync(manifestPath, 'utf8');
  const m = parseManifest(manifest);
  return {
    manifest,
    transformer: new Uint8Array(readFileSync(join(dir, m.files.transformer))),
    textEncoder: new Uint8Array(readFileSync(join(dir, m.files.text_encoder))),
  };
}

export function readBaseDir(engine: Engine, dir: string, missing: string): LoadedBase {
  return loadBase(engine, readBaseFiles(dir, missing));
}

export function writeBaseDir(dir: string, files: BaseFiles, textEncoderOnnx?: Uint8Array): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), files.manifest);
  writeFileSync(join(dir, 'transformer.safetensors'), files.transformer);
  writeFileSync(join(dir, 'text_encoder.safetensors'), files.textEncoder);
  if (textEncoderOnnx) writeFileSync(join(dir, parseManifest(files.manifest).files.text_encoder_onnx ?? 'text_encoder.onnx'), textEncoderOnnx);
}
