// Analytic FLOP count of the MMDiT (src/model/mmdit.ts) forward and of a training pass (forward + backward) as
// THIS engine executes it, and of SFT/SOAR training steps.
//
// How: `trace` walks the forward exactly as MMDiT.forward composes its ops, carrying for every activation one
// bit — does it require grad? — the same rule as autograd.needsGrad (an op is recorded when any input requires
// grad). The backward then costs what the ops' recorded closures execute:
//   linear (ops/matmul.ts): dX = G·W when x requires grad, dW = Gᵀ·X when W does (full training); a frozen base
//     weight (LoRA) gets no dW GEMM, and a layer whose input carries no grad either (the first layers, and every
//     adaLN modulation, which reads only the timestep/pooled path) records nothing at all.
//   LoRA adapter (ops/linear.ts: h = x·Aᵀ, y = scale·h·Bᵀ + y0): dB and dh (always), dA (always), dx via A when x
//     requires grad.
//   attention (ops/attention.ts, FlashAttention-2): forward 4·B·H·Tq·Tk·Dh; backward rowdot 2·B·H·Tq·Dh, the dq
//     kernel 6·B·H·Tq·Tk·Dh when q requires grad (S and dP recomputed, dQ), the dkdv kernel 8·B·H·Tq·Tk·Dh when
//     k or v does (S, dP, dV, dK). `attentionRecompute` is the second S and dP of the two kernels, beyond
//     FlashAttention-2's five products (attentionFlops' convention: total − recompute = "model FLOPs").
// Matmul and attention FLOPs are exact multiply-adds ×2 (test/model/flops.test.ts checks them against the
// kernels' own dispatches). "other" (norms, activations, gated residuals, matmul epilogues, the softmax) is an
// estimate from per-element costs (OTHER below), the backward of such an op counted at 2× its forward.
// Not counted: data movement (patchify, concat, split, chunk, copies), the loss, the optimizer.
import { innerDim, validateConfig, type SD3Config } from './config';
import { loraModuleNames } from './lora';
import { isContextPreOnly, parameterSpecs } from './params';
import type { TrainConfig } from '../train/config';

export interface FlopBreakdown {
  /** Base-weight GEMMs (every linear layer, the patch-embedding conv as its GEMM). */
  linear: number;
  /** LoRA adapter GEMMs. */
  lora: number;
  /** Attention products (QKᵀ, PV and their backward). */
  attention: number;
  /** Elementwise work: norms, activations, modulations, epilogues, softmax (an estimate). */
  other: number;
  total: number;
}

export interface ForwardShape {
  batch: number;
  height: number;
  width: number;
  /** Text tokens (context length). */
  tokens: number;
}

/** What is trained: nothing (inference), every base weight, or LoRA adapters (active) on a frozen base. */
export type TrainMode = 'none' | 'full' | { rank: number; targets: readonly string[] };

export interface PassFlops {
  forward: FlopBreakdown;
  /** Zero for mode 'none'. */
  backward: FlopBreakdown;
  /** Backward split: dX GEMMs of base linears, dW GEMMs (full only), and dW GEMMs LoRA training skips. */
  linearDx: number;
  linearDw: number;
  skippedDw: number;
  /** Attention backward FLOPs of the second S = QKᵀ and dP (in backward.attention; beyond FlashAttention-2's 2.5×). */
  attentionRecompute: number;
  total: number;
}

/** Per-element forward FLOPs of the elementwise ops (transcendentals count 1). */
export const OTHER = {
  lnModulate: 10, // LayerNorm: mean, centred square, normalise (~8) + ·(1+scale) + shift
  rmsNorm: 4, // square-sum, scale by rsqrt, weight
  silu: 4, // exp, add, divide, multiply
  gelu: 9, // gelu_tanh: x², x³, ·c, +x, ·√(2/π), tanh, +1, ·x, ·½
  gatedResidual: 2,
  add: 1,
  timestep: 2, // argument product and sin/cos
  bias: 1, // matmul epilogue, per output element
  loraEpilogue: 2, // scale·acc + residual, per output element
  softmax: 5, // per score: max, subtract, exp, sum, divide
} as const;

