// The SD3 MMDiT (diffusers' SD3Transformer2DModel) on the engine's kernels. Parameter names are diffusers'
// names, so `weights` is a state dict. Velocity convention (architecture.md): the model predicts z1 − z0 at
// timestep 1000·sigma.
//
//   x [B, C, H, W] --patchify+proj--> h [B, N, D] (+ 2D sin-cos positions)
//   timestep [B] --sinusoid 256--MLP--> + pooled [B, P] --MLP--> temb [B, D]
//   context [B, T, J] --context_embedder--> c [B, T, D]
//   blocks: joint attention over [h; c] with adaLN-Zero modulation from silu(temb)
//   norm_out (continuous adaLN) --proj_out--> unpatchify --> v [B, C, H, W]
import type { Engine } from '../tensor/engine';
import { fmtShape, type Tensor } from '../tensor/tensor';
import { attention } from '../tensor/ops/attention';
import { add, gelu, silu } from '../tensor/ops/elementwise';
import { linearLora, type LoraAdapter } from '../tensor/ops/linear';
import { chunk, gatedResidual } from '../tensor/ops/modulate';
import { layerNormModulate, rmsNorm } from '../tensor/ops/norm';
import { patchify, unpatchify } from '../tensor/ops/patch';
import { concat, gatherStrided, split } from '../tensor/ops/shape';
import { timestepEmbedding } from '../tensor/ops/timestep';
import { sincos2d } from '../tensor/reference/patch';
import { innerDim, validateConfig, type SD3Config } from './config';
import type { LoraSet } from './lora';
import { isContextPreOnly, parameterSpecs, type ParamSpec } from './params';
import { SeededRandom, initialValues } from './random';

export interface ForwardInputs {
  /** Noisy sample [B, C, H, W]. */
  x: Tensor;
  /** 1000·sigma per sample [B]. */
  timestep: Tensor;
  /** Text encoder per-token states [B, T, joint_attention_dim]. */
  context: Tensor;
  /** Pooled text vector [B, pooled_projection_dim]. */
  pooled: Tensor;
}

/** The weights adaLN-Zero initialises at zero (DiT): modulations, the final norm's modulation, the output. */
const ZERO_INIT_LAYER = /norm1|norm_out|proj_out/;

export class MMDiT {
  readonly inner: number;
  /** Default adapters of forward() when a caller passes none, applied in order (several at once for previews). */
  adapters: LoraSet[] = [];
  /** The adapters of the forward being recorded (set for its duration only). */
  private active: readonly LoraSet[] = [];
  private posCache = new Map<string, Tensor>();

