// float64 reference of the whole MMDiT forward, composed from the kernels' float64 references. It is the
// spec the GPU model is tested against (forward, and backward by finite differences of this function).
// Deliberately plain: no tape, no GPU, arrays in row-major [batch, tokens, channels].
import { geluTanh, silu } from '../tensor/reference/activation';
import { attentionForward } from '../tensor/reference/attention';
import { linearLoraRef, type LoraRefAdapter } from '../tensor/reference/matmul';
import { normForward } from '../tensor/reference/norm';
import { cropPosEmbed, patchifyRef, unpatchifyRef } from '../tensor/reference/patch';
import { timestepEmbeddingRef } from '../tensor/reference/timestep';
import { innerDim, type SD3Config } from './config';
import { isContextPreOnly } from './params';

export type RefWeights = Map<string, Float64Array>;
/** Module name → adapters (already scaled) applied on that linear. */
export type RefAdapters = Map<string, LoraRefAdapter[]>;

export interface RefInputs {
  x: Float64Array; // [B, C, H, W]
  B: number;
  H: number;
  W: number;
  timestep: Float64Array; // [B]
  context: Float64Array; // [B, T, J]
  T: number;
  pooled: Float64Array; // [B, P]
}

const map = (a: Float64Array, f: (v: number) => number) => a.map(f);

function addInto(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}

/** Chunk k of n along the last dim of [B, n·D]. */
function chunkRef(emb: Float64Array, B: number, D: number, n: number, k: number): Float64Array {
  const out = new Float64Array(B * D);
  for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) out[b * D + d] = emb[b * n * D + k * D + d];
  return out;
}

/** LN(x)·(1 + scale) + shift over the last dim, scale/shift per sample. */
function lnModulate(x: Float64Array, B: number, T: number, D: number, shift: Float64Array, scale: Float64Array): Float64Array {
  const { y } = normForward(x, { rows: B * T, d: D, center: true, eps: 1e-6 });
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) {
    const i = (b * T + t) * D + d;
    y[i] = y[i] * (1 + scale[b * D + d]) + shift[b * D + d];
  }
  return y;
}

function gatedAdd(h: Float64Array, x: Float64Array, g: Float64Array, B: number, T: number, D: number): Float64Array {
  const y = Float64Array.from(h);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) y[(b * T + t) * D + d] += g[b * D + d] * x[(b * T + t) * D + d];
  return y;
}

function concatTokens(a: Float64Array, Ta: number, b: Float64Array, Tb: number, B: number, D: number): Float64Array {
  const out = new Float64Array(B * (Ta + Tb) * D);
  for (let n = 0; n < B; n++) {
    out.set(a.subarray(n * Ta * D, (n + 1) * Ta * D), n * (Ta + Tb) * D);
    out.set(b.subarray(n * Tb * D, (n + 1) * Tb * D), (n * (Ta + Tb) + Ta) * D);
  }
  return out;
}

function splitTokens(x: Float64Array, Ta: number, Tb: number, B: number, D: number): [Float64Array, Float64Array] {
  const a = new Float64Array(B * Ta * D);
  const b = new Float64Array(B * Tb * D);
  for (let n = 0; n < B; n++) {
    a.set(x.subarray(n * (Ta + Tb) * D, (n * (Ta + Tb) + Ta) * D), n * Ta * D);
    b.set(x.subarray((n * (Ta + Tb) + Ta) * D, (n + 1) * (Ta + Tb) * D), n * Tb * D);
  }
  return [a, b];
}