const zero = (): FlopBreakdown => ({ linear: 0, lora: 0, attention: 0, other: 0, total: 0 });

/** A traced activation: all the trace needs is whether it requires grad. */
interface Act {
  grad: boolean;
}

class Tracer {
  readonly fwd = zero();
  readonly bwd = zero();
  linearDx = 0;
  linearDw = 0;
  skippedDw = 0;
  attentionRecompute = 0;
  private readonly trainBase: boolean;
  /** LoRA training: the base is frozen, so full training's dW GEMMs are skipped. */
  private readonly frozenBase: boolean;
  private readonly loraRank = new Map<string, number>();

  constructor(
    readonly c: SD3Config,
    mode: TrainMode,
    /** False: a forward under noGrad (adapters still run, nothing is recorded). */
    private readonly withGrad: boolean,
  ) {
    this.trainBase = withGrad && mode === 'full';
    this.frozenBase = withGrad && typeof mode === 'object';
    if (typeof mode === 'object') for (const m of loraModuleNames(c, mode.targets)) this.loraRank.set(m.name, mode.rank);
  }

  /** An elementwise op of `n` outputs at `perElement` FLOPs; its backward (2×) runs when any input has grad. */
  elementwise(inputs: Act[], n: number, perElement: number): Act {
    const grad = inputs.some((a) => a.grad);
    this.fwd.other += n * perElement;
    if (grad) this.bwd.other += 2 * n * perElement;
    return { grad };
  }

  /** linearLora(x, W, b, adapters) over `rows` rows (ops/linear.ts, ops/matmul.ts). */
  linear(module: string, x: Act, rows: number, inF: number, outF: number, bias = true): Act {
    const mnk = 2 * rows * inF * outF;
    this.fwd.linear += mnk;
    if (bias) this.fwd.other += rows * outF * OTHER.bias;
    // The base GEMM is recorded when x or W (or the bias) requires grad.
    const baseGrad = x.grad || this.trainBase;
    if (x.grad) {
      this.bwd.linear += mnk;
      this.linearDx += mnk;
    }
    if (this.trainBase) {
      this.bwd.linear += mnk;
      this.linearDw += mnk;
      if (bias) this.bwd.other += rows * outF; // the bias gradient's column sum
    } else if (this.frozenBase) {
      this.skippedDw += mnk;
    }
    const r = this.loraRank.get(module);
    if (r === undefined) return { grad: baseGrad };
    const down = 2 * rows * inF * r; // h = x·Aᵀ
    const up = 2 * rows * r * outF; // scale·h·Bᵀ + y0
    this.fwd.lora += down + up;
    this.fwd.other += rows * outF * OTHER.loraEpilogue;
    if (!this.withGrad) return { grad: false };
    this.bwd.lora += 2 * up + down + (x.grad ? down : 0); // dh, dB; dA; dx through A
    return { grad: true };
  }

  /** Fused attention over q [B, Tq, H·Dh], k/v [B, Tk, H·Dh] (ops/attention.ts). */
  attention(q: Act, kv: Act, B: number, tq: number, tk: number): Act {
    const H = this.c.num_attention_heads;
    const dh = this.c.attention_head_dim;
    const unit = B * H * tq * tk * dh;
    this.fwd.attention += 4 * unit;
    this.fwd.other += OTHER.softmax * B * H * tq * tk;
    const grad = q.grad || kv.grad;
    if (grad) {
      this.bwd.attention += 2 * B * H * tq * dh; // rowdot: D = rowsum(dO ⊙ O)
      if (q.grad) this.bwd.attention += 6 * unit;
      if (kv.grad) this.bwd.attention += 8 * unit;
      // FlashAttention-2's backward is five products (S, dP, dV, dQ, dK: attentionFlops' 2.5×); running dQ and
      // dK/dV as two kernels computes S and dP twice when both are needed.
      if (q.grad && kv.grad) this.attentionRecompute += 4 * unit;
      this.bwd.other += 2 * OTHER.softmax * B * H * tq * tk;
    }
    return { grad };
  }

