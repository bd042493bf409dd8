// The text encoder on the engine: forward vs the float64 reference (composed from the reference ops), parameter
// gradients vs finite differences of that reference, the ONNX export run by onnxruntime-web (wasm) vs the WGSL
// forward, a safetensors round trip, and the preset-sized encoder feeding the embedding cache.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { builtinTokenizer } from '../../src/encode/builtin-vocab';
import { EmbeddingCache } from '../../src/encode/cache';
import { textEncoderConfigFor, textParameterSpecs, TOKEN_EMBEDDING, type TextEncoderConfig } from '../../src/encode/config';
import { exportTextEncoderOnnx } from '../../src/encode/onnx-export';
import { OnnxTextEncoder } from '../../src/encode/onnx-runner';
import { textEncoderRef } from '../../src/encode/reference';
import { engineCaptionEncoder, TextEncoderModel } from '../../src/encode/text-encoder';
import { BOS_ID, EOS_ID, PAD_ID } from '../../src/encode/tokenizer';
import { loadTextEncoder, saveTextEncoder, type HostWeights } from '../../src/encode/weights';
import { PRESETS } from '../../src/model/config';
import { backward } from '../../src/tensor/autograd';
import { concat } from '../../src/tensor/ops/shape';
import { dot, expectClose, getEngine, rand } from '../tensor/harness';

ort.env.wasm.numThreads = 1; // tiny models: no worker pool

// Awkward on purpose: W = 12 with 3 heads of 4, an MLP of 20, P = 10, 5 tokens, batch 3.
const C: TextEncoderConfig = {
  vocab_size: 17,
  max_position_embeddings: 5,
  hidden_size: 12,
  intermediate_size: 20,
  num_hidden_layers: 2,
  num_attention_heads: 3,
  projection_dim: 10,
  layer_norm_eps: 1e-5,
};
const B = 3;
// BOS, content, EOS, PAD rows as the tokenizer makes them; id 16 and the ids 4, 7, 12 are never used.
const IDS = [BOS_ID, 5, 9, EOS_ID, PAD_ID, BOS_ID, EOS_ID, PAD_ID, PAD_ID, PAD_ID, BOS_ID, 3, 15, 9, EOS_ID];
const TOKENS = { ids: IDS, batch: B, length: C.max_position_embeddings };

/** Random weights of every parameter (norm weights near 1), float32 so that GPU and reference share them. */
function randomWeights(c: TextEncoderConfig): HostWeights {
  const w: HostWeights = new Map();
  textParameterSpecs(c).forEach((s, k) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const scale = s.init === 'xavier' ? 1.5 / Math.sqrt(s.shape[1]) : s.init === 'zeros' ? 0.1 : s.init === 'ones' ? 0.3 : 1;
    const data = Float32Array.from(rand(n, 100 + k, -scale, scale), (v) => (s.init === 'ones' ? 1 + v : v));
    w.set(s.name, { shape: s.shape, data });
  });
  return w;
}

function toF64(w: HostWeights): Map<string, Float64Array> {
  return new Map([...w].map(([k, t]) => [k, Float64Array.from(t.data)]));
}

const HOST = randomWeights(C);
const REF_W = toF64(HOST);
const REF = textEncoderRef(C, REF_W, IDS, B);
const FORWARD = { atol: 2e-5, rtol: 2e-4 };

async function gpuForward(model: TextEncoderModel): Promise<{ context: Float32Array; pooled: Float32Array }> {
  const e = model.engine;
  const out = e.noGrad(() => model.forward(TOKENS));
  const res = { context: await out.context.toArray(), pooled: await out.pooled.toArray() };
  out.context.release();
  out.pooled.release();
  return res;
}