export function mmditForwardRef(c: SD3Config, w: RefWeights, inp: RefInputs, adapters: RefAdapters = new Map()): Float64Array {
  const D = innerDim(c);
  const p = c.patch_size;
  const hd = c.attention_head_dim;
  const heads = c.num_attention_heads;
  const { B, H, W, T } = inp;
  const gh = H / p;
  const gw = W / p;
  const N = gh * gw;
  const get = (name: string) => {
    const t = w.get(name);
    if (!t) throw new Error(`reference: no weight ${name}`);
    return t;
  };
  const lin = (module: string, x: Float64Array, inF: number): Float64Array => {
    const wt = get(`${module}.weight`);
    const outF = wt.length / inF;
    return linearLoraRef(x, [x.length / inF, inF], wt, [outF, inF], w.get(`${module}.bias`) ?? null, adapters.get(module) ?? []).y;
  };
  const qk = (proj: string, norm: string, x: Float64Array, rows: number): Float64Array => {
    const y = lin(proj, x, D);
    if (c.qk_norm !== 'rms_norm') return y;
    return normForward(y, { rows: (rows * D) / hd, d: hd, center: false, eps: 1e-6, weight: get(`${norm}.weight`) }).y;
  };
  const attend = (q: Float64Array, k: Float64Array, v: Float64Array, t: number) =>
    attentionForward(q, k, v, { batch: B, heads, dh: hd, tq: t, tk: t }).out;
  const ff = (prefix: string, x: Float64Array) => lin(`${prefix}.net.2`, map(lin(`${prefix}.net.0.proj`, x, D), geluTanh), 4 * D);

  // Patch embedding + positions.
  const patches = patchifyRef(inp.x, B, c.in_channels, H, W, p, 'c,py,px');
  let h = lin('pos_embed.proj', patches, c.in_channels * p * p);
  const pos = cropPosEmbed(get('pos_embed.pos_embed'), D, c.pos_embed_max_size, gh, gw);
  h = h.map((v, i) => v + pos[i % (N * D)]);

  // Conditioning.
  const tproj = timestepEmbeddingRef(inp.timestep, 256);
  const temb = addInto(
    lin('time_text_embed.timestep_embedder.linear_2', map(lin('time_text_embed.timestep_embedder.linear_1', tproj, 256), silu), D),
    lin('time_text_embed.text_embedder.linear_2', map(lin('time_text_embed.text_embedder.linear_1', inp.pooled, c.pooled_projection_dim), silu), D),
  );
  const cond = map(temb, silu);
  let ctx = lin('context_embedder', inp.context, c.joint_attention_dim);

  for (let i = 0; i < c.num_layers; i++) {
    const b = `transformer_blocks.${i}`;
    const last = isContextPreOnly(c, i);
    const dual = c.dual_attention_layers.includes(i);
    const n = dual ? 9 : 6;
    const mod = lin(`${b}.norm1.linear`, cond, D);
    const m = (k: number) => chunkRef(mod, B, D, n, k);
    const modC = lin(`${b}.norm1_context.linear`, cond, D);
    const mc = (k: number) => chunkRef(modC, B, D, last ? 2 : 6, k);
    const nh = lnModulate(h, B, N, D, m(0), m(1));
    const nh2 = dual ? lnModulate(h, B, N, D, m(6), m(7)) : null;
    const nc = last ? lnModulate(ctx, B, T, D, mc(1), mc(0)) : lnModulate(ctx, B, T, D, mc(0), mc(1));

    const q = concatTokens(qk(`${b}.attn.to_q`, `${b}.attn.norm_q`, nh, B * N), N, qk(`${b}.attn.add_q_proj`, `${b}.attn.norm_added_q`, nc, B * T), T, B, D);
    const k = concatTokens(qk(`${b}.attn.to_k`, `${b}.attn.norm_k`, nh, B * N), N, qk(`${b}.attn.add_k_proj`, `${b}.attn.norm_added_k`, nc, B * T), T, B, D);
    const v = concatTokens(lin(`${b}.attn.to_v`, nh, D), N, lin(`${b}.attn.add_v_proj`, nc, D), T, B, D);
    const [oImg, oCtx] = splitTokens(attend(q, k, v, N + T), N, T, B, D);
    h = gatedAdd(h, lin(`${b}.attn.to_out.0`, oImg, D), m(2), B, N, D);
    if (nh2) {
      const a = `${b}.attn2`;
      const o2 = attend(qk(`${a}.to_q`, `${a}.norm_q`, nh2, B * N), qk(`${a}.to_k`, `${a}.norm_k`, nh2, B * N), lin(`${a}.to_v`, nh2, D), N);
      h = gatedAdd(h, lin(`${a}.to_out.0`, o2, D), m(8), B, N, D);
    }
    h = gatedAdd(h, ff(`${b}.ff`, lnModulate(h, B, N, D, m(3), m(4))), m(5), B, N, D);
    if (!last) {
      ctx = gatedAdd(ctx, lin(`${b}.attn.to_add_out`, oCtx, D), mc(2), B, T, D);
      ctx = gatedAdd(ctx, ff(`${b}.ff_context`, lnModulate(ctx, B, T, D, mc(3), mc(4))), mc(5), B, T, D);
    }
  }
  const modOut = lin('norm_out.linear', cond, D);
  h = lnModulate(h, B, N, D, chunkRef(modOut, B, D, 2, 1), chunkRef(modOut, B, D, 2, 0));
  const out = lin('proj_out', h, D);
  return unpatchifyRef(out, B, c.out_channels, H, W, p, 'py,px,c');
}
