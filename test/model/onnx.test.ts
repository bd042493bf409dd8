// The MMDiT's ONNX export, run by onnxruntime-web (its wasm EP, the one that runs in Node), against the WGSL
// forward and the float64 reference — on `tiny` and on a miniature with SD3.5-Medium's structure (RMS q/k
// norm, dual attention, the context-pre-only last block) — with and without a merged LoRA.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '../../src/codec/onnx';
import { PRESETS, type SD3Config } from '../../src/model/config';
import { LoraSet } from '../../src/model/lora';
import { MMDiT } from '../../src/model/mmdit';
import { exportMMDiTOnnx, hostWeightsOf, mergedLoraOf, mmditOnnxGraph, ONNX_CONTEXT, ONNX_OUTPUT, ONNX_POOLED, ONNX_SAMPLE, ONNX_TIMESTEP } from '../../src/model/onnx-export';
import { mmditForwardRef, type RefAdapters, type RefInputs } from '../../src/model/reference';
import { expectClose, getEngine, rand } from '../tensor/harness';
import { MINI_SD35, randomizeSignalPaths } from './fixtures';

ort.env.wasm.numThreads = 1; // tiny models: no worker pool


// Two fp32 implementations (and fp32 vs float64) through a few layers: the model tests' own tolerance.
const TOL = { atol: 2e-4, rtol: 2e-3 };

async function setup(config: SD3Config, B: number, T: number, seed: number) {
  const e = await getEngine();
  const model = MMDiT.init(e, config, seed);
  await randomizeSignalPaths(model, seed);
  const H = config.sample_size;
  const f32 = (n: number, s: number) => Float32Array.from(rand(n, s));
  const host = {
    x: f32(B * config.in_channels * H * H, seed + 1),
    // Large timesteps on purpose: the graph's range reduction of the sinusoid's arguments is exercised.
    timestep: Float32Array.from({ length: B }, (_, i) => 250 + 737 * i),
    context: f32(B * T * config.joint_attention_dim, seed + 2),
    pooled: f32(B * config.pooled_projection_dim, seed + 3),
  };
  const ref: RefInputs = { B, H, W: H, T, x: Float64Array.from(host.x), timestep: Float64Array.from(host.timestep), context: Float64Array.from(host.context), pooled: Float64Array.from(host.pooled) };
  const gpuInputs = {
    x: e.fromArray(host.x, [B, config.in_channels, H, H], 'x'),
    timestep: e.fromArray(host.timestep, [B], 't'),
    context: e.fromArray(host.context, [B, T, config.joint_attention_dim], 'ctx'),
    pooled: e.fromArray(host.pooled, [B, config.pooled_projection_dim], 'pooled'),
  };
  const feeds = (b = B) => ({
    [ONNX_SAMPLE]: new ort.Tensor('float32', host.x.slice(0, b * config.in_channels * H * H), [b, config.in_channels, H, H]),
    [ONNX_TIMESTEP]: new ort.Tensor('float32', host.timestep.slice(0, b), [b]),
    [ONNX_CONTEXT]: new ort.Tensor('float32', host.context.slice(0, b * T * config.joint_attention_dim), [b, T, config.joint_attention_dim]),
    [ONNX_POOLED]: new ort.Tensor('float32', host.pooled.slice(0, b * config.pooled_projection_dim), [b, config.pooled_projection_dim]),
  });
  const release = () => {
    model.release();
    for (const t of Object.values(gpuInputs)) t.release();
  };
  return { e, model, ref, gpuInputs, feeds, release };
}

async function runOnnx(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    expect(session.inputNames).toEqual([ONNX_SAMPLE, ONNX_TIMESTEP, ONNX_CONTEXT, ONNX_POOLED]);
    expect(session.outputNames).toEqual([ONNX_OUTPUT]);
    const out = (await session.run(feeds))[ONNX_OUTPUT];
    return { data: out.data as Float32Array, dims: out.dims };
  } finally {
    await session.release();
  }
}

