// Node entry: the model benchmark on Dawn (the `webgpu` package; SwiftShader here), with onnxruntime-web's
// WebGPU build on a second Dawn instance, exactly as the kernel benchmark loads it (bench/kernels/node.ts).
import { closeNodeGpu, nodeGpu } from '../../src/gpu/node';
import { loadOrt } from '../kernels/node';
import type { Ort } from '../kernels/ort';
import { runModelBench, type ModelBenchOptions, type ModelBenchReport } from './bench';

/**
 * ORT uploads initializers (the model's weights) with queue.writeBuffer straight from its wasm heap, which in the
 * threaded build is a SharedArrayBuffer; Dawn's Node binding refuses those (browsers accept them), and the kernel
 * bench never met it because its one-node models have no initializers. So the devices ORT creates from
 * navigator.gpu get a writeBuffer that first copies shared memory into a plain buffer. Our engine's device (the
 * other Dawn instance) is untouched.
 */
function copySharedUploads(gpu: GPU): void {
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (options) => {
    const adapter = await requestAdapter(options);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = async (descriptor) => {
      const device = await requestDevice(descriptor);
      const queue = device.queue;
      const write = queue.writeBuffer.bind(queue) as (b: GPUBuffer, o: number, d: AllowSharedBufferSource, dOff?: number, size?: number) => undefined;
      queue.writeBuffer = (buffer: GPUBuffer, offset: number, data: AllowSharedBufferSource, dataOffset = 0, size?: number) => {
        const view = ArrayBuffer.isView(data) ? data : null;
        const backing = view ? view.buffer : (data as ArrayBufferLike);
        if (!(backing instanceof SharedArrayBuffer)) return write(buffer, offset, data, dataOffset, size);
        // dataOffset and size count elements of a typed array, bytes of an ArrayBuffer (WebGPU's rule).
        const unit = (view as { BYTES_PER_ELEMENT?: number } | null)?.BYTES_PER_ELEMENT ?? 1;
        const start = (view ? view.byteOffset : 0) + dataOffset * unit;
        const bytes = size !== undefined ? size * unit : (view ? view.byteLength : backing.byteLength) - dataOffset * unit;
        return write(buffer, offset, new Uint8Array(backing, start, bytes).slice());
      };
      return device;
    };
    return adapter;
  };
}

export async function runNode(options: Partial<ModelBenchOptions>, log: (s: string) => void): Promise<ModelBenchReport> {
  const ctx = await nodeGpu();
  let ort: Ort | null = null;
  let ortUnavailable: string | undefined;
  try {
    ort = await loadOrt();
    copySharedUploads(navigator.gpu);
  } catch (err) {
    ortUnavailable = `onnxruntime-web's WebGPU build did not load in Node: ${err instanceof Error ? err.message : String(err)}`;
  }
  try {
    return await runModelBench({ name: 'node', platform: `Node ${process.version}, Dawn (npm webgpu)`, ctx, ort, ortUnavailable, log }, options);
  } finally {
    await closeNodeGpu();
  }
}
