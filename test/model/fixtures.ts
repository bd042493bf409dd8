// Shared model fixtures for tests.
import { PRESETS, type SD3Config } from '../../src/model/config';

/** SD3.5-Medium's structure in miniature: RMS q/k norm, dual attention (attn2), the context-pre-only last block. */
export const MINI_SD35: SD3Config = {
  ...PRESETS['sd3.5-medium'].config,
  sample_size: 8,
  in_channels: 4,
  out_channels: 4,
  num_layers: 3,
  attention_head_dim: 8,
  num_attention_heads: 2,
  joint_attention_dim: 12,
  caption_projection_dim: 16,
  pooled_projection_dim: 10,
  pos_embed_max_size: 6,
  dual_attention_layers: [0, 1],
};