  constructor(
    readonly engine: Engine,
    readonly config: SD3Config,
    /** The state dict: diffusers names → tensors (frozen unless the caller marks them trainable). */
    readonly weights: Map<string, Tensor>,
  ) {
    validateConfig(config);
    this.inner = innerDim(config);
    const missing = parameterSpecs(config).filter((s) => !weights.has(s.name));
    if (missing.length) throw new Error(`MMDiT: missing weights ${missing.slice(0, 5).map((s) => s.name).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  }

  /**
   * Random initialisation by each parameter's spec. By default adaLN-Zero and the output layer start at zero
   * (DiT: every block starts as the identity, the model predicts 0), which is right for pretraining but leaves
   * a LoRA on an untrained base with exactly zero gradient; `adaLNZero: false` draws those weights from
   * N(0, 0.02) instead, so a stand-in base has signal on every path.
   */
  static init(engine: Engine, config: SD3Config, seed: number, opts: { adaLNZero?: boolean } = {}): MMDiT {
    validateConfig(config);
    const rng = new SeededRandom(seed);
    const weights = new Map<string, Tensor>();
    for (const spec of parameterSpecs(config)) {
      const zeroed = spec.init === 'zeros' && spec.name.endsWith('.weight');
      const effective = opts.adaLNZero === false && zeroed ? { ...spec, init: 'normal0.02' as const } : spec;
      weights.set(spec.name, engine.keep(engine.fromArray(initialWeight(effective, config, rng), spec.shape, spec.name)));
    }
    return new MMDiT(engine, config, weights);
  }

  /** Marks the base parameters trainable (pretraining from scratch) or frozen (LoRA post-training). */
  setTrainable(trainable: boolean): void {
    const trainableNames = new Set(parameterSpecs(this.config).filter((s) => s.trainable).map((s) => s.name));
    for (const [name, t] of this.weights) t.requiresGrad = trainable && trainableNames.has(name);
  }

  parameters(): Tensor[] {
    return [...this.weights.values()].filter((t) => t.requiresGrad);
  }

  release(): void {
    for (const t of this.weights.values()) t.release();
    for (const t of this.posCache.values()) t.release();
    this.weights.clear();
    this.posCache.clear();
  }

  /**
   * Overwrites the layers adaLN-Zero starts at zero (the blocks' modulations, norm_out, proj_out) with
   * `values(size, i)` for the i-th of them, in weight order; returns how many. A fresh model predicts exactly 0
   * and gives a LoRA no gradient; tests and benchmarks use this so every path carries signal.
   */
  writeZeroInitLayers(values: (size: number, index: number) => ArrayLike<number>): number {
    let i = 0;
    for (const [name, w] of this.weights) if (ZERO_INIT_LAYER.test(name)) this.engine.gpu.write(w.buffer, Float32Array.from(values(w.size, i++)));
    return i;
  }

  /** The velocity for `inp`, with `adapters` (default: the model's `adapters`) on every linear they target. */
  forward(inp: ForwardInputs, adapters: readonly LoraSet[] = this.adapters): Tensor {
    const before = this.active;
    this.active = adapters;
    try {
      return this.forwardWithActive(inp);
    } finally {
      this.active = before;
    }
  }

  private forwardWithActive(inp: ForwardInputs): Tensor {
    const c = this.config;
    const { x, timestep, context, pooled } = inp;
    this.checkInputs(inp);
    const [, C, H, W] = x.shape;
    const p = c.patch_size;
    const D = this.inner;
    const nImg = (H / p) * (W / p);

    // Patch embedding: the stride-p conv as a linear over (c, py, px)-ordered patches.
    const patches = patchify(x, p);
    const projW = this.w('pos_embed.proj.weight').reshape([D, C * p * p]);
    let h = add(linearLora(patches, projW, this.w('pos_embed.proj.bias'), []), this.positions(H / p, W / p));

    // Conditioning: timestep MLP + pooled-text MLP; every modulation reads silu(temb).
    const tproj = timestepEmbedding(timestep, 256);
    const temb = add(
      this.lin('time_text_embed.timestep_embedder.linear_2', silu(this.lin('time_text_embed.timestep_embedder.linear_1', tproj))),
      this.lin('time_text_embed.text_embedder.linear_2', silu(this.lin('time_text_embed.text_embedder.linear_1', pooled))),
    );
    const cond = silu(temb);
    let ctx = this.lin('context_embedder', context);

    for (let i = 0; i < c.num_layers; i++) [h, ctx] = this.block(i, h, ctx, cond, nImg);

    // norm_out: continuous adaLN, chunks ordered (scale, shift).
    const mod = this.lin('norm_out.linear', cond);
    h = layerNormModulate(h, chunk(mod, 2, 1), chunk(mod, 2, 0));
    const out = this.lin('proj_out', h); // [B, N, p·p·C], channels (py, px, c)
    return unpatchify(out, p, c.out_channels, H, W);
  }

  private block(i: number, h: Tensor, ctx: Tensor, cond: Tensor, nImg: number): [Tensor, Tensor] {
    const c = this.config;
    const b = `transformer_blocks.${i}`;
    const last = isContextPreOnly(c, i);
    const dual = c.dual_attention_layers.includes(i);
    const nChunks = dual ? 9 : 6;

    // adaLN-Zero: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp (+ shift/scale/gate_msa2).
    const mod = this.lin(`${b}.norm1.linear`, cond);
    const m = (k: number) => chunk(mod, nChunks, k);
    const nh = layerNormModulate(h, m(0), m(1));
    // SD35AdaLayerNormZeroX normalises the block input a second time for attn2, before any residual.
    const nh2 = dual ? layerNormModulate(h, m(6), m(7)) : null;
    const modC = this.lin(`${b}.norm1_context.linear`, cond);
    const mc = (k: number) => chunk(modC, last ? 2 : 6, k);
    // The last block's norm1_context is a continuous adaLN ordered (scale, shift).
    const nc = last ? layerNormModulate(ctx, mc(1), mc(0)) : layerNormModulate(ctx, mc(0), mc(1));

    const [attnImg, attnCtx] = this.jointAttention(b, nh, nc, nImg);
    h = gatedResidual(h, this.lin(`${b}.attn.to_out.0`, attnImg), m(2));
    if (nh2) h = gatedResidual(h, this.selfAttention(`${b}.attn2`, nh2), m(8));
    h = gatedResidual(h, this.feedForward(`${b}.ff`, layerNormModulate(h, m(3), m(4))), m(5));

    if (!last) {
      ctx = gatedResidual(ctx, this.lin(`${b}.attn.to_add_out`, attnCtx), mc(2));
      ctx = gatedResidual(ctx, this.feedForward(`${b}.ff_context`, layerNormModulate(ctx, mc(3), mc(4))), mc(5));
    }
    return [h, ctx];
  }

  /** Joint attention: image tokens first, then context tokens, one softmax; outputs split back. */
  private jointAttention(b: string, nh: Tensor, nc: Tensor, nImg: number): [Tensor, Tensor] {
    const q = concat([this.qk(`${b}.attn.to_q`, `${b}.attn.norm_q`, nh), this.qk(`${b}.attn.add_q_proj`, `${b}.attn.norm_added_q`, nc)], 1);
    const k = concat([this.qk(`${b}.attn.to_k`, `${b}.attn.norm_k`, nh), this.qk(`${b}.attn.add_k_proj`, `${b}.attn.norm_added_k`, nc)], 1);
    const v = concat([this.lin(`${b}.attn.to_v`, nh), this.lin(`${b}.attn.add_v_proj`, nc)], 1);
    const o = attention(q, k, v, this.config.num_attention_heads);
    const [img, ctx] = split(o, [nImg, nc.shape[1]], 1);
    return [img, ctx];
  }

  /** SD3.5's second attention: self-attention over image tokens only. */
  private selfAttention(prefix: string, x: Tensor): Tensor {
    const q = this.qk(`${prefix}.to_q`, `${prefix}.norm_q`, x);
    const k = this.qk(`${prefix}.to_k`, `${prefix}.norm_k`, x);
    const v = this.lin(`${prefix}.to_v`, x);
    return this.lin(`${prefix}.to_out.0`, attention(q, k, v, this.config.num_attention_heads));
  }

  /** A q or k projection with the optional per-head RMS norm (SD3.5 qk_norm = "rms_norm"). */
  private qk(proj: string, norm: string, x: Tensor): Tensor {
    const y = this.lin(proj, x);
    if (this.config.qk_norm !== 'rms_norm') return y;
    const [B, T, D] = y.shape;
    const hd = this.config.attention_head_dim;
    return rmsNorm(y.reshape([B, T, D / hd, hd]), this.w(`${norm}.weight`), 1e-6).reshape([B, T, D]);
  }

  /** FeedForward: net.0.proj → GELU (tanh) → net.2. */
  private feedForward(prefix: string, x: Tensor): Tensor {
    return this.lin(`${prefix}.net.2`, gelu(this.lin(`${prefix}.net.0.proj`, x)));
  }

  /** A linear layer by module name, with every active adapter that targets it. */
  lin(module: string, x: Tensor): Tensor {
    const adapters: LoraAdapter[] = [];
    for (const set of this.active) {
      const a = set.adapterFor(module);
      if (a) adapters.push(a);
    }
    return linearLora(x, this.w(`${module}.weight`), this.weights.get(`${module}.bias`) ?? null, adapters);
  }

  private w(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`MMDiT: no weight ${name}`);
    return t;
  }

  /** The 2D sin-cos table cropped to the grid, cached per grid size ([1, N, D], broadcast over the batch). */
  private positions(gh: number, gw: number): Tensor {
    const key = `${gh}x${gw}`;
    let t = this.posCache.get(key);
    if (!t) {
      // diffusers' cropped_pos_embed: the centre gh x gw window of the M x M table.
      const M = this.config.pos_embed_max_size;
      const D = this.inner;
      const top = Math.floor((M - gh) / 2);
      const left = Math.floor((M - gw) / 2);
      const table = this.w('pos_embed.pos_embed');
      t = this.engine.noGrad(() => gatherStrided(table, [gh, gw, D], [M * D, D, 1], (top * M + left) * D, 1, 'pos_embed.cropped'));
      this.engine.keep(t);
      this.posCache.set(key, t);
    }
    return t.reshape([1, gh * gw, this.inner]);
  }

  private checkInputs({ x, timestep, context, pooled }: ForwardInputs): void {
    const c = this.config;
    const fail = (what: string) => {
      throw new RangeError(`MMDiT.forward: ${what}`);
    };
    if (x.shape.length !== 4) fail(`x ${fmtShape(x.shape)} must be [batch, ${c.in_channels}, height, width]`);
    const [B, C, H, W] = x.shape;
    if (C !== c.in_channels) fail(`x ${fmtShape(x.shape)} has ${C} channels, the model takes ${c.in_channels} (in_channels)`);
    if (H % c.patch_size || W % c.patch_size) fail(`x ${fmtShape(x.shape)}: height and width must be multiples of patch_size ${c.patch_size}`);
    if (H / c.patch_size > c.pos_embed_max_size || W / c.patch_size > c.pos_embed_max_size) {
      fail(`x ${fmtShape(x.shape)} is larger than the position table allows (${c.pos_embed_max_size * c.patch_size} pixels a side)`);
    }
    if (timestep.shape.length !== 1 || timestep.shape[0] !== B) fail(`timestep ${fmtShape(timestep.shape)} must be [${B}]`);
    if (context.shape.length !== 3 || context.shape[0] !== B || context.shape[2] !== c.joint_attention_dim) {
      fail(`context ${fmtShape(context.shape)} must be [${B}, tokens, ${c.joint_attention_dim}] (joint_attention_dim)`);
    }
    if (pooled.shape.length !== 2 || pooled.shape[0] !== B || pooled.shape[1] !== c.pooled_projection_dim) {
      fail(`pooled ${fmtShape(pooled.shape)} must be [${B}, ${c.pooled_projection_dim}] (pooled_projection_dim)`);
    }
  }
}

function initialWeight(spec: ParamSpec, c: SD3Config, rng: SeededRandom): Float32Array {
  if (spec.init !== 'sincos') return initialValues(spec.init, spec.shape, rng);
  return Float32Array.from(sincos2d(innerDim(c), c.pos_embed_max_size, c.sample_size / c.patch_size));
}
