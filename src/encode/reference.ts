// float64 references: the embedding op (spec of shaders/embedding.wgsl) and the whole text encoder forward
// (spec of text-encoder.ts and of the ONNX export), composed from the engine's reference ops so that the GPU
// forward, the ONNX graph and this file are three independent writings of one model.
import { geluTanh } from '../tensor/reference/activation';
import { attentionForward } from '../tensor/reference/attention';
import { linearRef } from '../tensor/reference/matmul';
import { normForward } from '../tensor/reference/norm';
import { FINAL_NORM, headDim, layerPrefix, POSITION_EMBEDDING, TEXT_PROJECTION, TOKEN_EMBEDDING, type TextEncoderConfig } from './config';

/** out[n, j] = table[ids[n], j]: [N, W]. */
export function embeddingRef(table: Float64Array, width: number, ids: ArrayLike<number>): Float64Array {
  const out = new Float64Array(ids.length * width);
  for (let n = 0; n < ids.length; n++) out.set(table.subarray(ids[n] * width, (ids[n] + 1) * width), n * width);
  return out;
}

/** Gradient of Σ g·embedding(table, ids) w.r.t. the table: each position's row of g added to its id's row. */
export function embeddingBackwardRef(g: Float64Array, rows: number, width: number, ids: ArrayLike<number>): Float64Array {
  const d = new Float64Array(rows * width);
  for (let n = 0; n < ids.length; n++) for (let j = 0; j < width; j++) d[ids[n] * width + j] += g[n * width + j];
  return d;
}

export type RefWeights = ReadonlyMap<string, Float64Array>;

function get(w: RefWeights, name: string): Float64Array {
  const t = w.get(name);
  if (!t) throw new Error(`textEncoderRef: missing weight ${name}`);
  return t;
}

function layerNormRef(x: Float64Array, rows: number, d: number, w: RefWeights, name: string, eps: number): Float64Array {
  return normForward(x, { rows, d, center: true, eps, weight: get(w, `${name}.weight`), bias: get(w, `${name}.bias`) }).y;
}

function linRef(x: Float64Array, rows: number, w: RefWeights, name: string, bias = true): Float64Array {
  const weight = get(w, `${name}.weight`);
  const inF = x.length / rows;
  return linearRef(x, [rows, inF], weight, [weight.length / inF, inF], bias ? get(w, `${name}.bias`) : null).y;
}

function addInto(a: Float64Array, b: Float64Array): Float64Array {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return a;
}

/**
 * The encoder forward on token ids [batch, T] (T = max_position_embeddings):
 *   x = tok[ids] + pos;  per layer: x += out_proj(attn(LN1(x)));  x += fc2(gelu(fc1(LN2(x))));
 *   context = LN_final(x) [B, T, W];  pooled = context[:, 0] · text_projectionᵀ [B, P].
 */
export function textEncoderRef(c: TextEncoderConfig, w: RefWeights, ids: ArrayLike<number>, batch: number): { context: Float64Array; pooled: Float64Array } {
  const T = c.max_position_embeddings;
  const W = c.hidden_size;
  const rows = batch * T;
  if (ids.length !== rows) throw new Error(`textEncoderRef: ${ids.length} ids for batch ${batch} x ${T} tokens`);
  const eps = c.layer_norm_eps;
  const x = embeddingRef(get(w, TOKEN_EMBEDDING), W, ids);
  const pos = get(w, POSITION_EMBEDDING);
  for (let r = 0; r < rows; r++) for (let j = 0; j < W; j++) x[r * W + j] += pos[(r % T) * W + j];
  const dims = { batch, heads: c.num_attention_heads, tq: T, tk: T, dh: headDim(c) };

  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = layerPrefix(i);
    const h = layerNormRef(x, rows, W, w, `${p}.layer_norm1`, eps);
    const q = linRef(h, rows, w, `${p}.self_attn.q_proj`);
    const k = linRef(h, rows, w, `${p}.self_attn.k_proj`);
    const v = linRef(h, rows, w, `${p}.self_attn.v_proj`);
    addInto(x, linRef(attentionForward(q, k, v, dims).out, rows, w, `${p}.self_attn.out_proj`));
    const h2 = layerNormRef(x, rows, W, w, `${p}.layer_norm2`, eps);
    const a = linRef(h2, rows, w, `${p}.mlp.fc1`).map(geluTanh);
    addInto(x, linRef(a, rows, w, `${p}.mlp.fc2`));
  }

  const context = layerNormRef(x, rows, W, w, FINAL_NORM, eps);
  const bos = new Float64Array(batch * W);
  for (let b = 0; b < batch; b++) bos.set(context.subarray(b * T * W, b * T * W + W), b * W);
  return { context, pooled: linRef(bos, batch, w, TEXT_PROJECTION.replace(/\.weight$/, ''), false) };
}
