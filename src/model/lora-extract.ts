// A LoRA extracted from a full fine-tune: the standard "extract a LoRA" method, a truncated SVD of each module's
// weight difference ΔW = W_tuned − W_base ≈ B·A with B = U_r·√S_r and A = √S_r·V_rᵀ (rank r), and the share of
// ΔW's energy (squared Frobenius norm) the rank keeps, per module. What comes back from a run of the reference
// trainer is a whole transformer; this turns it into an adapter the studio can load, compare and export.
//
// The SVD is randomized (Halko, Martinsson & Tropp 2011): a Gaussian sketch of r + 8 columns, two power
// iterations with re-orthonormalisation, then the exact SVD of the small projected matrix through the
// eigen-decomposition of its Gram matrix (cyclic Jacobi). Float64 throughout; a delta of rank ≤ r comes back
// to rounding error, a full-rank one with the energy it loses reported.

import { SeededRandom } from './random';

/** One module's factors: A [rank, in], B [out, rank] (B·A ≈ ΔW), and the share of ΔW's energy kept. */
export interface ExtractedModule {
  A: Float64Array;
  B: Float64Array;
  rank: number;
  /** Σ_{i<rank} σ_i² / ‖ΔW‖²_F (1 when ΔW is 0). */
  energyKept: number;
  singularValues: number[];
}

/** C [m, n] = A [m, k] · B [k, n] (row-major; tA / tB read A or B transposed from storage). */
function matmul(A: Float64Array, B: Float64Array, m: number, k: number, n: number, tA = false, tB = false): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const a = tA ? A[p * m + i] : A[i * k + p];
      if (a === 0) continue;
      for (let j = 0; j < n; j++) C[i * n + j] += a * (tB ? B[j * k + p] : B[p * n + j]);
    }
  }
  return C;
}

/** Orthonormalises the columns of Q [m, k] in place (modified Gram–Schmidt, twice for stability). */
export function orthonormalise(Q: Float64Array, m: number, k: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < m; r++) dot += Q[r * k + i] * Q[r * k + j];
        for (let r = 0; r < m; r++) Q[r * k + j] -= dot * Q[r * k + i];
      }
      let norm = 0;
      for (let r = 0; r < m; r++) norm += Q[r * k + j] ** 2;
      norm = Math.sqrt(norm);
      for (let r = 0; r < m; r++) Q[r * k + j] = norm > 1e-300 ? Q[r * k + j] / norm : 0;
    }
  }
}

/** Eigen-decomposition of a symmetric k×k matrix by cyclic Jacobi: eigenvalues (descending) and vectors (columns). */
function symmetricEigen(S: Float64Array, k: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(S);
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += a[p * k + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = a[p * k + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * k + q] - a[p * k + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const arp = a[r * k + p];
          const arq = a[r * k + q];
          a[r * k + p] = c * arp - s * arq;
          a[r * k + q] = s * arp + c * arq;
        }
        for (let r = 0; r < k; r++) {
          const apr = a[p * k + r];
          const aqr = a[q * k + r];
          a[p * k + r] = c * apr - s * aqr;
          a[q * k + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r * k + p];
          const vrq = v[r * k + q];
          v[r * k + p] = c * vrp - s * vrq;
          v[r * k + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => a[y * k + y] - a[x * k + x]);
  const vectors = new Float64Array(k * k);
  order.forEach((src, dst) => {
    for (let r = 0; r < k; r++) vectors[r * k + dst] = v[r * k + src];
  });
  return { values: order.map((i) => a[i * k + i]), vectors };
}

/**
 * Rank-`rank` factors of ΔW [out, in] (row-major), B [out, rank] and A [rank, in] with B·A the best rank-`rank`
 * approximation (up to the randomized SVD's accuracy, exact for ΔW of rank ≤ rank).
 */
export function extractLowRank(delta: ArrayLike<number>, out: number, inF: number, rank: number, seed = 1): ExtractedModule {
  if (!(Number.isInteger(rank) && rank >= 1)) throw new RangeError(`LoRA extraction: rank must be a whole number ≥ 1, got ${rank}`);
  if (delta.length !== out * inF) throw new RangeError(`LoRA extraction: ${delta.length} values for a ${out}×${inF} weight`);
  // Read only: a float64 delta is used as it is (a full-size copy of a large module would double the memory).
  const W = delta instanceof Float64Array ? delta : Float64Array.from(delta);
  let total = 0;
  for (const x of W) total += x * x;
  const r = Math.min(rank, out, inF);
  const k = Math.min(r + 8, out, inF);
  // Range finder: Q [out, k] spans W's dominant column space.
  // A seeded Gaussian sketch: the extraction must not depend on Math.random.
  const rng = new SeededRandom(seed);
  let Q = matmul(W, Float64Array.from({ length: inF * k }, () => rng.normal()), out, inF, k);
  orthonormalise(Q, out, k);
  for (let it = 0; it < 2; it++) {
    const Z = matmul(W, Q, inF, out, k, true); // Wᵀ·Q [in, k]
    orthonormalise(Z, inF, k);
    Q = matmul(W, Z, out, inF, k);
    orthonormalise(Q, out, k);
  }
  // Small matrix M = Qᵀ·W [k, in]; M·Mᵀ = Ũ Σ² Ũᵀ; W ≈ Q·Ũ·Σ·Vᵀ with Vᵀ = Σ⁻¹·Ũᵀ·M.
  const M = matmul(Q, W, k, out, inF, true);
  const G = matmul(M, M, k, inF, k, false, true);
  const { values, vectors } = symmetricEigen(G, k);
  const sigma = values.map((x) => Math.sqrt(Math.max(0, x)));
  const A = new Float64Array(r * inF);
  const B = new Float64Array(out * r);
  for (let j = 0; j < r; j++) {
    const s = sigma[j];
    if (s <= 1e-300) continue; // ΔW's rank is below `rank`: the remaining factors stay 0
    const root = Math.sqrt(s);
    // u_j = Q·ũ_j; B[:, j] = u_j·√σ_j
    for (let o = 0; o < out; o++) {
      let u = 0;
      for (let c = 0; c < k; c++) u += Q[o * k + c] * vectors[c * k + j];
      B[o * r + j] = u * root;
    }
    // v_jᵀ = ũ_jᵀ·M/σ_j; A[j, :] = √σ_j·v_jᵀ
    for (let i = 0; i < inF; i++) {
      let v = 0;
      for (let c = 0; c < k; c++) v += vectors[c * k + j] * M[c * inF + i];
      A[j * inF + i] = (v / s) * root;
    }
  }
  const kept = sigma.slice(0, r).reduce((acc, s) => acc + s * s, 0);
  return { A, B, rank: r, energyKept: total > 0 ? Math.min(1, kept / total) : 1, singularValues: sigma.slice(0, r) };
}
