// The text encoder on the engine's kernels: a small pre-LN transformer over token ids, trainable with the same
// autograd as the MMDiT (the built-in base pretrains both jointly), frozen and exported to ONNX afterwards.
//
//   ids [B, T] --token_embedding--> + position_embedding --> x [B, T, W]
//   L blocks:  x += out_proj(attention(q, k, v of LN1(x)))     (no mask: pads are learned tokens)
//              x += fc2(gelu(fc1(LN2(x))))
//   context = final_layer_norm(x)              [B, T, W]   the MMDiT's `context` (W = joint_attention_dim)
//   pooled  = text_projection(context[:, 0])   [B, P]      BOS's final state (P = pooled_projection_dim)
//
// Residual adds are fused into the out_proj / fc2 matmuls (their `residual` epilogue) and GELU into fc1's, so a
// block is 2 norms + 6 matmuls + 1 attention and no elementwise passes.
import type { Engine } from '../tensor/engine';
import { attention } from '../tensor/ops/attention';
import { add } from '../tensor/ops/elementwise';
import { linear } from '../tensor/ops/linear';
import { matmul } from '../tensor/ops/matmul';
import { chunk } from '../tensor/ops/modulate';
import { layerNorm } from '../tensor/ops/norm';
import type { Tensor } from '../tensor/tensor';
import { FINAL_NORM, layerPrefix, POSITION_EMBEDDING, TEXT_PROJECTION, TOKEN_EMBEDDING, textParameterSpecs, validateTextEncoderConfig, type TextEncoderConfig } from './config';
import type { CaptionEncoder, EncodedCaptions } from './cache';
import { embedding } from './embedding';
import type { Tokenizer } from './tokenizer';
import { checkTextWeights, initTextWeights, type HostWeights } from './weights';

/** Token ids, row-major [batch, length]: a TokenBatch from the tokenizer, or ids made by hand in tests. */
export interface TokenIds {
  ids: ArrayLike<number>;
  batch: number;
  length: number;
}

export interface TextEncoderOutput {
  /** [B, T, hidden_size] */
  context: Tensor;
  /** [B, projection_dim] */
  pooled: Tensor;
}

export class TextEncoderModel {
  constructor(
    readonly engine: Engine,
    readonly config: TextEncoderConfig,
    /** The state dict: CLIP-style names → tensors (frozen until setTrainable(true)). */
    readonly weights: Map<string, Tensor>,
  ) {
    validateTextEncoderConfig(config);
    checkTextWeights(config, weights);
  }

  /** Uploads host weights (from initTextWeights or loadTextEncoder). */
  static fromHost(engine: Engine, config: TextEncoderConfig, host: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): TextEncoderModel {
    checkTextWeights(config, host);
    const weights = new Map<string, Tensor>();
    for (const [name, t] of host) weights.set(name, engine.keep(engine.fromArray(t.data, t.shape, name)));
    return new TextEncoderModel(engine, config, weights);
  }

  /** Random initialisation, reproducible from the seed. */
  static init(engine: Engine, config: TextEncoderConfig, seed: number): TextEncoderModel {
    return TextEncoderModel.fromHost(engine, config, initTextWeights(config, seed));
  }

  setTrainable(trainable: boolean): void {
    for (const t of this.weights.values()) t.requiresGrad = trainable;
  }

  /** The parameters that currently require grad, in state-dict order. */
  parameters(): Tensor[] {
    return textParameterSpecs(this.config)
      .map((s) => this.w(s.name))
      .filter((t) => t.requiresGrad);
  }

  /** Reads every weight back (for safetensors and ONNX export). */
  async toHost(): Promise<HostWeights> {
    const out: HostWeights = new Map();
    for (const s of textParameterSpecs(this.config)) out.set(s.name, { shape: [...s.shape], data: await this.w(s.name).toArray() });
    return out;
  }

  release(): void {
    for (const t of this.weights.values()) t.release();
    this.weights.clear();
  }

