// float64 reference of the row norms (spec of shaders/norm.wgsl and ops/norm.ts). Arrays are row-major
// [rows, d]; weight/bias are [d], or [groups, d] with row r using row ⌊r / (rows / groups)⌋ (adaLN's per-sample
// scale/shift). Textbook formulas: the two-pass variance here is exact enough in float64.

export interface NormSpec {
  rows: number;
  d: number;
  center: boolean; // LayerNorm (true) or RMSNorm
  eps: number;
  weight?: Float64Array | null;
  bias?: Float64Array | null;
  /** Multiply by 1 + weight (adaLN's scale) instead of weight. */
  onePlus?: boolean;
  /** Rows of weight/bias (1, or B for adaLN). */
  groups?: number;
}

export interface NormForward {
  y: Float64Array;
  xhat: Float64Array;
  rstd: Float64Array;
}

export interface NormGrads {
  dx: Float64Array;
  dweight: Float64Array | null;
  dbias: Float64Array | null;
}

function rowScale(s: NormSpec, r: number, j: number): number {
  if (!s.weight) return 1;
  const g = Math.floor(r / (s.rows / (s.groups ?? 1)));
  const w = s.weight[g * s.d + j];
  return s.onePlus ? 1 + w : w;
}

export function normForward(x: Float64Array, s: NormSpec): NormForward {
  const { rows, d } = s;
  const y = new Float64Array(rows * d);
  const xhat = new Float64Array(rows * d);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    if (s.center) {
      for (let j = 0; j < d; j++) mean += x[r * d + j];
      mean /= d;
    }
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[r * d + j] - mean) ** 2;
    rstd[r] = 1 / Math.sqrt(v / d + s.eps);
    const g = Math.floor(r / (rows / (s.groups ?? 1)));
    for (let j = 0; j < d; j++) {
      const i = r * d + j;
      xhat[i] = (x[i] - mean) * rstd[r];
      y[i] = xhat[i] * rowScale(s, r, j) + (s.bias ? s.bias[g * d + j] : 0);
    }
  }
  return { y, xhat, rstd };
}

/** Gradients of Σ dy·y: dx always; dweight (or dscale) and dbias (or dshift) summed over each group's rows. */
export function normBackward(dy: Float64Array, x: Float64Array, s: NormSpec): NormGrads {
  const { rows, d } = s;
  const groups = s.groups ?? 1;
  const { xhat, rstd } = normForward(x, s);
  const dx = new Float64Array(rows * d);
  const dweight = s.weight ? new Float64Array(groups * d) : null;
  const dbias = s.bias ? new Float64Array(groups * d) : null;
  for (let r = 0; r < rows; r++) {
    const g = Math.floor(r / (rows / groups));
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const i = r * d + j;
      const gh = dy[i] * rowScale(s, r, j);
      sg += gh;
      sgx += gh * xhat[i];
      if (dweight) dweight[g * d + j] += dy[i] * xhat[i];
      if (dbias) dbias[g * d + j] += dy[i];
    }
    const mg = s.center ? sg / d : 0;
    for (let j = 0; j < d; j++) {
      const i = r * d + j;
      dx[i] = rstd[r] * (dy[i] * rowScale(s, r, j) - mg - (xhat[i] * sgx) / d);
    }
  }
  return { dx, dweight, dbias };
}
