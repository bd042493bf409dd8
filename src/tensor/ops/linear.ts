// Linear layers in the PyTorch / diffusers layout, with LoRA adapters, built from matmul (ops/matmul.ts).
//
//   linear:     y = act(x·Wᵀ + b)                              x [..., in], W [out, in], b [out]
//   linearLora: y = x·Wᵀ + b + Σ_i scale_i·(x·A_iᵀ)·B_iᵀ       A_i [r_i, in], B_i [out, r_i]
//
// Gradients follow requiresGrad: a frozen base weight (requiresGrad false) gets none and its layer input is not
// kept for it; A, B and x get theirs. Several adapters at once (base + SFT + SOAR previews); none = linear.
//
// LoRA design: three matmul calls per adapter-free layer, two per adapter:
//   y0 = x·Wᵀ + b                      (the big GEMM, tiled)
//   h  = x·Aᵀ                          ([rows, r], a skinny GEMM)
//   y  = scale·h·Bᵀ + y0               (rank-r GEMM; scale and the add are fused into its epilogue via
//                                       alpha / residual, so no separate elementwise pass and no extra op)
// versus a fully fused kernel that would run the K loop over [x | scale·h]·[W | B]ᵀ: that saves one write and
// one read of y0 (8 bytes per output element) against 2·in FLOPs per output element for the base GEMM, i.e.
// a few percent at in ≥ 1536 (SD3), for a much more complex kernel. Not worth it; revisit if profiles disagree.
import { fmtShape, type Tensor } from '../tensor';
import { matmulWith, type Activation, type MatmulVariant } from './matmul';

export interface LinearOptions {
  activation?: Activation;
  /** Forces the matmul kernel (tests, benchmarks); default 'auto'. */
  variant?: MatmulVariant | 'auto';
}

export interface LoraAdapter {
  /** [rank, in] */
  A: Tensor;
  /** [out, rank] */
  B: Tensor;
  scale: number;
}

function checkLinear(op: string, x: Tensor, weight: Tensor, bias: Tensor | null): void {
  const what = `${op}: x ${fmtShape(x.shape)} and weight ${fmtShape(weight.shape)}`;
  if (weight.shape.length !== 2) throw new RangeError(`${what}: weight must be [out, in]`);
  if (x.shape.length < 1) throw new RangeError(`${what}: x must be [..., in]`);
  const inF = x.shape[x.shape.length - 1];
  if (inF !== weight.shape[1]) throw new RangeError(`${what}: x's last dimension ${inF} differs from weight's in ${weight.shape[1]}`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new RangeError(`${what}: bias ${fmtShape(bias.shape)} must be [${weight.shape[0]}]`);
  }
}

/** y = act(x·Wᵀ + b); x [..., in], weight [out, in], bias [out] → y [..., out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: LinearOptions = {}): Tensor {
  checkLinear('linear', x, weight, bias ?? null);
  return linearImpl(x, weight, bias ?? null, [], opts);
}

/** y = x·Wᵀ + b + Σ scale·(x·Aᵀ)·Bᵀ for a list of adapters (empty = linear), or for one adapter A, B, scale. */
export function linearLora(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, adapters: readonly LoraAdapter[], opts?: LinearOptions): Tensor;
export function linearLora(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, loraA: Tensor, loraB: Tensor, scale: number, opts?: LinearOptions): Tensor;
export function linearLora(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  adaptersOrA: readonly LoraAdapter[] | Tensor,
  loraBOrOpts?: Tensor | LinearOptions,
  scale?: number,
  opts?: LinearOptions,
): Tensor {
  const adapters: readonly LoraAdapter[] = Array.isArray(adaptersOrA)
    ? adaptersOrA
    : [{ A: adaptersOrA as Tensor, B: loraBOrOpts as Tensor, scale: scale as number }];
  const options = (Array.isArray(adaptersOrA) ? (loraBOrOpts as LinearOptions | undefined) : opts) ?? {};
  if (options.activation && options.activation !== 'none' && adapters.length) {
    throw new RangeError('linearLora: a fused activation applies after the LoRA sum; apply it separately');
  }
  checkLinear('linearLora', x, weight, bias ?? null);
  const [outF, inF] = weight.shape;
  adapters.forEach((ad, i) => {
    const what = `linearLora: adapter ${i}`;
    if (!ad || !ad.A || !ad.B) throw new RangeError(`${what}: needs A, B and scale`);
    const rank = ad.A.shape[0];
    if (ad.A.shape.length !== 2 || ad.A.shape[1] !== inF) throw new RangeError(`${what}: A ${fmtShape(ad.A.shape)} must be [rank, ${inF}] (weight ${fmtShape(weight.shape)})`);
    if (ad.B.shape.length !== 2 || ad.B.shape[0] !== outF || ad.B.shape[1] !== rank) {
      throw new RangeError(`${what}: B ${fmtShape(ad.B.shape)} must be [${outF}, ${rank}] ([out, rank] with A ${fmtShape(ad.A.shape)})`);
    }
    if (!Number.isFinite(ad.scale)) throw new RangeError(`${what}: scale ${ad.scale} is not a finite number`);
  });
  return linearImpl(x, weight, bias ?? null, adapters, options);
}

function linearImpl(x: Tensor, weight: Tensor, bias: Tensor | null, adapters: readonly LoraAdapter[], opts: LinearOptions): Tensor {
  const e = x.engine;
  const variant = opts.variant ?? 'auto';
  return e.scope(() => {
    // matmul needs 2 dims; a single vector becomes one row (the reshapes are views recorded on the tape).
    const x2 = x.shape.length === 1 ? x.reshape([1, x.shape[0]]) : x;
    let y = matmulWith(variant, x2, weight, { transB: true, bias, activation: opts.activation, name: 'linear' });
    for (const ad of adapters) {
      const h = matmulWith(variant, x2, ad.A, { transB: true, name: 'lora.h' });
      y = matmulWith(variant, h, ad.B, { transB: true, alpha: ad.scale, residual: y, name: 'lora.y' });
    }
    return x.shape.length === 1 ? y.reshape([weight.shape[0]]) : y;
  });
}
