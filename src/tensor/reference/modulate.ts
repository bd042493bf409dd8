// float64 reference of the broadcast-vector ops (spec of shaders/modulate.wgsl and ops/modulate.ts).
// x, h, y are row-major [B, T, D]; vectors (shift, scale, g) are [B, D], broadcast over T.

export interface BTD {
  b: number;
  t: number;
  d: number;
}

/** y = x·(onePlus ? 1 + a : a) + (shift ?? 0) + (h ?? 0). */
function bcast(s: BTD, x: Float64Array, a: Float64Array, onePlus: boolean, shift?: Float64Array, h?: Float64Array): Float64Array {
  const y = new Float64Array(s.b * s.t * s.d);
  for (let b = 0; b < s.b; b++) {
    for (let t = 0; t < s.t; t++) {
      for (let j = 0; j < s.d; j++) {
        const i = (b * s.t + t) * s.d + j;
        const v = b * s.d + j;
        y[i] = x[i] * (onePlus ? 1 + a[v] : a[v]) + (shift ? shift[v] : 0) + (h ? h[i] : 0);
      }
    }
  }
  return y;
}

/** Σ over T of f(i) for each (b, j): the gradient of a vector broadcast over T. */
function sumOverT(s: BTD, f: (i: number) => number): Float64Array {
  const out = new Float64Array(s.b * s.d);
  for (let b = 0; b < s.b; b++) {
    for (let t = 0; t < s.t; t++) {
      for (let j = 0; j < s.d; j++) out[b * s.d + j] += f((b * s.t + t) * s.d + j);
    }
  }
  return out;
}

export function modulate(s: BTD, x: Float64Array, shift: Float64Array, scale: Float64Array): Float64Array {
  return bcast(s, x, scale, true, shift);
}

export function modulateBackward(s: BTD, dy: Float64Array, x: Float64Array, scale: Float64Array) {
  return {
    dx: bcast(s, dy, scale, true),
    dshift: sumOverT(s, (i) => dy[i]),
    dscale: sumOverT(s, (i) => dy[i] * x[i]),
  };
}

export function gate(s: BTD, x: Float64Array, g: Float64Array): Float64Array {
  return bcast(s, x, g, false);
}

export function gateBackward(s: BTD, dy: Float64Array, x: Float64Array, g: Float64Array) {
  return { dx: bcast(s, dy, g, false), dg: sumOverT(s, (i) => dy[i] * x[i]) };
}

export function gatedResidual(s: BTD, h: Float64Array, x: Float64Array, g: Float64Array): Float64Array {
  return bcast(s, x, g, false, undefined, h);
}

export function gatedResidualBackward(s: BTD, dy: Float64Array, x: Float64Array, g: Float64Array) {
  return { dh: Float64Array.from(dy), ...gateBackward(s, dy, x, g) };
}

/** Chunk `index` of `count` along the last dim: emb [rows, count·d] → [rows, d]. */
export function chunk(emb: Float64Array, rows: number, d: number, count: number, index: number): Float64Array {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) y[r * d + j] = emb[(r * count + index) * d + j];
  return y;
}

export function chunkBackward(dy: Float64Array, rows: number, d: number, count: number, index: number): Float64Array {
  const g = new Float64Array(rows * count * d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) g[(r * count + index) * d + j] = dy[r * d + j];
  return g;
}
