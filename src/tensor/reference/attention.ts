// float64 reference of multi-head scaled-dot-product attention (spec of shaders/attention_{fwd,bwd}.wgsl).
// Naive on purpose: it materialises the full Tq×Tk score matrix per (batch, head), which the kernels never do.
//
// Layout (diffusers' `to_q(x).view(B, T, H, Dh)`): q is [B, Tq, H·Dh], k and v are [B, Tk, H·Dh], and element
// (b, t, h, d) sits at ((b·T + t)·H + h)·Dh + d. The logsumexp L is [B, H, Tq], natural log of Σ_j exp(scale·q·k).

export interface AttentionDims {
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  dh: number;
}

/** Index of element (b, t, h, d) in a [B, T, H·Dh] tensor. */
function at(s: AttentionDims, t: number, T: number, b: number, h: number, d: number): number {
  return ((b * T + t) * s.heads + h) * s.dh + d;
}

/** P = softmax(scale·Q·Kᵀ) for one (b, h), row-major [tq, tk], and the row logsumexps. */
function probabilities(q: Float64Array, k: Float64Array, s: AttentionDims, b: number, h: number, scale: number) {
  const p = new Float64Array(s.tq * s.tk);
  const lse = new Float64Array(s.tq);
  for (let i = 0; i < s.tq; i++) {
    let max = -Infinity;
    for (let j = 0; j < s.tk; j++) {
      let x = 0;
      for (let d = 0; d < s.dh; d++) x += q[at(s, i, s.tq, b, h, d)] * k[at(s, j, s.tk, b, h, d)];
      x *= scale;
      p[i * s.tk + j] = x;
      max = Math.max(max, x);
    }
    let sum = 0;
    for (let j = 0; j < s.tk; j++) sum += Math.exp(p[i * s.tk + j] - max);
    for (let j = 0; j < s.tk; j++) p[i * s.tk + j] = Math.exp(p[i * s.tk + j] - max) / sum;
    lse[i] = max + Math.log(sum);
  }
  return { p, lse };
}

export function attentionForward(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  s: AttentionDims,
  scale = 1 / Math.sqrt(s.dh),
): { out: Float64Array; lse: Float64Array } {
  const out = new Float64Array(s.batch * s.tq * s.heads * s.dh);
  const lse = new Float64Array(s.batch * s.heads * s.tq);
  for (let b = 0; b < s.batch; b++) {
    for (let h = 0; h < s.heads; h++) {
      const pr = probabilities(q, k, s, b, h, scale);
      lse.set(pr.lse, (b * s.heads + h) * s.tq);
      for (let i = 0; i < s.tq; i++) {
        for (let d = 0; d < s.dh; d++) {
          let acc = 0;
          for (let j = 0; j < s.tk; j++) acc += pr.p[i * s.tk + j] * v[at(s, j, s.tk, b, h, d)];
          out[at(s, i, s.tq, b, h, d)] = acc;
        }
      }
    }
  }
  return { out, lse };
}

/**
 * Gradients of attention given dO:  dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P∘(dP − rowsum(dO∘O)),
 * dQ = scale·dS·K,  dK = scale·dSᵀ·Q.
 */
export function attentionBackward(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dOut: Float64Array,
  s: AttentionDims,
  scale = 1 / Math.sqrt(s.dh),
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < s.batch; b++) {
    for (let h = 0; h < s.heads; h++) {
      const { p } = probabilities(q, k, s, b, h, scale);
      for (let i = 0; i < s.tq; i++) {
        // D_i = Σ_j P_ij·dP_ij, which equals rowsum(dO∘O) (the form the kernel uses).
        const dp = new Float64Array(s.tk);
        let dsum = 0;
        for (let j = 0; j < s.tk; j++) {
          let x = 0;
          for (let d = 0; d < s.dh; d++) x += dOut[at(s, i, s.tq, b, h, d)] * v[at(s, j, s.tk, b, h, d)];
          dp[j] = x;
          dsum += p[i * s.tk + j] * x;
        }
        for (let j = 0; j < s.tk; j++) {
          const pij = p[i * s.tk + j];
          const ds = pij * (dp[j] - dsum) * scale;
          for (let d = 0; d < s.dh; d++) {
            const qi = at(s, i, s.tq, b, h, d);
            const kj = at(s, j, s.tk, b, h, d);
            dv[kj] += pij * dOut[qi];
            dq[qi] += ds * k[kj];
            dk[kj] += ds * q[qi];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
