// float64 reference of the shape ops (spec of shaders/shape.wgsl and src/tensor/ops/shape.ts) and the index
// helpers the other references share.

export type Shape = readonly number[];

export function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Multi-index of flat index i in a row-major shape. */
export function unravel(i: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: Shape): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + idx[d];
  return i;
}

export interface Arr {
  data: Float64Array;
  shape: number[];
}

/** Concatenation along `axis`. */
export function concatRef(parts: readonly Arr[], axis: number): Arr {
  const shape = [...parts[0].shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis], 0);
  const data = new Float64Array(size(shape));
  let offset = 0;
  for (const p of parts) {
    for (let i = 0; i < p.data.length; i++) {
      const idx = unravel(i, p.shape);
      idx[axis] += offset;
      data[ravel(idx, shape)] = p.data[i];
    }
    offset += p.shape[axis];
  }
  return { data, shape };
}

/** Pieces of the given sizes along `axis` (the backward of concat; its own backward is concat). */
export function splitRef(x: Arr, sizes: readonly number[], axis: number): Arr[] {
  const out: Arr[] = [];
  let offset = 0;
  for (const len of sizes) {
    const shape = x.shape.map((d, i) => (i === axis ? len : d));
    const data = new Float64Array(size(shape));
    for (let i = 0; i < data.length; i++) {
      const idx = unravel(i, shape);
      idx[axis] += offset;
      data[i] = x.data[ravel(idx, x.shape)];
    }
    out.push({ data, shape });
    offset += len;
  }
  return out;
}

/** out.shape[i] = x.shape[perm[i]] (backward: permute by the inverse permutation). */
export function permuteRef(x: Arr, perm: readonly number[]): Arr {
  const shape = perm.map((p) => x.shape[p]);
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, k) => (src[p] = idx[k]));
    data[i] = x.data[ravel(src, x.shape)];
  }
  return { data, shape };
}

export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}
