// A base model bundle as a directory (model.json + transformer.safetensors + text_encoder.safetensors, and the
// encoder's .onnx when there is one): what init-base and pretrain write and every other command reads.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadBase, type BaseFiles, type LoadedBase } from '../io/base-runtime';
import { parseManifest } from '../io/base-model';
import type { Engine } from '../tensor/engine';

/** The bundle's bytes; `missing` says how to make one when the directory has no model.json. */
export function readBaseFiles(dir: string, missing: string): BaseFiles {
  const manifestPath = join(dir, 'model.json');
  if (!existsSync(manifestPath)) throw new Error(`${dir} has no model.json, so it is not a base model: ${missing}`);
  const manifest = readFileSync(manifestPath, 'utf8');
  const m = parseManifest(manifest);
  return { manifest, transformer: readBundleFile(dir, m.files.transformer), textEncoder: readBundleFile(dir, m.files.text_encoder) };
}

/** A file of the bundle; parseManifest already allows plain names only, and this holds even if that changed. */
function readBundleFile(dir: string, name: string): Uint8Array {
  const root = resolve(dir);
  const path = resolve(root, name);
  if (dirname(path) !== root) throw new Error(`${join(dir, 'model.json')} names ${JSON.stringify(name)}, which is not a file in ${dir}: a bundle's files sit beside its model.json`);
  if (!existsSync(path)) throw new Error(`${path} is missing: model.json names it, so the bundle is incomplete; write it again (init-base, or pretrain)`);
  return new Uint8Array(readFileSync(path));
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
