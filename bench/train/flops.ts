// FLOPs of one recorded dispatch, read from what the runtime is given (kernel name, entry point, uniforms,
// workgroups), so a whole training step can be counted by tallying its dispatches without touching src/.
//
// Counted like the engine's own cost helpers, so the numbers compare with bench:kernels and with an analytic
// model: matmul 2·M·N·K·batch (matmulCost: the epilogue is free), attention 4·B·H·Tq·Tk·Dh forward and 2.5×
// that backward (attentionFlops: the five products of FlashAttention-2's backward). Everything else
// (elementwise, norms, reductions, copies, the optimiser) counts 0: it is memory traffic, not FLOPs, which is
// exactly why a step made of many of them runs slower than its FLOPs predict.
//
// `executed` additionally counts what the attention backward kernels really run: dQ and dK/dV each recompute
// S = QKᵀ and dP = dO·Vᵀ, so 3 + 4 = 7 products instead of 5 (3.5× the forward, see attention.ts).
import type { Dispatch } from '../../src/gpu/runtime';

export interface DispatchFlops {
  /** Algorithmic FLOPs (matmulCost / attentionFlops conventions). */
  model: number;
  /** FLOPs the kernel actually executes (differs for the attention backward's recomputation). */
  executed: number;
}

const NONE: DispatchFlops = { model: 0, executed: 0 };

function u32s(u: Dispatch['uniforms'], n: number): number[] | null {
  if (!u) return null;
  const bytes = u instanceof ArrayBuffer ? u : u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength);
  if (bytes.byteLength < 4 * n) return null;
  const view = new DataView(bytes);
  return Array.from({ length: n }, (_, i) => view.getUint32(4 * i, true));
}

export function dispatchFlops(d: Dispatch): DispatchFlops {
  const name = d.kernel.name;
  const gridZ = d.workgroups[2] ?? 1;
  if (name === 'matmul_naive' || name === 'matmul_tiled' || name === 'matmul_reg') {
    // Params: M, N, K, nRed, ... (matmul_common.wgsl). The batch is either the grid's z (one product per
    // output matrix) or nRed (a broadcast weight's gradient summed over the batch inside the K loop, z = 1).
    const p = u32s(d.uniforms, 4);
    if (!p) return NONE;
    const [M, N, K, nRed] = p;
    const f = 2 * M * N * K * gridZ * Math.max(nRed, 1);
    return { model: f, executed: f };
  }
  if (name.startsWith('attention_fwd') || name.startsWith('attention_bwd')) {
    // Params: tq, tk, heads, dh (attention.ts `params`, the rowdot kernel's differ and cost no product);
    // the batch is the grid's z. One product = 2·B·H·Tq·Tk·Dh.
    const entry = d.kernel.entryPoint ?? 'main';
    if (entry === 'rowdot') return NONE;
    const p = u32s(d.uniforms, 4);
    if (!p) return NONE;
    const [tq, tk, heads, dh] = p;
    const product = 2 * gridZ * heads * tq * tk * dh;
    if (name.startsWith('attention_fwd')) return { model: 2 * product, executed: 2 * product };
    // Backward: S and dP are shared by dQ and dK/dV in the algorithm (counted half to each), recomputed by both
    // kernels in practice. Algorithmic: dq 0.5+0.5+1 = 2, dkdv 0.5+0.5+2 = 3 (total 5); executed: 3 and 4.
    if (entry === 'dq') return { model: 2 * product, executed: 3 * product };
    if (entry === 'dkdv') return { model: 3 * product, executed: 4 * product };
  }
  if (name.startsWith('attention_rows')) {
    // The 'rows' variant keeps P, so nothing is recomputed: fwd S and PV (2 products), dq_rows dP and dQ (2),
    // dkdv_rows dK and dV (2): 6 executed against the algorithm's 5 (dP counted half to each backward kernel
    // in the flash convention above: dq 2, dkdv 3).
    const entry = d.kernel.entryPoint ?? 'main';
    const p = u32s(d.uniforms, 4);
    if (!p) return NONE;
    const [tq, tk, heads, dh] = p;
    const product = 2 * gridZ * heads * tq * tk * dh;
    if (entry === 'fwd') return { model: 2 * product, executed: 2 * product };
    if (entry === 'dq_rows') return { model: 2 * product, executed: 2 * product };
    if (entry === 'dkdv_rows') return { model: 3 * product, executed: 2 * product };
  }
  return NONE;
}
