// ONNX export of the whole MMDiT denoiser forward (diffusers' SD3Transformer2DModel, as src/model/mmdit.ts runs
// it), with standard opset-17 ops only, so that onnxruntime-web runs it on its webgpu or wasm EP and any ONNX
// tool reads it. Written with src/io/onnx.ts, in the style of src/encode/onnx-export.ts.
//
//   hidden_states [B, C, H, W] --Conv(stride p)--> [B, D, gh, gw] --Reshape/Transpose--> [B, N, D] + positions
//   timestep [B] --Mul(freqs)--> range-reduce mod 2π --[Cos | Sin]--> [B, 256] --MLP--> + pooled MLP --> temb
//   encoder_hidden_states [B, T, J] --context_embedder--> [B, T, D]
//   per block: adaLN-Zero chunks (Reshape [B, n, D] + Split: each [B, 1, D], broadcast over tokens),
//     LayerNormalization (ones/zeros: no affine) ·(1+scale)+shift, q/k/v MatMuls, per-head RMS norm
//     (ReduceMean/Sqrt/Div), joint attention as Concat → MatMul → Softmax → MatMul → Split, gated residuals,
//     GELU(tanh) feed-forwards; SD3.5 dual blocks add attn2 over image tokens; the last block is context-pre-only
//   norm_out (scale, shift) --proj_out--> [B, N, p·p·C] --Reshape/Transpose (py, px, c)--> sample [B, C, H, W]
//
// Activations stay 3-D [B, tokens, D], so every linear is MatMul with the weight stored transposed ([in, out],
// `<module>.weight_t`) plus Add of the bias. LoRA adapters are merged into those weights on the host
// (W + scale·B·A, summed in float64), which is what a deployed model would carry. Integer shape tensors come
// from Constant nodes, so every initializer is float32.
import { encodeModel, type Dim, type Graph, type Initializer, type Node } from '../codec/onnx';
import type { Tensor } from '../tensor/tensor';
import { cropPosEmbed } from '../tensor/reference/patch';
import { timestepFrequencies } from '../tensor/reference/timestep';
import { innerDim, validateConfig, type SD3Config } from './config';
import type { LoraSet } from './lora';
import { isContextPreOnly, parameterCount, parameterSpecs } from './params';

/** diffusers' argument names of SD3Transformer2DModel.forward, and its output field. */
export const ONNX_SAMPLE = 'hidden_states';
export const ONNX_TIMESTEP = 'timestep';
export const ONNX_CONTEXT = 'encoder_hidden_states';
export const ONNX_POOLED = 'pooled_projections';
export const ONNX_OUTPUT = 'sample';

/** One adapter to merge: module name (`transformer_blocks.0.attn.to_q`) → A [rank, in], B [out, rank]. */
export interface MergedLora {
  modules: Map<string, { A: Float32Array; B: Float32Array }>;
  /** alpha/rank times any strength: the factor of B·A. */
  scale: number;
}

export interface MMDiTOnnxOptions {
  /** A fixed batch size, or 'dynamic' (the default): a symbolic `batch` dimension. */
  batch?: number | 'dynamic';
  /** Text tokens per caption (the context length T). */
  tokens: number;
  /** Sample height and width (pixels or latents), multiples of patch_size. */
  height: number;
  width: number;
  mergedLoras?: MergedLora[];
}

const GELU_C = Math.sqrt(2 / Math.PI);
const LN_EPS = 1e-6;

// Timestep arguments reach 1000 rad, where a GPU's cos/sin (WGSL promises 2^-11 only inside [-π, π]) is
// meaningless; ORT's webgpu EP calls them directly. So the graph reduces the argument first, Cody–Waite style:
// r = arg − q·2π with q = floor(arg/2π + 0.5) and 2π split in three parts whose products with q (|q| < 2^11)
// are exact in float32. This costs a few elementwise nodes on [B, 128] and is exact to ~1 ulp of r on the CPU.
const TWO_PI = 2 * Math.PI;
const TWO_PI_1 = 6.28125; // 8 significant bits
const TWO_PI_2 = roundToBits(TWO_PI - TWO_PI_1, 12);
const TWO_PI_3 = Math.fround(TWO_PI - TWO_PI_1 - TWO_PI_2);

