// Float64 answers at a sample of output positions, so every implementation's result is checked against the
// math and not only against another GPU kernel. Sampling keeps the CPU cost tiny at any shape (a full float64
// matmul at 1024x1536x1536 would take seconds of JS on a loaded 2-core machine).
import type { Case } from './cases';
import { caseOutputShape, LN_EPS } from './cases';

const SAMPLES = 64;

/** Deterministic, spread-out flat indices into the output (first and last included). */
export function sampleIndices(c: Case): number[] {
  const n = caseOutputShape(c).reduce((a, b) => a * b, 1);
  const count = Math.min(SAMPLES, n);
  const out = new Set<number>([0, n - 1]);
  // A stride coprime-ish with the row length visits different rows and columns.
  for (let i = 0; out.size < count; i++) out.add(Math.floor(((i * 0.6180339887498949) % 1) * n));
  return [...out].sort((a, b) => a - b);
}

/** The float64 value of output element `idx` for the case's inputs (row-major, as caseInputs). */
function referenceAt(c: Case, data: Float32Array[], idx: number): number {
  switch (c.op) {
    case 'matmul': {
      const [a, b] = data;
      const i = Math.floor(idx / c.N);
      const j = idx % c.N;
      let s = 0;
      for (let k = 0; k < c.K; k++) s += a[i * c.K + k] * b[k * c.N + j];
      return s;
    }
    case 'attention': {
      const [q, k, v] = data;
      const C = c.H * c.Dh;
      const b = Math.floor(idx / (c.T * C));
      const t = Math.floor(idx / C) % c.T;
      const h = Math.floor((idx % C) / c.Dh);
      const d = idx % c.Dh;
      const at = (tok: number, dd: number) => (b * c.T + tok) * C + h * c.Dh + dd;
      const scale = 1 / Math.sqrt(c.Dh);
      const s = new Float64Array(c.T);
      let m = -Infinity;
      for (let j = 0; j < c.T; j++) {
        let dot = 0;
        for (let dd = 0; dd < c.Dh; dd++) dot += q[at(t, dd)] * k[at(j, dd)];
        s[j] = dot * scale;
        m = Math.max(m, s[j]);
      }
      let sum = 0;
      let acc = 0;
      for (let j = 0; j < c.T; j++) {
        const p = Math.exp(s[j] - m);
        sum += p;
        acc += p * v[at(j, d)];
      }
      return acc / sum;
    }
    case 'layernorm': {
      const [x, w, bias] = data;
      const row = Math.floor(idx / c.D);
      const col = idx % c.D;
      let mean = 0;
      for (let j = 0; j < c.D; j++) mean += x[row * c.D + j];
      mean /= c.D;
      let v = 0;
      for (let j = 0; j < c.D; j++) v += (x[row * c.D + j] - mean) ** 2;
      return ((x[row * c.D + col] - mean) / Math.sqrt(v / c.D + LN_EPS)) * w[col] + bias[col];
    }
    case 'add':
      return data[0][idx] + data[1][idx];
    case 'softmax': {
      const [x] = data;
      const row = Math.floor(idx / c.N);
      let m = -Infinity;
      for (let j = 0; j < c.N; j++) m = Math.max(m, x[row * c.N + j]);
      let sum = 0;
      for (let j = 0; j < c.N; j++) sum += Math.exp(x[row * c.N + j] - m);
      return Math.exp(x[idx] - m) / sum;
    }
  }
}

/** Float64 answers at `indices`. */
export function referenceSample(c: Case, data: Float32Array[], indices: number[]): Float64Array {
  return Float64Array.from(indices, (i) => referenceAt(c, data, i));
}

/** max |out[i] − ref| / max |ref| over the sampled positions (NaN if any sampled output is NaN). */
export function sampledError(out: ArrayLike<number>, indices: number[], ref: Float64Array): number {
  let diff = 0;
  let scale = 0;
  indices.forEach((idx, i) => {
    const d = Math.abs(out[idx] - ref[i]);
    if (!(d <= diff)) diff = d;
    scale = Math.max(scale, Math.abs(ref[i]));
  });
  return diff / (scale || 1);
}
