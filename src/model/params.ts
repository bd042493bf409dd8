// The state-dict layout of SD3Transformer2DModel: every parameter's diffusers name, shape and initialisation.
// Weights load by name, so this list is the contract with real checkpoints and with exported LoRAs.
import { innerDim, type SD3Config } from './config';

export type Init =
  | 'xavier' // xavier-uniform: linear weights trained from scratch
  | 'zeros' // biases; adaLN-Zero modulations and the output layer (DiT: every block starts as identity)
  | 'ones' // RMS norm weights
  | 'normal0.02' // timestep/pooled embedding MLPs, as DiT
  | 'sincos'; // the fixed 2D position table (a buffer, never trained)

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** False for buffers such as pos_embed.pos_embed. */
  trainable: boolean;
}

function linear(out: ParamSpec[], name: string, outDim: number, inDim: number, init: Init = 'xavier', bias = true): void {
  out.push({ name: `${name}.weight`, shape: [outDim, inDim], init, trainable: true });
  if (bias) out.push({ name: `${name}.bias`, shape: [outDim], init: 'zeros', trainable: true });
}

/** Does block i exist as a context-pre-only block (the last one: no context output path)? */
export function isContextPreOnly(c: SD3Config, i: number): boolean {
  return i === c.num_layers - 1;
}

export function parameterSpecs(c: SD3Config): ParamSpec[] {
  const D = innerDim(c);
  const p = c.patch_size;
  const hd = c.attention_head_dim;
  const out: ParamSpec[] = [];
  out.push({ name: 'pos_embed.proj.weight', shape: [D, c.in_channels, p, p], init: 'xavier', trainable: true });
  out.push({ name: 'pos_embed.proj.bias', shape: [D], init: 'zeros', trainable: true });
  out.push({ name: 'pos_embed.pos_embed', shape: [1, c.pos_embed_max_size ** 2, D], init: 'sincos', trainable: false });
  linear(out, 'time_text_embed.timestep_embedder.linear_1', D, 256, 'normal0.02');
  linear(out, 'time_text_embed.timestep_embedder.linear_2', D, D, 'normal0.02');
  linear(out, 'time_text_embed.text_embedder.linear_1', D, c.pooled_projection_dim, 'normal0.02');
  linear(out, 'time_text_embed.text_embedder.linear_2', D, D, 'normal0.02');
  linear(out, 'context_embedder', c.caption_projection_dim, c.joint_attention_dim);
  for (let i = 0; i < c.num_layers; i++) {
    const b = `transformer_blocks.${i}`;
    const last = isContextPreOnly(c, i);
    const dual = c.dual_attention_layers.includes(i);
    linear(out, `${b}.norm1.linear`, (dual ? 9 : 6) * D, D, 'zeros');
    linear(out, `${b}.norm1_context.linear`, (last ? 2 : 6) * D, D, 'zeros');
    for (const n of ['to_q', 'to_k', 'to_v', 'add_q_proj', 'add_k_proj', 'add_v_proj']) linear(out, `${b}.attn.${n}`, D, D);
    linear(out, `${b}.attn.to_out.0`, D, D);
    if (!last) linear(out, `${b}.attn.to_add_out`, D, D);
    if (c.qk_norm === 'rms_norm') {
      for (const n of ['norm_q', 'norm_k', 'norm_added_q', 'norm_added_k']) out.push({ name: `${b}.attn.${n}.weight`, shape: [hd], init: 'ones', trainable: true });
    }
    if (dual) {
      for (const n of ['to_q', 'to_k', 'to_v']) linear(out, `${b}.attn2.${n}`, D, D);
      linear(out, `${b}.attn2.to_out.0`, D, D);
      if (c.qk_norm === 'rms_norm') {
        for (const n of ['norm_q', 'norm_k']) out.push({ name: `${b}.attn2.${n}.weight`, shape: [hd], init: 'ones', trainable: true });
      }
    }
    linear(out, `${b}.ff.net.0.proj`, 4 * D, D);
    linear(out, `${b}.ff.net.2`, D, 4 * D);
    if (!last) {
      linear(out, `${b}.ff_context.net.0.proj`, 4 * D, D);
      linear(out, `${b}.ff_context.net.2`, D, 4 * D);
    }
  }
  linear(out, 'norm_out.linear', 2 * D, D, 'zeros');
  linear(out, 'proj_out', p * p * c.out_channels, D, 'zeros');
  return out;
}

export function parameterCount(c: SD3Config, trainableOnly = true): number {
  return parameterSpecs(c)
    .filter((s) => s.trainable || !trainableOnly)
    .reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}