/** x rounded to `bits` significant bits (so that q·x is exact for |q| < 2^(24 − bits)). */
function roundToBits(x: number, bits: number): number {
  const e = Math.floor(Math.log2(Math.abs(x)));
  const step = 2 ** (e - bits + 1);
  return Math.round(x / step) * step;
}

/** Nodes and initializers in order; value names are the module names they compute. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  private readonly names = new Set<string>();
  private readonly consts = new Map<string, string>();

  node(op: string, inputs: string[], output: string, attributes?: Node['attributes']): string {
    if (this.names.has(output)) throw new Error(`onnx export: value ${output} is defined twice`);
    this.names.add(output);
    this.nodes.push({ op, inputs, outputs: [output], name: output, attributes });
    return output;
  }

  /** A node with several outputs (Split). */
  multi(op: string, inputs: string[], outputs: string[], attributes?: Node['attributes']): string[] {
    for (const o of outputs) {
      if (this.names.has(o)) throw new Error(`onnx export: value ${o} is defined twice`);
      this.names.add(o);
    }
    this.nodes.push({ op, inputs, outputs, name: outputs[0], attributes });
    return outputs;
  }

  init(name: string, shape: number[], data: Float32Array | ArrayLike<number>): string {
    if (this.names.has(name)) throw new Error(`onnx export: initializer ${name} is defined twice`);
    this.names.add(name);
    this.initializers.push({ name, shape, data });
    return name;
  }

  /** A float scalar initializer, shared by value. */
  scalar(v: number): string {
    const key = `f${v}`;
    let name = this.consts.get(key);
    if (!name) this.consts.set(key, (name = this.init(`const.${this.consts.size}`, [], [v])));
    return name;
  }

  /** An int64 vector (shapes, split sizes) as a Constant node, shared by value. */
  ints(values: number[]): string {
    const key = `i${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) this.consts.set(key, (name = this.node('Constant', [], `ints.${this.consts.size}`, { value_ints: { ints: values } })));
    return name;
  }
}

/** The state dict with every merged adapter folded in, checked against the config. */
function mergeWeights(c: SD3Config, host: Map<string, Float32Array>, loras: readonly MergedLora[]): Map<string, Float32Array> {
  const specs = parameterSpecs(c);
  const shapes = new Map(specs.map((s) => [s.name, s.shape]));
  for (const s of specs) {
    const w = host.get(s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`exportMMDiTOnnx: missing weight ${s.name} [${s.shape.join(', ')}]`);
    if (w.length !== n) throw new Error(`exportMMDiTOnnx: ${s.name} has ${w.length} values, the config needs [${s.shape.join(', ')}] = ${n}`);
  }
  const out = new Map(host);
  loras.forEach((lora, li) => {
    if (!Number.isFinite(lora.scale)) throw new RangeError(`exportMMDiTOnnx: LoRA ${li} scale ${lora.scale} is not finite`);
    for (const [module, { A, B }] of lora.modules) {
      const shape = shapes.get(`${module}.weight`);
      if (!shape || shape.length !== 2) throw new Error(`exportMMDiTOnnx: LoRA ${li} targets ${module}, which is not a linear layer of this model`);
      const [outF, inF] = shape;
      const rank = A.length / inF;
      if (!Number.isInteger(rank) || rank < 1 || B.length !== outF * rank) {
        throw new RangeError(`exportMMDiTOnnx: LoRA ${li} ${module}: A has ${A.length} and B ${B.length} values; [rank, ${inF}] and [${outF}, rank] needed`);
      }
      const base = out.get(`${module}.weight`)!;
      const merged = new Float32Array(base.length);
      for (let o = 0; o < outF; o++) {
        for (let i = 0; i < inF; i++) {
          let d = 0;
          for (let r = 0; r < rank; r++) d += B[o * rank + r] * A[r * inF + i];
          merged[o * inF + i] = base[o * inF + i] + lora.scale * d;
        }
      }
      out.set(`${module}.weight`, merged);
    }
  });
  return out;
}

/** Builds the forward graph of one config at one sample size. */
class MMDiTExporter {
  readonly g = new GraphBuilder();
  private readonly D: number;
  private readonly H: number; // heads
  private readonly hd: number;
  private readonly shapes: Map<string, number[]>;
  private readonly lnOnes: string;
  private readonly lnZeros: string;

  constructor(
    readonly c: SD3Config,
    private readonly w: Map<string, Float32Array>,
  ) {
    this.D = innerDim(c);
    this.H = c.num_attention_heads;
    this.hd = c.attention_head_dim;
    this.shapes = new Map(parameterSpecs(c).map((s) => [s.name, s.shape]));
    // LayerNormalization requires a scale; SD3's norms have no affine weights, so every one shares these.
    this.lnOnes = this.g.init('ln.ones', [this.D], new Float32Array(this.D).fill(1));
    this.lnZeros = this.g.init('ln.zeros', [this.D], new Float32Array(this.D));
  }

  private weight(name: string): Float32Array {
    const t = this.w.get(name);
    if (!t) throw new Error(`exportMMDiTOnnx: no weight ${name}`);
    return t;
  }

  /** x [..., in] · Wᵀ + b: MatMul with the weight transposed once here, then Add. */
  lin(module: string, x: string): string {
    const [outF, inF] = this.shapes.get(`${module}.weight`)!;
    const w = this.weight(`${module}.weight`);
    const wt = new Float32Array(w.length);
    for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) wt[i * outF + o] = w[o * inF + i];
    const y = this.g.node('MatMul', [x, this.g.init(`${module}.weight_t`, [inF, outF], wt)], `${module}.matmul`);
    const bias = this.w.get(`${module}.bias`);
    return bias ? this.g.node('Add', [y, this.g.init(`${module}.bias`, [outF], bias)], module) : y;
  }

  silu(x: string, out: string): string {
    return this.g.node('Mul', [x, this.g.node('Sigmoid', [x], `${out}.sigmoid`)], out);
  }

  /** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): the engine's gelu_tanh. */
  gelu(x: string, out: string): string {
    const g = this.g;
    const x3 = g.node('Mul', [g.node('Mul', [x, x], `${out}.x2`), x], `${out}.x3`);
    const inner = g.node('Add', [x, g.node('Mul', [x3, g.scalar(0.044715)], `${out}.cx3`)], `${out}.inner`);
    const t = g.node('Tanh', [g.node('Mul', [inner, g.scalar(GELU_C)], `${out}.arg`)], `${out}.tanh`);
    const onePlus = g.node('Add', [t, g.scalar(1)], `${out}.1pt`);
    return g.node('Mul', [g.node('Mul', [x, onePlus], `${out}.xt`), g.scalar(0.5)], out);
  }

  /** [B, n·D] → n chunks [B, 1, D] (broadcast over the tokens of [B, T, D]). */
  chunks(mod: string, n: number): string[] {
    const r = this.g.node('Reshape', [mod, this.g.ints([-1, n, this.D])], `${mod}.chunks`);
    return this.g.multi('Split', [r], Array.from({ length: n }, (_, k) => `${mod}.chunk${k}`), { axis: { int: 1 } });
  }

  /** LN(x)·(1 + scale) + shift; the LayerNormalization has no affine weights (ones and zeros). */
  lnModulate(x: string, shift: string, scale: string, out: string): string {
    const g = this.g;
    const ln = g.node('LayerNormalization', [x, this.lnOnes, this.lnZeros], `${out}.ln`, { axis: { int: -1 }, epsilon: { float: LN_EPS } });
    const scaled = g.node('Mul', [ln, g.node('Add', [scale, g.scalar(1)], `${out}.1ps`)], `${out}.scaled`);
    return g.node('Add', [scaled, shift], out);
  }

  /** h + gate·x */
  gated(h: string, x: string, gate: string, out: string): string {
    return this.g.node('Add', [h, this.g.node('Mul', [x, gate], `${out}.gated`)], out);
  }

  /** A projection as heads [B, T, H, hd], with the per-head RMS norm when qk_norm is rms_norm. */
  heads(proj: string, norm: string | null, x: string, T: number): string {
    const g = this.g;
    const y = g.node('Reshape', [this.lin(proj, x), g.ints([-1, T, this.H, this.hd])], `${proj}.heads`);
    if (!norm || this.c.qk_norm !== 'rms_norm') return y;
    // diffusers' RMSNorm: x · rsqrt(mean(x²) + eps) · weight, over each head's hd channels.
    const ms = g.node('ReduceMean', [g.node('Mul', [y, y], `${norm}.sq`)], `${norm}.ms`, { axes: { ints: [-1] }, keepdims: { int: 1 } });
    const rms = g.node('Sqrt', [g.node('Add', [ms, g.scalar(1e-6)], `${norm}.mse`)], `${norm}.rms`);
    const normed = g.node('Div', [y, rms], `${norm}.normed`);
    return g.node('Mul', [normed, g.init(`${norm}.weight`, [this.hd], this.weight(`${norm}.weight`))], norm);
  }

  /** softmax(q·kᵀ/√hd)·v over heads [B, L, H, hd] → [B, L, D]. */
  attention(prefix: string, q: string, k: string, v: string, L: number): string {
    const g = this.g;
    const qt = g.node('Transpose', [q], `${prefix}.qt`, { perm: { ints: [0, 2, 1, 3] } });
    const kt = g.node('Transpose', [k], `${prefix}.kt`, { perm: { ints: [0, 2, 3, 1] } }); // [B, H, hd, L]
    const vt = g.node('Transpose', [v], `${prefix}.vt`, { perm: { ints: [0, 2, 1, 3] } });
    // Scaling q ([B, H, L, hd]) rather than the scores ([B, H, L, L]): the same value, fewer multiplies.
    const qs = g.node('Mul', [qt, g.scalar(1 / Math.sqrt(this.hd))], `${prefix}.qs`);
    const probs = g.node('Softmax', [g.node('MatMul', [qs, kt], `${prefix}.scores`)], `${prefix}.probs`, { axis: { int: -1 } });
    const o = g.node('Transpose', [g.node('MatMul', [probs, vt], `${prefix}.pv`)], `${prefix}.o`, { perm: { ints: [0, 2, 1, 3] } });
    return g.node('Reshape', [o, g.ints([-1, L, this.D])], `${prefix}.out`);
  }

  feedForward(prefix: string, x: string): string {
    return this.lin(`${prefix}.net.2`, this.gelu(this.lin(`${prefix}.net.0.proj`, x), `${prefix}.gelu`));
  }

  /** One joint block (mirrors MMDiT.block); returns the new image and context streams. */
  block(i: number, h: string, ctx: string, cond: string, N: number, T: number): [string, string] {
    const g = this.g;
    const b = `transformer_blocks.${i}`;
    const last = isContextPreOnly(this.c, i);
    const dual = this.c.dual_attention_layers.includes(i);
    const m = this.chunks(this.lin(`${b}.norm1.linear`, cond), dual ? 9 : 6);
    const nh = this.lnModulate(h, m[0], m[1], `${b}.norm1`);
    // SD35AdaLayerNormZeroX normalises the block input a second time for attn2, before any residual.
    const nh2 = dual ? this.lnModulate(h, m[6], m[7], `${b}.norm1.x2`) : null;
    const mc = this.chunks(this.lin(`${b}.norm1_context.linear`, cond), last ? 2 : 6);
    // The last block's norm1_context is a continuous adaLN ordered (scale, shift).
    const nc = last ? this.lnModulate(ctx, mc[1], mc[0], `${b}.norm1_context`) : this.lnModulate(ctx, mc[0], mc[1], `${b}.norm1_context`);

    // Joint attention: image tokens first, then context tokens, one softmax; outputs split back.
    const a = `${b}.attn`;
    const joint = (img: string, imgNorm: string | null, txt: string, txtNorm: string | null, name: string) =>
      g.node('Concat', [this.heads(`${a}.${img}`, imgNorm && `${a}.${imgNorm}`, nh, N), this.heads(`${a}.${txt}`, txtNorm && `${a}.${txtNorm}`, nc, T)], `${a}.${name}`, { axis: { int: 1 } });
    const q = joint('to_q', 'norm_q', 'add_q_proj', 'norm_added_q', 'q');
    const k = joint('to_k', 'norm_k', 'add_k_proj', 'norm_added_k', 'k');
    const v = joint('to_v', null, 'add_v_proj', null, 'v');
    const [oImg, oCtx] = g.multi('Split', [this.attention(a, q, k, v, N + T), g.ints([N, T])], [`${a}.out.img`, `${a}.out.ctx`], { axis: { int: 1 } });
    h = this.gated(h, this.lin(`${a}.to_out.0`, oImg), m[2], `${b}.h.attn`);
    if (nh2) {
      const a2 = `${b}.attn2`;
      const o2 = this.attention(a2, this.heads(`${a2}.to_q`, `${a2}.norm_q`, nh2, N), this.heads(`${a2}.to_k`, `${a2}.norm_k`, nh2, N), this.heads(`${a2}.to_v`, null, nh2, N), N);
      h = this.gated(h, this.lin(`${a2}.to_out.0`, o2), m[8], `${b}.h.attn2`);
    }
    h = this.gated(h, this.feedForward(`${b}.ff`, this.lnModulate(h, m[3], m[4], `${b}.norm2`)), m[5], `${b}.h`);
    if (!last) {
      ctx = this.gated(ctx, this.lin(`${a}.to_add_out`, oCtx), mc[2], `${b}.ctx.attn`);
      ctx = this.gated(ctx, this.feedForward(`${b}.ff_context`, this.lnModulate(ctx, mc[3], mc[4], `${b}.norm2_context`)), mc[5], `${b}.ctx`);
    }
    return [h, ctx];
  }

  /** 256-channel [cos | sin] sinusoid of timestep [B] (diffusers' Timesteps(256, flip_sin_to_cos=True)). */
  timestepEmbedding(t: string): string {
    const g = this.g;
    const freqs = g.init('time_proj.freqs', [128], Float32Array.from(timestepFrequencies(256)));
    const arg = g.node('Mul', [g.node('Reshape', [t, g.ints([-1, 1])], 'time_proj.t'), freqs], 'time_proj.arg');
    const q = g.node('Floor', [g.node('Add', [g.node('Mul', [arg, g.scalar(1 / TWO_PI)], 'time_proj.turns'), g.scalar(0.5)], 'time_proj.turns_r')], 'time_proj.q');
    let r = arg;
    [TWO_PI_1, TWO_PI_2, TWO_PI_3].forEach((part, j) => (r = g.node('Sub', [r, g.node('Mul', [q, g.scalar(part)], `time_proj.q${j}`)], `time_proj.r${j}`)));
    return g.node('Concat', [g.node('Cos', [r], 'time_proj.cos'), g.node('Sin', [r], 'time_proj.sin')], 'time_proj', { axis: { int: -1 } });
  }

  graph(o: MMDiTOnnxOptions): Graph {
    const c = this.c;
    const g = this.g;
    const p = c.patch_size;
    const D = this.D;
    const { height: Hs, width: Ws, tokens: T } = o;
    const gh = Hs / p;
    const gw = Ws / p;
    const N = gh * gw;

    // Patch embedding: the stride-p conv itself, flattened to tokens (diffusers' PatchEmbed), + cropped positions.
    const conv = g.node(
      'Conv',
      [ONNX_SAMPLE, g.init('pos_embed.proj.weight', [D, c.in_channels, p, p], this.weight('pos_embed.proj.weight')), g.init('pos_embed.proj.bias', [D], this.weight('pos_embed.proj.bias'))],
      'pos_embed.proj',
      { kernel_shape: { ints: [p, p] }, strides: { ints: [p, p] } },
    );
    const tokens = g.node('Transpose', [g.node('Reshape', [conv, g.ints([-1, D, N])], 'pos_embed.flat')], 'pos_embed.tokens', { perm: { ints: [0, 2, 1] } });
    const table = Float64Array.from(this.weight('pos_embed.pos_embed'));
    const pos = g.init('pos_embed.cropped', [1, N, D], Float32Array.from(cropPosEmbed(table, D, c.pos_embed_max_size, gh, gw)));
    let h = g.node('Add', [tokens, pos], 'pos_embed');

    // Conditioning: timestep MLP + pooled-text MLP; every modulation reads silu(temb).
    const te = 'time_text_embed.timestep_embedder';
    const tx = 'time_text_embed.text_embedder';
    const temb = g.node(
      'Add',
      [
        this.lin(`${te}.linear_2`, this.silu(this.lin(`${te}.linear_1`, this.timestepEmbedding(ONNX_TIMESTEP)), `${te}.act`)),
        this.lin(`${tx}.linear_2`, this.silu(this.lin(`${tx}.linear_1`, ONNX_POOLED), `${tx}.act`)),
      ],
      'temb',
    );
    const cond = this.silu(temb, 'cond');
    let ctx = this.lin('context_embedder', ONNX_CONTEXT);

    for (let i = 0; i < c.num_layers; i++) [h, ctx] = this.block(i, h, ctx, cond, N, T);

    // norm_out: continuous adaLN, chunks ordered (scale, shift); then proj_out and unpatchify.
    const mo = this.chunks(this.lin('norm_out.linear', cond), 2);
    const out = this.lin('proj_out', this.lnModulate(h, mo[1], mo[0], 'norm_out'));
    const C = c.out_channels;
    const grid = g.node('Reshape', [out, g.ints([-1, gh, gw, p, p, C])], 'unpatchify.grid');
    const chw = g.node('Transpose', [grid], 'unpatchify.chw', { perm: { ints: [0, 5, 1, 3, 2, 4] } }); // [B, C, gh, p, gw, p]
    g.node('Reshape', [chw, g.ints([-1, C, Hs, Ws])], ONNX_OUTPUT);

    const B: Dim = o.batch === undefined || o.batch === 'dynamic' ? 'batch' : o.batch;
    return {
      name: 'sd3_transformer',
      docString: `SOAR Studio MMDiT (SD3Transformer2DModel) forward: ${JSON.stringify({ config: c, height: Hs, width: Ws, tokens: T, loras: o.mergedLoras?.length ?? 0 })}`,
      inputs: [
        { name: ONNX_SAMPLE, shape: [B, c.in_channels, Hs, Ws] },
        { name: ONNX_TIMESTEP, shape: [B] },
        { name: ONNX_CONTEXT, shape: [B, T, c.joint_attention_dim] },
        { name: ONNX_POOLED, shape: [B, c.pooled_projection_dim] },
      ],
      outputs: [{ name: ONNX_OUTPUT, shape: [B, C, Hs, Ws] }],
      initializers: g.initializers,
      nodes: g.nodes,
    };
  }
}

function checkOptions(c: SD3Config, o: MMDiTOnnxOptions): void {
  const p = c.patch_size;
  const fail = (m: string) => {
    throw new RangeError(`exportMMDiTOnnx: ${m}`);
  };
  for (const k of ['tokens', 'height', 'width'] as const) if (!Number.isInteger(o[k]) || o[k] < 1) fail(`${k} must be a positive integer, got ${o[k]}`);
  if (o.batch !== undefined && o.batch !== 'dynamic' && !(Number.isInteger(o.batch) && o.batch >= 1)) fail(`batch must be a positive integer or 'dynamic', got ${o.batch}`);
  if (o.height % p || o.width % p) fail(`height ${o.height} and width ${o.width} must be multiples of patch_size ${p}`);
  if (o.height / p > c.pos_embed_max_size || o.width / p > c.pos_embed_max_size) {
    fail(`${o.height}x${o.width} is larger than the position table allows (${c.pos_embed_max_size * p} a side)`);
  }
}

/** The ONNX graph of the MMDiT forward with the (merged) weights as initializers. */
export function mmditOnnxGraph(config: SD3Config, hostWeights: Map<string, Float32Array>, opts: MMDiTOnnxOptions): Graph {
  validateConfig(config);
  checkOptions(config, opts);
  // One protobuf message cannot exceed 2 GiB; bigger models need ONNX external data, which src/io/onnx.ts does not
  // write (SD3.5-Medium in float32 is ~9 GB).
  const bytes = 4 * parameterCount(config);
  if (bytes > 2 ** 31 - 2 ** 26) throw new RangeError(`exportMMDiTOnnx: ${(bytes / 2 ** 30).toFixed(1)} GiB of weights exceed ONNX's 2 GiB protobuf limit (external data is not supported)`);
  return new MMDiTExporter(config, mergeWeights(config, hostWeights, opts.mergedLoras ?? [])).graph(opts);
}

/** The .onnx bytes of the MMDiT forward: inputs hidden_states, timestep (1000·sigma), encoder_hidden_states,
 *  pooled_projections; output `sample`, the velocity [B, C, H, W]. */
export function exportMMDiTOnnx(config: SD3Config, hostWeights: Map<string, Float32Array>, opts: MMDiTOnnxOptions): Uint8Array {
  return encodeModel(mmditOnnxGraph(config, hostWeights, opts));
}

/** Reads a GPU state dict back to the host (the exporter's input). */
export async function hostWeightsOf(weights: Map<string, Tensor>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of weights) out.set(name, await t.toArray());
  return out;
}

/** Reads an adapter back to the host with its effective scale (alpha/rank · strength), ready to merge. */
export async function mergedLoraOf(set: LoraSet): Promise<MergedLora> {
  const modules = new Map<string, { A: Float32Array; B: Float32Array }>();
  for (const m of set.modules.values()) modules.set(m.name, { A: await m.A.toArray(), B: await m.B.toArray() });
  return { modules, scale: set.scale };
}
