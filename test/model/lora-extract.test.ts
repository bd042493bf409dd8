// Extracting a LoRA from a full fine-tune (truncated SVD of the weight difference): a delta of known rank comes
// back exactly, a full-rank one loses what the discarded singular values hold, and the energy kept says so.
import { describe, expect, it } from 'vitest';
import { extractLowRank } from '../../src/model/lora-extract';
import { rand } from '../tensor/harness';

/** ΔW = B·A for random B [out, r] and A [r, in]. */
function lowRank(out: number, inF: number, r: number, seed: number): Float64Array {
  const B = rand(out * r, seed);
  const A = rand(r * inF, seed + 1);
  const W = new Float64Array(out * inF);
  for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) for (let i = 0; i < inF; i++) W[o * inF + i] += B[o * r + j] * A[j * inF + i];
  return W;
}

function product(e: ReturnType<typeof extractLowRank>, out: number, inF: number): Float64Array {
  const W = new Float64Array(out * inF);
  for (let o = 0; o < out; o++) for (let j = 0; j < e.rank; j++) for (let i = 0; i < inF; i++) W[o * inF + i] += e.B[o * e.rank + j] * e.A[j * inF + i];
  return W;
}

const frob2 = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + v * v, 0);

describe('LoRA extraction', () => {
  it('a delta of rank 3 comes back exactly at rank 3 or more, all its energy kept', () => {
    const [out, inF] = [40, 64];
    const W = lowRank(out, inF, 3, 7);
    for (const rank of [3, 8]) {
      const e = extractLowRank(W, out, inF, rank);
      const back = product(e, out, inF);
      const err = Math.sqrt(frob2(back.map((v, i) => v - W[i])) / frob2(W));
      expect(err, `rank ${rank}`).toBeLessThan(1e-9);
      expect(e.energyKept).toBeCloseTo(1, 10);
    }
  });

  it('a full-rank delta at rank 4: the error is what the rest of the spectrum holds, and is reported', () => {
    const [out, inF] = [24, 32];
    const W = rand(out * inF, 11);
    const e = extractLowRank(W, out, inF, 4);
    expect(e.rank).toBe(4);
    expect(e.energyKept).toBeGreaterThan(0);
    expect(e.energyKept).toBeLessThan(0.6);
    const residual = frob2(product(e, out, inF).map((v, i) => v - W[i])) / frob2(W);
    // Optimal rank-4 error = 1 − energy kept (Eckart–Young); the randomized SVD comes within a few percent.
    expect(residual).toBeGreaterThanOrEqual(1 - e.energyKept - 1e-9);
    expect(residual).toBeLessThan((1 - e.energyKept) * 1.05);
    // Singular values in descending order.
    for (let i = 1; i < e.singularValues.length; i++) expect(e.singularValues[i]).toBeLessThanOrEqual(e.singularValues[i - 1] + 1e-12);
  });

  it('a zero delta gives zero factors; bad input is refused', () => {
    const e = extractLowRank(new Float64Array(6 * 5), 6, 5, 2);
    expect(Array.from(e.A).every((v) => v === 0) && Array.from(e.B).every((v) => v === 0)).toBe(true);
    expect(e.energyKept).toBe(1);
    expect(() => extractLowRank(new Float64Array(6), 2, 3, 0)).toThrow(/rank must be/);
    expect(() => extractLowRank(new Float64Array(5), 2, 3, 1)).toThrow(/5 values for a 2×3 weight/);
  });
});