  result(): PassFlops {
    for (const b of [this.fwd, this.bwd]) b.total = b.linear + b.lora + b.attention + b.other;
    return {
      forward: this.fwd,
      backward: this.bwd,
      linearDx: this.linearDx,
      linearDw: this.linearDw,
      skippedDw: this.skippedDw,
      attentionRecompute: this.attentionRecompute,
      total: this.fwd.total + this.bwd.total,
    };
  }
}

/** Walks MMDiT.forward (same op order and grad flow) at one input shape. */
function trace(c: SD3Config, s: ForwardShape, mode: TrainMode, withGrad = true): PassFlops {
  validateConfig(c);
  const { batch: B, height, width, tokens: T } = s;
  const p = c.patch_size;
  if (height % p || width % p) throw new RangeError(`mmditFlops: ${height}x${width} is not a multiple of patch_size ${p}`);
  const D = innerDim(c);
  const N = (height / p) * (width / p);
  const t = new Tracer(c, mode, withGrad);
  const input: Act = { grad: false }; // data: samples, timesteps, text embeddings

  // Patch embedding (the conv as a GEMM over (c, py, px) patches) + the cached position table.
  let h = t.linear('pos_embed.proj', input, B * N, c.in_channels * p * p, D);
  h = t.elementwise([h], B * N * D, OTHER.add);

  // Conditioning.
  const tproj = t.elementwise([input], B * 256, OTHER.timestep);
  const te = 'time_text_embed.timestep_embedder';
  const tx = 'time_text_embed.text_embedder';
  const tHidden = t.elementwise([t.linear(`${te}.linear_1`, tproj, B, 256, D)], B * D, OTHER.silu);
  const pHidden = t.elementwise([t.linear(`${tx}.linear_1`, input, B, c.pooled_projection_dim, D)], B * D, OTHER.silu);
  const temb = t.elementwise([t.linear(`${te}.linear_2`, tHidden, B, D, D), t.linear(`${tx}.linear_2`, pHidden, B, D, D)], B * D, OTHER.add);
  const cond = t.elementwise([temb], B * D, OTHER.silu);
  let ctx = t.linear('context_embedder', input, B * T, c.joint_attention_dim, D);

  const img = B * N;
  const txt = B * T;
  const qk = (proj: string, x: Act, rows: number) => {
    const y = t.linear(proj, x, rows, D, D);
    return c.qk_norm === 'rms_norm' ? t.elementwise([y], rows * D, OTHER.rmsNorm) : y;
  };
  const ff = (prefix: string, x: Act, rows: number) =>
    t.linear(`${prefix}.net.2`, t.elementwise([t.linear(`${prefix}.net.0.proj`, x, rows, D, 4 * D)], rows * 4 * D, OTHER.gelu), rows, 4 * D, D);
  const any = (...xs: Act[]): Act => ({ grad: xs.some((x) => x.grad) });

  for (let i = 0; i < c.num_layers; i++) {
    const b = `transformer_blocks.${i}`;
    const last = isContextPreOnly(c, i);
    const dual = c.dual_attention_layers.includes(i);
    const mod = t.linear(`${b}.norm1.linear`, cond, B, D, (dual ? 9 : 6) * D);
    const nh = t.elementwise([h, mod], img * D, OTHER.lnModulate);
    const nh2 = dual ? t.elementwise([h, mod], img * D, OTHER.lnModulate) : null;
    const modC = t.linear(`${b}.norm1_context.linear`, cond, B, D, (last ? 2 : 6) * D);
    const nc = t.elementwise([ctx, modC], txt * D, OTHER.lnModulate);

    // Joint attention over [image; context] tokens (concat and split move data only).
    const a = `${b}.attn`;
    const q = any(qk(`${a}.to_q`, nh, img), qk(`${a}.add_q_proj`, nc, txt));
    const kv = any(qk(`${a}.to_k`, nh, img), qk(`${a}.add_k_proj`, nc, txt), t.linear(`${a}.to_v`, nh, img, D, D), t.linear(`${a}.add_v_proj`, nc, txt, D, D));
    const o = t.attention(q, kv, B, N + T, N + T);
    h = t.elementwise([h, t.linear(`${a}.to_out.0`, o, img, D, D), mod], img * D, OTHER.gatedResidual);
    if (nh2) {
      const a2 = `${b}.attn2`;
      const q2 = qk(`${a2}.to_q`, nh2, img);
      const kv2 = any(qk(`${a2}.to_k`, nh2, img), t.linear(`${a2}.to_v`, nh2, img, D, D));
      h = t.elementwise([h, t.linear(`${a2}.to_out.0`, t.attention(q2, kv2, B, N, N), img, D, D), mod], img * D, OTHER.gatedResidual);
    }
    h = t.elementwise([h, ff(`${b}.ff`, t.elementwise([h, mod], img * D, OTHER.lnModulate), img), mod], img * D, OTHER.gatedResidual);
    if (!last) {
      ctx = t.elementwise([ctx, t.linear(`${a}.to_add_out`, o, txt, D, D), modC], txt * D, OTHER.gatedResidual);
      ctx = t.elementwise([ctx, ff(`${b}.ff_context`, t.elementwise([ctx, modC], txt * D, OTHER.lnModulate), txt), modC], txt * D, OTHER.gatedResidual);
    }
  }
  const modOut = t.linear('norm_out.linear', cond, B, D, 2 * D);
  t.linear('proj_out', t.elementwise([h, modOut], img * D, OTHER.lnModulate), img, D, p * p * c.out_channels);
  return t.result();
}