describe('text encoder', () => {
  it('forward matches the float64 reference (context [B, T, W], pooled [B, P])', async () => {
    const e = await getEngine();
    const model = TextEncoderModel.fromHost(e, C, HOST);
    const out = e.noGrad(() => model.forward(TOKENS));
    expect(out.context.shape).toEqual([B, 5, 12]);
    expect(out.pooled.shape).toEqual([B, 10]);
    expectClose(await out.context.toArray(), REF.context, FORWARD, 'context');
    expectClose(await out.pooled.toArray(), REF.pooled, FORWARD, 'pooled');
    out.context.release();
    out.pooled.release();
    model.release();
  });

  it('parameter gradients match finite differences of the float64 reference', async () => {
    const e = await getEngine();
    const model = TextEncoderModel.fromHost(e, C, HOST);
    model.setTrainable(true);
    const T = C.max_position_embeddings;
    const wc = rand(B * T * C.hidden_size, 7);
    const wp = rand(B * C.projection_dim, 8);
    const seed = new Float32Array(B * (T * C.hidden_size + C.projection_dim));
    for (let b = 0; b < B; b++) {
      seed.set(wc.subarray(b * T * C.hidden_size, (b + 1) * T * C.hidden_size), b * (T * C.hidden_size + C.projection_dim));
      seed.set(wp.subarray(b * C.projection_dim, (b + 1) * C.projection_dim), b * (T * C.hidden_size + C.projection_dim) + T * C.hidden_size);
    }
    e.scope(() => {
      const { context, pooled } = model.forward(TOKENS);
      // One backward for both outputs: loss = Σ wc·context + Σ wp·pooled, as [B, T·W + P] rows.
      const both = concat([context.reshape([B, T * C.hidden_size]), pooled], 1);
      backward(both, e.fromArray(seed, both.shape, 'seed'));
    });
    const loss = (w: Map<string, Float64Array>) => {
      const r = textEncoderRef(C, w, IDS, B);
      return dot(r.context, wc) + dot(r.pooled, wp);
    };
    // Every parameter: two elements (seeded), plus chosen token rows: used ones and an unused one (zero).
    const eps = 1e-6;
    const checked: string[] = [];
    for (const [k, s] of textParameterSpecs(C).entries()) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const picks = s.name === TOKEN_EMBEDDING ? [5 * 12 + 3, 9 * 12 + 11, 1 * 12 + 0, 16 * 12 + 4] : [...new Set(Array.from(rand(2, 300 + k, 0, n), Math.floor))];
      const grad = await model.weights.get(s.name)!.grad!.toArray();
      for (const i of picks) {
        const w = new Map(REF_W);
        const p = Float64Array.from(REF_W.get(s.name)!);
        w.set(s.name, p);
        p[i] += eps;
        const up = loss(w);
        p[i] -= 2 * eps;
        const down = loss(w);
        const numeric = (up - down) / (2 * eps);
        expectClose([grad[i]], [numeric], { atol: 2e-4, rtol: 2e-3 }, `d loss / d ${s.name}[${i}]`);
        checked.push(s.name);
      }
    }
    expect(new Set(checked).size).toBe(textParameterSpecs(C).length);
    expect((await model.weights.get(TOKEN_EMBEDDING)!.grad!.toArray()).subarray(16 * 12, 17 * 12).every((v) => v === 0)).toBe(true);
    model.release();
  });

  it('the ONNX export, run by onnxruntime-web (wasm), equals the WGSL forward', async () => {
    const e = await getEngine();
    const model = TextEncoderModel.fromHost(e, C, HOST);
    const gpu = await gpuForward(model);
    const bytes = exportTextEncoderOnnx(C, await model.toHost());
    const runner = await OnnxTextEncoder.create(ort, bytes, { executionProviders: ['wasm'] });
    try {
      expect(runner.providers).toEqual(['wasm']);
      const onnx = await runner.run(TOKENS);
      // Two fp32 implementations with different summation orders: a few ulps of the O(1) activations.
      expectClose(onnx.context, gpu.context, FORWARD, 'onnx context vs WGSL');
      expectClose(onnx.pooled, gpu.pooled, FORWARD, 'onnx pooled vs WGSL');
      expectClose(onnx.context, REF.context, FORWARD, 'onnx context vs float64');
      // A different batch size through the symbolic batch dimension.
      const one = await runner.run({ ids: IDS.slice(10), batch: 1, length: 5 });
      expectClose(one.pooled, gpu.pooled.subarray(20, 30), FORWARD, 'onnx pooled, batch 1');
    } finally {
      await runner.release();
      model.release();
    }
  });

  it('round-trips through safetensors with its config and vocabulary', async () => {
    const e = await getEngine();
    const tok = builtinTokenizer(8);
    const c = textEncoderConfigFor(PRESETS.tiny, tok.vocabSize);
    const model = TextEncoderModel.init(e, c, 3);
    const file = saveTextEncoder(c, tok.toJSON(), await model.toHost());
    const loaded = loadTextEncoder(file);
    expect(loaded.config).toEqual(c);
    expect(loaded.vocab).toEqual(tok.toJSON());
    const again = TextEncoderModel.fromHost(e, loaded.config, loaded.weights);
    const host = await model.toHost();
    for (const [name, t] of await again.toHost()) expect(Array.from(t.data)).toEqual(Array.from(host.get(name)!.data));
    expect(() => saveTextEncoder(c, builtinTokenizer(16).toJSON(), host)).toThrow(/max_length 16 differs/);
    model.release();
    again.release();
  });

  it('the tiny preset encoder feeds the cache: one encode per distinct caption, MMDiT-shaped outputs', async () => {
    const e = await getEngine();
    const tok = builtinTokenizer(PRESETS.tiny.meta.max_text_tokens);
    const c = textEncoderConfigFor(PRESETS.tiny, tok.vocabSize);
    const model = TextEncoderModel.init(e, c, 1);
    const base = engineCaptionEncoder(model, tok, `tiny-test:${tok.fingerprint()}`);
    const calls: string[][] = [];
    const cache = new EmbeddingCache({ ...base, encode: (caps) => (calls.push([...caps]), base.encode(caps)) });
    const captions = ['a red circle', 'two blue squares', 'a red circle', 'a 🦄 riding a unicycle over the rainbow bridge'];
    const s = await cache.stacked(captions);
    const uncond = await cache.unconditional();
    expect(calls).toEqual([['a red circle', 'two blue squares', 'a 🦄 riding a unicycle over the rainbow bridge'], ['']]);
    expect([s.context.length, s.pooled.length]).toEqual([4 * 8 * 32, 4 * 32]); // [B, T, joint_attention_dim], [B, pooled_projection_dim]
    expect(s.truncated).toEqual([false, false, false, true]);
    expect(Array.from(s.context.subarray(0, 256))).toEqual(Array.from(s.context.subarray(512, 768)));
    expect(s.context.every(Number.isFinite) && s.pooled.every(Number.isFinite)).toBe(true);
    expect(uncond.context.length).toBe(8 * 32);
    expect(Array.from(uncond.pooled)).not.toEqual(Array.from(cache.get('a red circle')!.pooled));
    model.release();
  });
});
