// The shipped text encoder on onnxruntime-web in the studio worker: the wasm build (the encoder is a few MFLOP
// per caption, and a WebGPU EP would open a second device beside the training one), its .wasm bundled by Vite
// and served from the studio's own origin (nothing is fetched from a CDN).
import * as ort from 'onnxruntime-web/wasm';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { onnxCaptionEncoder, OnnxTextEncoder } from '../encode/onnx-runner';
import type { OnnxEncoderFactory } from './base';

export const browserOnnxEncoder: OnnxEncoderFactory = async (model, tokenizer, config, id) => {
  ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, self.location.origin).href };
  // One thread: threads need SharedArrayBuffer, i.e. a cross-origin-isolated page, which the studio does not ask
  // its host for.
  ort.env.wasm.numThreads = 1;
  const runner = await OnnxTextEncoder.create(ort, model, { executionProviders: ['wasm'] });
  return { encoder: onnxCaptionEncoder(runner, tokenizer, config, id), runtime: `onnxruntime-web ${ort.env.versions.web ?? ''} (wasm)`.replace('  ', ' '), release: () => runner.release() };
};
