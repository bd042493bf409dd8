// The text encoder's configuration and state-dict layout. Field and parameter names follow Hugging Face's
// CLIPTextConfig / CLIPTextModelWithProjection (`text_model.encoder.layers.0.self_attn.q_proj.weight`, ...), so
// the weights read naturally to anyone who knows CLIP and tools that list CLIP modules understand them.
//
// Differences from CLIP, on purpose: no causal mask (pads are learned tokens, and the pooled token BOS sits at
// position 0, so it must see the whole caption), pooled = projection of the BOS state (CLIP uses EOS), GELU with
// the tanh approximation (the engine's fused activation) instead of quick_gelu.
import type { ModelPreset } from '../model/config';
import { isObject, show } from '../codec/json';

export interface TextEncoderConfig {
  /** Token embedding rows: the tokenizer's vocabSize (specials + words + hash buckets). */
  vocab_size: number;
  /** Tokens per caption (the model meta's max_text_tokens); the position table has this many rows. */
  max_position_embeddings: number;
  /** Width of the per-token states: the MMDiT's joint_attention_dim. */
  hidden_size: number;
  /** MLP width (CLIP: 4·hidden_size). */
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** Width of the pooled vector: the MMDiT's pooled_projection_dim. */
  projection_dim: number;
  layer_norm_eps: number;
}

/** Depth and heads per MMDiT preset; the widths come from the preset itself. */
const SIZES: Record<string, { layers: number; heads: number }> = {
  // Width 32: 2 heads of 16, 2 layers. Milliseconds on SwiftShader.
  tiny: { layers: 2, heads: 2 },
  // Width 64: 2 heads of 32, 2 layers. 16 tokens cost ~3 MFLOP per caption, noise beside the MMDiT; two
  // layers are enough to bind colour and size words to the right shape in captions of at most 13 tokens.
  'studio-s': { layers: 2, heads: 2 },
};

/**
 * The encoder that feeds a preset's MMDiT: hidden_size = joint_attention_dim, projection_dim =
 * pooled_projection_dim, max_position_embeddings = max_text_tokens. Real SD3 releases use CLIP/T5 encoders
 * instead, which this project does not reimplement: those presets throw.
 */
export function textEncoderConfigFor(preset: ModelPreset, vocabSize: number): TextEncoderConfig {
  const size = SIZES[preset.meta.id];
  if (!size) {
    throw new Error(`text encoder: no built-in text encoder size for preset '${preset.meta.id}' (known: ${Object.keys(SIZES).join(', ')}); SD3 releases use their own CLIP/T5 encoders`);
  }
  const c: TextEncoderConfig = {
    vocab_size: vocabSize,
    max_position_embeddings: preset.meta.max_text_tokens,
    hidden_size: preset.config.joint_attention_dim,
    intermediate_size: 4 * preset.config.joint_attention_dim,
    num_hidden_layers: size.layers,
    num_attention_heads: size.heads,
    projection_dim: preset.config.pooled_projection_dim,
    layer_norm_eps: 1e-5, // CLIP's
  };
  validateTextEncoderConfig(c);
  return c;
}

const CONFIG_SIZES = ['vocab_size', 'max_position_embeddings', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'projection_dim'] as const;

/** CLIP-L has 12 layers; the bound keeps a config from a file from listing millions of parameters. */
export const MAX_TEXT_LAYERS = 1024;

/** Configs also come from files (a text encoder's metadata): every field's type is checked, not assumed. */
export function validateTextEncoderConfig(c: TextEncoderConfig): void {
  const fail = (m: string): never => {
    throw new Error(`invalid text encoder config: ${m}`);
  };
  if (!isObject(c)) fail(`not an object (got ${show(c)})`);
  for (const k of CONFIG_SIZES) {
    const v: unknown = c[k];
    if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(`${k} must be a positive integer, got ${show(v)}`);
  }
  if (!(typeof c.layer_norm_eps === 'number' && c.layer_norm_eps > 0 && Number.isFinite(c.layer_norm_eps))) fail(`layer_norm_eps must be a positive number, got ${show(c.layer_norm_eps)}`);
  if (c.num_hidden_layers > MAX_TEXT_LAYERS) fail(`num_hidden_layers ${c.num_hidden_layers} is over ${MAX_TEXT_LAYERS}`);
  if (c.max_position_embeddings < 2) fail(`max_position_embeddings ${c.max_position_embeddings} leaves no room for BOS and EOS`);
  if (c.hidden_size % c.num_attention_heads) fail(`hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
}

export function headDim(c: TextEncoderConfig): number {
  return c.hidden_size / c.num_attention_heads;
}

// ------------------------------------------------------------------------------------------------ state dict

export type TextInit = 'xavier' | 'zeros' | 'ones' | 'normal0.02' | 'normal0.01';

export interface TextParamSpec {
  name: string;
  shape: number[];
  init: TextInit;
}

export const TOKEN_EMBEDDING = 'text_model.embeddings.token_embedding.weight';
export const POSITION_EMBEDDING = 'text_model.embeddings.position_embedding.weight';
export const FINAL_NORM = 'text_model.final_layer_norm';
export const TEXT_PROJECTION = 'text_projection.weight';

export function layerPrefix(i: number): string {
  return `text_model.encoder.layers.${i}`;
}

/** Every parameter, in forward order. All are trainable (the built-in base pretrains the encoder jointly). */
export function textParameterSpecs(c: TextEncoderConfig): TextParamSpec[] {
  const W = c.hidden_size;
  const out: TextParamSpec[] = [];
  const linear = (name: string, o: number, i: number) => {
    out.push({ name: `${name}.weight`, shape: [o, i], init: 'xavier' });
    out.push({ name: `${name}.bias`, shape: [o], init: 'zeros' });
  };
  const norm = (name: string) => {
    out.push({ name: `${name}.weight`, shape: [W], init: 'ones' });
    out.push({ name: `${name}.bias`, shape: [W], init: 'zeros' });
  };
  // CLIP initialises token rows with std 0.02 and positions with 0.01.
  out.push({ name: TOKEN_EMBEDDING, shape: [c.vocab_size, W], init: 'normal0.02' });
  out.push({ name: POSITION_EMBEDDING, shape: [c.max_position_embeddings, W], init: 'normal0.01' });
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = layerPrefix(i);
    norm(`${p}.layer_norm1`);
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${p}.self_attn.${n}`, W, W);
    norm(`${p}.layer_norm2`);
    linear(`${p}.mlp.fc1`, c.intermediate_size, W);
    linear(`${p}.mlp.fc2`, W, c.intermediate_size);
  }
  norm(FINAL_NORM);
  out.push({ name: TEXT_PROJECTION, shape: [c.projection_dim, W], init: 'xavier' }); // CLIP: no bias
  return out;
}

export function textParameterCount(c: TextEncoderConfig): number {
  return textParameterSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}