/** FLOPs of one forward (no adapters unless `lora` is given: then their GEMMs count too). */
export function mmditForwardFlops(c: SD3Config, s: ForwardShape, lora?: { rank: number; targets: readonly string[] }): FlopBreakdown {
  return trace(c, s, lora ?? 'none', false).forward;
}

/** One forward with grad + its backward from the output, as the engine executes them for `mode`. */
export function trainingPassFlops(c: SD3Config, s: ForwardShape, mode: TrainMode): PassFlops {
  return trace(c, s, mode);
}

export interface StepFlops {
  /** Model passes of the step: [batch, with backward?]. */
  passes: Array<{ what: string; batch: number; backward: boolean; flops: number }>;
  total: number;
  /** Model FLOPs: total minus attention recompute. */
  model: number;
}

/**
 * One training step from its model passes (each method lists them: src/train/methods). A pass with backward
 * counts forward + backward; attention's recompute in the backward is counted too (what the kernels execute).
 */
export function trainStepFlops(
  c: SD3Config,
  s: ForwardShape,
  cfg: Pick<TrainConfig, 'train_mode' | 'rank' | 'lora_targets'>,
  stepPasses: ReadonlyArray<{ what: string; batch: number; backward: boolean; count?: number }>,
): StepFlops {
  const mode: TrainMode = cfg.train_mode === 'full' ? 'full' : { rank: cfg.rank, targets: cfg.lora_targets };
  const passes: StepFlops['passes'] = [];
  let recompute = 0;
  for (const { what, batch, backward, count = 1 } of stepPasses) {
    if (batch === 0 || count === 0) continue;
    // Passes without gradient run with the adapter being trained active.
    const f = trace(c, { ...s, batch }, mode, backward);
    passes.push({ what: count > 1 ? `${what} ×${count}` : what, batch, backward, flops: count * (backward ? f.total : f.forward.total) });
    recompute += backward ? count * f.attentionRecompute : 0;
  }
  const total = passes.reduce((sum, p) => sum + p.flops, 0);
  return { passes, total, model: total - recompute };
}

/** Every base linear layer (2-D weights and the patch conv) with its [out, in] — the tests' direct sum. */
export function linearLayers(c: SD3Config): Array<{ module: string; out: number; in: number }> {
  return parameterSpecs(c)
    .filter((s) => s.name.endsWith('.weight') && (s.shape.length === 2 || s.name === 'pos_embed.proj.weight'))
    .map((s) => ({ module: s.name.slice(0, -'.weight'.length), out: s.shape[0], in: s.shape.slice(1).reduce((a, b) => a * b, 1) }));
}