  forward(tokens: TokenIds): TextEncoderOutput {
    const c = this.config;
    const T = c.max_position_embeddings;
    const W = c.hidden_size;
    const B = tokens.batch;
    if (tokens.length !== T) throw new RangeError(`text encoder: captions have ${tokens.length} tokens, the encoder takes ${T} (max_position_embeddings)`);
    if (tokens.ids.length !== B * T) throw new RangeError(`text encoder: ${tokens.ids.length} ids for a batch of ${B} x ${T}`);
    if (B < 1) throw new RangeError('text encoder: empty batch');
    const e = this.engine;
    return e.scope(() => {
      // [B, T, W] + [T, W]: the positions broadcast over the batch (their gradient is summed over it).
      let x = add(embedding(this.w(TOKEN_EMBEDDING), tokens.ids, [B, T]), this.w(POSITION_EMBEDDING));
      for (let i = 0; i < c.num_hidden_layers; i++) x = this.block(layerPrefix(i), x);
      const context = this.norm(FINAL_NORM, x);
      const bos = chunk(context.reshape([B, T * W]), T, 0); // position 0 of each caption: [B, W]
      const pooled = linear(bos, this.w(TEXT_PROJECTION));
      return { context, pooled };
    });
  }

  private block(p: string, x: Tensor): Tensor {
    const heads = this.config.num_attention_heads;
    const h = this.norm(`${p}.layer_norm1`, x);
    const q = this.lin(`${p}.self_attn.q_proj`, h);
    const k = this.lin(`${p}.self_attn.k_proj`, h);
    const v = this.lin(`${p}.self_attn.v_proj`, h);
    x = this.lin(`${p}.self_attn.out_proj`, attention(q, k, v, heads), x);
    const f = linear(this.norm(`${p}.layer_norm2`, x), this.w(`${p}.mlp.fc1.weight`), this.w(`${p}.mlp.fc1.bias`), { activation: 'gelu_tanh' });
    return this.lin(`${p}.mlp.fc2`, f, x);
  }

  /** x·Wᵀ + b (+ residual, fused into the matmul's epilogue). */
  private lin(module: string, x: Tensor, residual?: Tensor): Tensor {
    const weight = this.w(`${module}.weight`);
    const bias = this.w(`${module}.bias`);
    if (!residual) return linear(x, weight, bias);
    return matmul(x, weight, { transB: true, bias, residual, name: module });
  }

  private norm(module: string, x: Tensor): Tensor {
    return layerNorm(x, this.w(`${module}.weight`), this.w(`${module}.bias`), this.config.layer_norm_eps);
  }

  private w(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`text encoder: no weight ${name}`);
    return t;
  }
}

/**
 * The engine model as a CaptionEncoder for the embedding cache (no grad; one readback per batch). `id` must
 * change whenever the weights do (e.g. the model id plus a training step), or the cache would mix encoders.
 */
export function engineCaptionEncoder(model: TextEncoderModel, tokenizer: Tokenizer, id: string): CaptionEncoder {
  const c = model.config;
  if (tokenizer.vocabSize !== c.vocab_size || tokenizer.maxLength !== c.max_position_embeddings) {
    throw new Error(`engineCaptionEncoder: the tokenizer (${tokenizer.vocabSize} ids, ${tokenizer.maxLength} tokens) does not fit the encoder (${c.vocab_size}, ${c.max_position_embeddings})`);
  }
  return {
    id,
    tokens: c.max_position_embeddings,
    width: c.hidden_size,
    pooledWidth: c.projection_dim,
    async encode(captions: readonly string[]): Promise<EncodedCaptions> {
      if (captions.length === 0) return { context: new Float32Array(0), pooled: new Float32Array(0), truncated: [] };
      const tokens = tokenizer.encodeBatch(captions);
      const e = model.engine;
      const out = e.noGrad(() => model.forward(tokens));
      try {
        return { context: await out.context.toArray(), pooled: await out.pooled.toArray(), truncated: tokens.truncated };
      } finally {
        out.context.release();
        out.pooled.release();
      }
    },
  };
}
