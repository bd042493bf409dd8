// Shared model fixtures for tests.
import { PRESETS, type SD3Config } from '../../src/model/config';
import type { MMDiT } from '../../src/model/mmdit';
import { getEngine, rand } from '../tensor/harness';

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

/**
 * Randomises the layers a fresh MMDiT starts at zero (adaLN modulations, the output layer) and the q/k norm
 * weights (around 1), so every path of the forward and backward carries signal. Deterministic from `seed`.
 */
export async function randomizeSignalPaths(model: MMDiT, seed: number): Promise<void> {
  const e = await getEngine();
  let k = seed * 100;
  for (const [name, w] of model.weights) {
    if (/norm1|norm_out|proj_out|norm_q|norm_k|norm_added/.test(name)) {
      const base = /norm_q|norm_k|norm_added/.test(name) ? 1 : 0;
      e.gpu.write(w.buffer, Float32Array.from(rand(w.size, k++, base - 0.3, base + 0.3)));
    }
  }
}
