// onnxruntime-web's WebGPU execution provider on the same cases: a one-node ONNX model per case (written with
// src/io/onnx.ts), inputs in GPU buffers on ORT's device and outputs left there, so a run measures ORT's
// kernels and its per-run overhead, not uploads and downloads.
//
// Device: ORT's JSEP WebGPU backend (the default `onnxruntime-web` build) always creates its own GPUDevice
// from an adapter it requests; 1.30 has no way to hand it an existing device, and a WebGPU adapter can create
// only one device. So ORT runs on its own device of the same physical adapter (reported next to ours).
//
// GPU time: ORT's own profiling (env.webgpu.profiling.mode 'default') puts timestamp queries around each of its
// kernels and reports them through `ondata`; the sum over one run's kernels is ORT's GPU time. It also says
// which kernels ran on WebGPU: a run with no profiled kernel fell back to ORT's CPU provider.
import type * as OrtModule from 'onnxruntime-web';
import { encodeModel, type Graph } from '../../src/codec/onnx';
import { sleep } from '../lib/stats';
import { caseInputs, caseOutputShape, LN_EPS, type Case } from './cases';

export type Ort = typeof OrtModule;

export interface Sample {
  wallMs: number;
  gpuMs: number | null;
}

interface KernelRecord {
  kernelType: string;
  programName: string;
  startTime: number | bigint;
  endTime: number | bigint;
}

/** The one-node model of a case; inputs and output named as caseInputs/caseOutputShape. */
export function caseModel(c: Case): { graph: Graph; opLabel: string } {
  const inputs = caseInputs(c).map((i) => ({ name: i.name, shape: i.shape }));
  const outputs = [{ name: 'Y', shape: caseOutputShape(c) }];
  const names = inputs.map((i) => i.name);
  switch (c.op) {
    case 'matmul':
      return { opLabel: 'MatMul (opset 17)', graph: { name: 'matmul', inputs, outputs, nodes: [{ op: 'MatMul', inputs: names, outputs: ['Y'] }] } };
    case 'attention':
      return {
        opLabel: 'com.microsoft MultiHeadAttention',
        graph: {
          name: 'mha',
          inputs,
          outputs,
          // q, k, v as [B, T, H·Dh] ("BSNH" unpacked): the layout of ops/attention.ts, so no transposes.
          nodes: [{ op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: names, outputs: ['Y'], attributes: { num_heads: { int: c.H } } }],
        },
      };
    case 'layernorm':
      return {
        opLabel: 'LayerNormalization (opset 17)',
        graph: {
          name: 'layernorm',
          inputs,
          outputs,
          nodes: [{ op: 'LayerNormalization', inputs: names, outputs: ['Y'], attributes: { axis: { int: -1 }, epsilon: { float: LN_EPS } } }],
        },
      };
    case 'add':
      return { opLabel: 'Add (opset 17)', graph: { name: 'add', inputs, outputs, nodes: [{ op: 'Add', inputs: names, outputs: ['Y'] }] } };
    case 'softmax':
      return {
        opLabel: 'Softmax (opset 17, axis -1)',
        graph: { name: 'softmax', inputs, outputs, nodes: [{ op: 'Softmax', inputs: names, outputs: ['Y'], attributes: { axis: { int: -1 } } }] },
      };
  }
}

export interface OrtCase {
  opLabel: string;
  /** One inference on GPU-resident inputs, timed to completion of its GPU work. */
  run(): Promise<Sample>;
  /** Kernels the last run executed on WebGPU (empty: ORT ran the node on its CPU provider). */
  kernels: string[];
  output(): Promise<Float32Array>;
  release(): Promise<void>;
}

export class OrtBench {
  private records: KernelRecord[] = [];

  constructor(readonly ort: Ort) {
    ort.env.wasm.numThreads = 1; // WebGPU is what we measure; no wasm worker threads needed
    ort.env.logLevel = 'error';
    ort.env.webgpu.profiling = { mode: 'default', ondata: (d) => void this.records.push(d as KernelRecord) };
  }

  get version(): string {
    return this.ort.env.versions.web ?? this.ort.env.versions.common;
  }

  /** ORT's device (exists once the first WebGPU session was created). Typed as a promise in ORT's typings;
   *  the JSEP backend stores the device itself, so both are accepted. */
  async device(): Promise<GPUDevice> {
    return await (this.ort.env.webgpu.device as GPUDevice | Promise<GPUDevice>);
  }

  get adapterInfo(): GPUAdapterInfo | undefined {
    return (this.ort.env.webgpu.adapter as GPUAdapter | undefined)?.info;
  }

  async prepare(c: Case, data: Float32Array[]): Promise<OrtCase> {
    const { graph, opLabel } = caseModel(c);
    return this.prepareModel(encodeModel(graph), opLabel, caseInputs(c).map((inp, i) => ({ name: inp.name, shape: inp.shape, data: data[i] })));
  }

  /** Any float32 model (bench:model runs the whole MMDiT): inputs uploaded once, output `output` kept on the GPU. */
  async prepareModel(bytes: Uint8Array, opLabel: string, inputs: Array<{ name: string; shape: number[]; data: Float32Array }>, output = 'Y'): Promise<OrtCase> {
    const ort = this.ort;
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['webgpu'],
      preferredOutputLocation: 'gpu-buffer',
      logSeverityLevel: 3,
    });
    const device = await this.device();
    const buffers = inputs.map((inp) => {
      const buf = device.createBuffer({
        size: Math.ceil(inp.data.byteLength / 16) * 16,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
        label: `ort ${inp.name}`,
      });
      device.queue.writeBuffer(buf, 0, inp.data.buffer, inp.data.byteOffset, inp.data.byteLength);
      return { name: inp.name, buf, tensor: ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: inp.shape }) };
    });
    const feeds = Object.fromEntries(buffers.map((b) => [b.name, b.tensor]));
    const oc: OrtCase = {
      opLabel,
      kernels: [],
      run: async () => {
        this.records = [];
        const t0 = performance.now();
        const out = await session.run(feeds);
        await device.queue.onSubmittedWorkDone();
        const wallMs = performance.now() - t0;
        // ORT reports its timestamps from a mapAsync callback that resolves with the GPU work; a few event-loop
        // turns are enough. No record at all means no kernel ran on WebGPU.
        for (let i = 0; i < 20 && this.records.length === 0; i++) await sleep(i < 5 ? 0 : 5);
        await sleep(0);
        out[output].dispose();
        oc.kernels = this.records.map((r) => `${r.kernelType}:${r.programName}`);
        if (this.records.length === 0) return { wallMs, gpuMs: null };
        const ns = this.records.reduce((sum, r) => sum + (Number(r.endTime) - Number(r.startTime)), 0);
        return { wallMs, gpuMs: ns / 1e6 };
      },
      output: async () => {
        const out = await session.run(feeds);
        const data = (await out[output].getData()) as Float32Array;
        out[output].dispose();
        return data;
      },
      release: async () => {
        await session.release();
        for (const b of buffers) b.buf.destroy();
      },
    };
    return oc;
  }
}