describe.each([
  ['tiny', PRESETS.tiny.config, 2, 5],
  ['SD3.5-Medium miniature (qk RMS norm, dual attention)', MINI_SD35, 2, 3],
])('MMDiT ONNX export, %s', (_name, config, B, T) => {
  const H = config.sample_size;

  it('run by onnxruntime-web (wasm) equals the WGSL forward and the float64 reference; the batch is symbolic', async () => {
    const { e, model, ref, gpuInputs, feeds, release } = await setup(config, B, T, 3);
    const gpu = await e.scope(() => model.forward(gpuInputs).detach()).toArray();
    const weights = await hostWeightsOf(model.weights);
    const expected = mmditForwardRef(config, new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)])), ref);
    const bytes = exportMMDiTOnnx(config, weights, { tokens: T, height: H, width: H });
    const onnx = await runOnnx(bytes, feeds());
    expect(onnx.dims).toEqual([B, config.out_channels, H, H]);
    expectClose(onnx.data, gpu, TOL, 'onnx vs WGSL');
    expectClose(onnx.data, expected, TOL, 'onnx vs float64 reference');
    // Batch 1 through the same model: the first sample's velocity.
    const one = await runOnnx(bytes, feeds(1));
    expectClose(one.data, onnx.data.subarray(0, one.data.length), { atol: 1e-6, rtol: 1e-5 }, 'batch 1 vs batch row 0');
    release();
  });

  it('with a merged LoRA equals the forward with the adapter active (and the reference with it)', async () => {
    const { e, model, ref, gpuInputs, feeds, release } = await setup(config, B, T, 5);
    // Attention and MLP targets, B random so the adapter changes the output.
    const lora = LoraSet.create(e, 'soar', config, { rank: 2, alpha: 3, targets: ['attn.to_q', 'attn.to_v', 'attn.add_k_proj', 'attn.to_add_out', 'attn.to_out.0', 'ff.net.0.proj', 'ff_context.net.2'] }, 9);
    lora.strength = 0.8;
    let k = 500;
    for (const m of lora.modules.values()) e.gpu.write(m.B.buffer, Float32Array.from(rand(m.B.size, k++, -0.3, 0.3)));
    const base = await e.scope(() => model.forward(gpuInputs).detach()).toArray();
    model.adapters = [lora];
    const gpu = await e.scope(() => model.forward(gpuInputs).detach()).toArray();
    expect(Math.max(...gpu.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-2); // the adapter matters
    const weights = await hostWeightsOf(model.weights);
    const merged = await mergedLoraOf(lora);
    const adapters: RefAdapters = new Map([...merged.modules].map(([name, m]) => [name, [{ A: Float64Array.from(m.A), B: Float64Array.from(m.B), rank: 2, scale: merged.scale }]]));
    const expected = mmditForwardRef(config, new Map([...weights].map(([n, v]) => [n, Float64Array.from(v)])), ref, adapters);
    // A fixed batch this time: every input dimension is a number.
    const bytes = exportMMDiTOnnx(config, weights, { batch: B, tokens: T, height: H, width: H, mergedLoras: [merged] });
    const onnx = await runOnnx(bytes, feeds());
    expectClose(onnx.data, gpu, TOL, 'onnx (merged LoRA) vs WGSL (adapter active)');
    expectClose(onnx.data, expected, TOL, 'onnx (merged LoRA) vs float64 reference with the adapter');
    lora.release();
    release();
  });
});

