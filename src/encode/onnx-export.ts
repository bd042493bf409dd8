// ONNX export of the text encoder's forward, with standard opset-17 ops only (Gather, Gemm, MatMul, Add, Mul,
// LayerNormalization, Softmax, Reshape, Transpose, Tanh, Constant), so that onnxruntime-web runs it on its
// webgpu or wasm EP and any ONNX tool can read it. Written with src/io/onnx.ts.
//
//   input_ids int64 [batch, T] --Gather(token table)--> [batch, T, W] + positions [T, W] --Reshape--> [batch·T, W]
//   per layer (2-D activations, so every linear is one Gemm with the PyTorch [out, in] weight and transB = 1):
//     LayerNormalization -> q, k, v Gemms -> Reshape [batch, T, H, Dh] -> Transpose -> MatMul·scale -> Softmax ->
//     MatMul -> Transpose -> Reshape [batch·T, W] -> out_proj Gemm -> Add;  LayerNormalization -> fc1 Gemm ->
//     GELU (tanh form, from Mul/Add/Tanh: opset 17 has no Gelu) -> fc2 Gemm -> Add
//   final LayerNormalization -> Reshape -> context [batch, T, W];  Gather(index 0, axis 1) -> Gemm -> pooled [batch, P]
//
// Integer shape tensors come from Constant nodes (value_ints / value_int), so every initializer is float32.
import { encodeModel, type Graph, type Initializer, type Node } from '../codec/onnx';
import { FINAL_NORM, headDim, layerPrefix, POSITION_EMBEDDING, TEXT_PROJECTION, TOKEN_EMBEDDING, type TextEncoderConfig } from './config';
import { checkTextWeights, type HostWeights } from './weights';

export const ONNX_INPUT = 'input_ids';
export const ONNX_CONTEXT = 'context';
export const ONNX_POOLED = 'pooled';

const GELU_C = Math.sqrt(2 / Math.PI);

/** Builds the graph: nodes are appended in order; value names are the module names they compute. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  private scalars = new Map<number, string>();

  constructor(private readonly w: HostWeights) {}

  node(op: string, inputs: string[], output: string, attributes?: Node['attributes']): string {
    this.nodes.push({ op, inputs, outputs: [output], name: output, attributes });
    return output;
  }

  /** A state-dict tensor as an initializer, under its own name. */
  weight(name: string): string {
    const t = this.w.get(name)!;
    if (!this.initializers.some((i) => i.name === name)) this.initializers.push({ name, shape: t.shape, data: t.data });
    return name;
  }

  /** A float scalar initializer (shared by value). */
  scalar(v: number): string {
    let name = this.scalars.get(v);
    if (!name) {
      name = `const.${this.scalars.size}`;
      this.scalars.set(v, name);
      this.initializers.push({ name, shape: [], data: [v] });
    }
    return name;
  }

  /** An int64 vector (shapes) as a Constant node. */
  ints(name: string, values: number[]): string {
    return this.node('Constant', [], name, { value_ints: { ints: values } });
  }

  gemm(x: string, module: string, out: string, bias = true): string {
    const inputs = [x, this.weight(`${module}.weight`), ...(bias ? [this.weight(`${module}.bias`)] : [])];
    return this.node('Gemm', inputs, out, { transB: { int: 1 } });
  }

  layerNorm(x: string, module: string, eps: number): string {
    return this.node('LayerNormalization', [x, this.weight(`${module}.weight`), this.weight(`${module}.bias`)], module, {
      axis: { int: -1 },
      epsilon: { float: eps },
    });
  }

  /** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): the engine's gelu_tanh. */
  gelu(x: string, out: string): string {
    const x3 = this.node('Mul', [this.node('Mul', [x, x], `${out}.x2`), x], `${out}.x3`);
    const inner = this.node('Add', [x, this.node('Mul', [x3, this.scalar(0.044715)], `${out}.cx3`)], `${out}.inner`);
    const t = this.node('Tanh', [this.node('Mul', [inner, this.scalar(GELU_C)], `${out}.arg`)], `${out}.tanh`);
    const onePlus = this.node('Add', [t, this.scalar(1)], `${out}.1pt`);
    return this.node('Mul', [this.node('Mul', [x, onePlus], `${out}.xt`), this.scalar(0.5)], out);
  }
}

