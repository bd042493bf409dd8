// Node entry: the benchmark on Dawn (the `webgpu` package; SwiftShader here), onnxruntime-web included.
//
// onnxruntime-web's Node build (its package's "node" export) is wasm-only. Its browser build with the JSEP
// WebGPU backend (dist/ort.min.mjs) runs in Node once `navigator.gpu` exists: we give it a second Dawn instance
// (an adapter can make only one device, and the engine's adapter already made ours), which finds the same
// physical adapter. Inputs and outputs stay in GPU buffers, so ORT never writes from its wasm heap (a
// SharedArrayBuffer, which Dawn's writeBuffer rejects).
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { closeNodeGpu, nodeGpu } from '../../src/gpu/node';
import { runKernelBench, type BenchOptions, type BenchReport } from './bench';
import type { Ort } from './ort';

const require = createRequire(import.meta.url);

/** onnxruntime-web's dist/ folder (its package.json is not exported; the CommonJS entry lives in dist/). */
export const ORT_DIST = dirname(require.resolve('onnxruntime-web'));

/** onnxruntime-web's JSEP build on a second Dawn instance (call after nodeGpu()). */
export async function loadOrt(): Promise<Ort> {
  // runNode called nodeGpu() first, which set the Vulkan loader variables (SwiftShader) this instance reads too.
  const { create } = require('webgpu') as { create: (flags: string[]) => GPU };
  const nav = (globalThis as { navigator?: object }).navigator ?? {};
  Object.defineProperty(globalThis, 'navigator', { value: Object.assign(Object.create(nav), { gpu: create([]) }), configurable: true, writable: true });
  const ort = (await import(/* @vite-ignore */ pathToFileURL(join(ORT_DIST, 'ort.min.mjs')).href)) as Ort;
  ort.env.wasm.wasmPaths = ORT_DIST + '/';
  return ort;
}

export async function runNode(options: Partial<BenchOptions>, log: (s: string) => void): Promise<BenchReport> {
  const ctx = await nodeGpu();
  let ort: Ort | null = null;
  let ortUnavailable: string | undefined;
  try {
    ort = await loadOrt();
  } catch (err) {
    ortUnavailable = `onnxruntime-web's WebGPU build did not load in Node: ${err instanceof Error ? err.message : String(err)}`;
  }
  try {
    return await runKernelBench({ name: 'node', platform: `Node ${process.version}, Dawn (npm webgpu)`, ctx, ort, ortUnavailable, log }, options);
  } finally {
    await closeNodeGpu();
  }
}