describe('MMDiT ONNX graph', () => {
  const config = MINI_SD35;
  const weights = async () => {
    const e = await getEngine();
    const model = MMDiT.init(e, config, 1);
    const w = await hostWeightsOf(model.weights);
    model.release();
    return w;
  };

  it('uses only standard opset-17 ops, with diffusers input names and a fixed or symbolic batch', async () => {
    const w = await weights();
    const g = mmditOnnxGraph(config, w, { tokens: 3, height: 8, width: 4 });
    const ops = new Set(g.nodes.map((n) => n.op));
    expect(g.nodes.every((n) => !n.domain)).toBe(true);
    expect([...ops].sort()).toEqual(
      ['Add', 'Concat', 'Constant', 'Conv', 'Cos', 'Div', 'Floor', 'LayerNormalization', 'MatMul', 'Mul', 'ReduceMean', 'Reshape', 'Sigmoid', 'Sin', 'Softmax', 'Split', 'Sqrt', 'Sub', 'Tanh', 'Transpose'],
    );
    // Every base weight appears once (linears transposed), plus the cropped position table for a 4x2 grid.
    expect(g.initializers!.find((i) => i.name === 'pos_embed.cropped')!.shape).toEqual([1, 8, 16]);
    expect(g.initializers!.find((i) => i.name === 'transformer_blocks.2.attn.add_q_proj.weight_t')!.shape).toEqual([16, 16]);
    expect(g.initializers!.some((i) => i.name.startsWith('transformer_blocks.2.ff_context'))).toBe(false); // context-pre-only
    expect(g.initializers!.some((i) => i.name.startsWith('transformer_blocks.1.attn2.'))).toBe(true);
    expect(g.initializers!.some((i) => i.name.startsWith('transformer_blocks.2.attn2.'))).toBe(false);
    const model = decodeModel(exportMMDiTOnnx(config, w, { batch: 3, tokens: 3, height: 8, width: 8 })) as {
      opsetImport: Array<{ domain?: string; version: number }>;
      graph: { input: Array<{ name: string; type: { tensorType: { shape: { dim: Array<{ dimValue?: number; dimParam?: string }> } } } }> };
    };
    expect(model.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(model.graph.input.map((i) => [i.name, i.type.tensorType.shape.dim.map((d) => d.dimValue ?? d.dimParam)])).toEqual([
      [ONNX_SAMPLE, [3, 4, 8, 8]],
      [ONNX_TIMESTEP, [3]],
      [ONNX_CONTEXT, [3, 3, 12]],
      [ONNX_POOLED, [3, 10]],
    ]);
  });

  it('refuses sizes the model cannot take and adapters that do not fit, naming them', async () => {
    const w = await weights();
    expect(() => mmditOnnxGraph(config, w, { tokens: 3, height: 7, width: 8 })).toThrow(/height 7 and width 8 must be multiples of patch_size 2/);
    expect(() => mmditOnnxGraph(config, w, { tokens: 3, height: 14, width: 8 })).toThrow(/larger than the position table allows \(12 a side\)/);
    const missing = new Map(w);
    missing.delete('transformer_blocks.1.attn2.norm_q.weight');
    expect(() => mmditOnnxGraph(config, missing, { tokens: 3, height: 8, width: 8 })).toThrow(/missing weight transformer_blocks\.1\.attn2\.norm_q\.weight/);
    const lora = (name: string, a: number, b: number) => ({ modules: new Map([[name, { A: new Float32Array(a), B: new Float32Array(b) }]]), scale: 1 });
    expect(() => mmditOnnxGraph(config, w, { tokens: 3, height: 8, width: 8, mergedLoras: [lora('transformer_blocks.2.ff_context.net.2', 64, 16)] })).toThrow(/targets transformer_blocks\.2\.ff_context\.net\.2, which is not a linear layer/);
    expect(() => mmditOnnxGraph(config, w, { tokens: 3, height: 8, width: 8, mergedLoras: [lora('transformer_blocks.0.attn.to_q', 32, 30)] })).toThrow(/A has 32 and B 30 values/);
    expect(() => mmditOnnxGraph(PRESETS['sd3.5-medium'].config, new Map(), { tokens: 77, height: 128, width: 128 })).toThrow(/8\.4 GiB of weights exceed ONNX's 2 GiB protobuf limit/);
  });
});