/** The ONNX graph of the encoder with `weights` baked in as initializers; batch is a symbolic dimension. */
export function textEncoderGraph(c: TextEncoderConfig, weights: HostWeights): Graph {
  checkTextWeights(c, weights);
  const T = c.max_position_embeddings;
  const W = c.hidden_size;
  const H = c.num_attention_heads;
  const Dh = headDim(c);
  const eps = c.layer_norm_eps;
  const g = new GraphBuilder(weights);

  const rowsShape = g.ints('shape.rows', [-1, W]); // [batch·T, W]
  const headsShape = g.ints('shape.heads', [-1, T, H, Dh]); // [batch, T, H, Dh]
  const seqShape = g.ints('shape.seq', [-1, T, W]); // [batch, T, W]
  const tok = g.node('Gather', [g.weight(TOKEN_EMBEDDING), ONNX_INPUT], 'embeddings.token', { axis: { int: 0 } });
  const emb = g.node('Add', [tok, g.weight(POSITION_EMBEDDING)], 'embeddings');
  let x = g.node('Reshape', [emb, rowsShape], 'embeddings.rows');

  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = layerPrefix(i);
    const h = g.layerNorm(x, `${p}.layer_norm1`, eps);
    // q, v -> [batch, H, T, Dh]; k -> [batch, H, Dh, T] so that q·k is one MatMul.
    const heads = (n: string, perm: number[]) =>
      g.node('Transpose', [g.node('Reshape', [g.gemm(h, `${p}.self_attn.${n}`, `${p}.self_attn.${n}`), headsShape], `${p}.self_attn.${n}.heads`)], `${p}.self_attn.${n}.t`, {
        perm: { ints: perm },
      });
    const q = heads('q_proj', [0, 2, 1, 3]);
    const k = heads('k_proj', [0, 2, 3, 1]);
    const v = heads('v_proj', [0, 2, 1, 3]);
    const scores = g.node('Mul', [g.node('MatMul', [q, k], `${p}.self_attn.qk`), g.scalar(1 / Math.sqrt(Dh))], `${p}.self_attn.scores`);
    const probs = g.node('Softmax', [scores], `${p}.self_attn.probs`, { axis: { int: -1 } });
    const o = g.node('Transpose', [g.node('MatMul', [probs, v], `${p}.self_attn.pv`)], `${p}.self_attn.o`, { perm: { ints: [0, 2, 1, 3] } });
    const attn = g.node('Reshape', [o, rowsShape], `${p}.self_attn.rows`);
    x = g.node('Add', [x, g.gemm(attn, `${p}.self_attn.out_proj`, `${p}.self_attn.out_proj`)], `${p}.attn_residual`);
    const h2 = g.layerNorm(x, `${p}.layer_norm2`, eps);
    const f = g.gelu(g.gemm(h2, `${p}.mlp.fc1`, `${p}.mlp.fc1`), `${p}.mlp.gelu`);
    x = g.node('Add', [x, g.gemm(f, `${p}.mlp.fc2`, `${p}.mlp.fc2`)], `${p}.mlp_residual`);
  }

  const context = g.node('Reshape', [g.layerNorm(x, FINAL_NORM, eps), seqShape], ONNX_CONTEXT);
  const bos = g.node('Gather', [context, g.node('Constant', [], 'index.bos', { value_int: { int: 0 } })], 'pooled.bos', { axis: { int: 1 } });
  g.gemm(bos, TEXT_PROJECTION.replace(/\.weight$/, ''), ONNX_POOLED, false);

  return {
    name: 'soar_text_encoder',
    docString: `SOAR Studio text encoder: ${JSON.stringify(c)}`,
    inputs: [{ name: ONNX_INPUT, shape: ['batch', T], dtype: 'int64' }],
    outputs: [
      { name: ONNX_CONTEXT, shape: ['batch', T, W] },
      { name: ONNX_POOLED, shape: ['batch', c.projection_dim] },
    ],
    initializers: g.initializers,
    nodes: g.nodes,
  };
}

/** The .onnx bytes of the encoder (what ships in public/ next to the base model). */
export function exportTextEncoderOnnx(c: TextEncoderConfig, weights: HostWeights): Uint8Array {
  return encodeModel(textEncoderGraph(c, weights));
}
