// SD3Transformer2DModel configuration: field names exactly as diffusers' config.json, so a real SD3/SD3.5
// config loads as is. Presets: `tiny` (tests), `studio-s` (the built-in base), `sd3.5-medium` (real weights).
import { isObject, show } from '../codec/json';

export interface SD3Config {
  sample_size: number; // latent (here: pixel) grid side the positions are laid out for
  patch_size: number;
  in_channels: number;
  out_channels: number;
  num_layers: number;
  attention_head_dim: number;
  num_attention_heads: number;
  joint_attention_dim: number; // width of the text encoder's per-token states
  caption_projection_dim: number; // context_embedder output; equals the inner dim in every SD3 release
  pooled_projection_dim: number; // width of the pooled text vector
  pos_embed_max_size: number;
  /** Blocks with the SD3.5 second self-attention over image tokens (attn2, 9 modulation chunks). */
  dual_attention_layers: number[];
  qk_norm: 'rms_norm' | null;
}

/** Our additions that diffusers' config does not carry. */
export interface ModelMeta {
  id: string;
  /** Resolution of the data in pixels (or latents) fed to the model. */
  resolution: number;
  /** Sigma shift of the noise schedule this model was trained with (SD3: 3.0). */
  shift: number;
  /** Text tokens the encoder produces per caption (context length). */
  max_text_tokens: number;
}

export interface ModelPreset {
  config: SD3Config;
  meta: ModelMeta;
}

export const PRESETS: Record<string, ModelPreset> = {
  // 2 layers, width 64, 4x4 tokens from 8x8 RGB: a forward+backward in milliseconds on SwiftShader.
  tiny: {
    config: {
      sample_size: 8,
      patch_size: 2,
      in_channels: 3,
      out_channels: 3,
      num_layers: 2,
      attention_head_dim: 16,
      num_attention_heads: 4,
      joint_attention_dim: 32,
      caption_projection_dim: 64,
      pooled_projection_dim: 32,
      pos_embed_max_size: 8,
      dual_attention_layers: [],
      qk_norm: null,
    },
    meta: { id: 'tiny', resolution: 8, shift: 1, max_text_tokens: 8 },
  },
  // The built-in base: 32x32 RGB in pixel space, patch 4 -> 64 image tokens (+16 text tokens), width 64 (2 heads
  // of 32), 4 blocks: 45 MFLOP per image forward. Sized so that it pretrains from scratch on a CPU rasteriser
  // (SwiftShader: ~4 images/s with the text encoder in the step) within an hour, and a SOAR step on a mid-range
  // GPU takes milliseconds. Patch 4 keeps the patch embedding lossless (48 values -> width 64); patch 8 would
  // squeeze 192 values into 64 and the model could not see its own noise.
  'studio-s': {
    config: {
      sample_size: 32,
      patch_size: 4,
      in_channels: 3,
      out_channels: 3,
      num_layers: 4,
      attention_head_dim: 32,
      num_attention_heads: 2,
      joint_attention_dim: 64,
      caption_projection_dim: 64,
      pooled_projection_dim: 64,
      pos_embed_max_size: 8,
      dual_attention_layers: [],
      qk_norm: 'rms_norm',
    },
    meta: { id: 'studio-s', resolution: 32, shift: 1, max_text_tokens: 16 },
  },
  // stabilityai/stable-diffusion-3.5-medium transformer/config.json.
  'sd3.5-medium': {
    config: {
      sample_size: 128,
      patch_size: 2,
      in_channels: 16,
      out_channels: 16,
      num_layers: 24,
      attention_head_dim: 64,
      num_attention_heads: 24,
      joint_attention_dim: 4096,
      caption_projection_dim: 1536,
      pooled_projection_dim: 2048,
      pos_embed_max_size: 384,
      dual_attention_layers: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      qk_norm: 'rms_norm',
    },
    meta: { id: 'sd3.5-medium', resolution: 128, shift: 3, max_text_tokens: 77 },
  },
};

export function innerDim(c: SD3Config): number {
  return c.num_attention_heads * c.attention_head_dim;
}

const CONFIG_SIZES = [
  'sample_size',
  'patch_size',
  'in_channels',
  'out_channels',
  'num_layers',
  'attention_head_dim',
  'num_attention_heads',
  'joint_attention_dim',
  'caption_projection_dim',
  'pooled_projection_dim',
  'pos_embed_max_size',
] as const;

/** SD3.5 Large has 38 blocks; the bound keeps a hostile config from listing millions of parameters. */
export const MAX_LAYERS = 1024;

/**
 * Checks a config for the invariants the forward relies on; the message names the field. Configs come from
 * files (model.json) too, so every field's type is checked, not assumed.
 */
export function validateConfig(c: SD3Config): void {
  const fail = (m: string): never => {
    throw new Error(`invalid SD3 config: ${m}`);
  };
  if (!isObject(c)) fail(`not an object (got ${show(c)})`);
  for (const k of CONFIG_SIZES) {
    const v: unknown = c[k];
    if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(`${k} must be a positive integer, got ${show(v)}`);
  }
  if (c.num_layers > MAX_LAYERS) fail(`num_layers ${c.num_layers} is over ${MAX_LAYERS}`);
  const dual: unknown = c.dual_attention_layers;
  if (!Array.isArray(dual) || !dual.every((l) => Number.isSafeInteger(l))) fail(`dual_attention_layers must be a list of block indices, got ${show(dual)}`);
  if (c.qk_norm !== 'rms_norm' && c.qk_norm !== null) fail(`qk_norm must be "rms_norm" or null, got ${show(c.qk_norm)}`);
  const inner = innerDim(c);
  if (c.caption_projection_dim !== inner) fail(`caption_projection_dim ${c.caption_projection_dim} must equal num_attention_heads·attention_head_dim = ${inner}`);
  if (c.sample_size % c.patch_size) fail(`sample_size ${c.sample_size} is not a multiple of patch_size ${c.patch_size}`);
  if (c.sample_size / c.patch_size > c.pos_embed_max_size) fail(`pos_embed_max_size ${c.pos_embed_max_size} is smaller than the ${c.sample_size / c.patch_size}-patch grid`);
  if (inner % 4) fail(`inner dim ${inner} must be a multiple of 4 (2D sin-cos positions)`);
  for (const l of c.dual_attention_layers) if (l < 0 || l >= c.num_layers) fail(`dual_attention_layers has ${l}, outside 0..${c.num_layers - 1}`);
  if (new Set(c.dual_attention_layers).size !== c.dual_attention_layers.length) fail('dual_attention_layers lists a block twice');
}
