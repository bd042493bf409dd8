// float64 reference of softmax over the last dimension (spec of shaders/softmax.wgsl).
// x and y are row-major [rows, n].

export function softmaxForward(x: Float64Array, rows: number, n: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, x[o + i]);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(x[o + i] - max);
    for (let i = 0; i < n; i++) y[o + i] = Math.exp(x[o + i] - max) / sum;
  }
  return y;
}

/** dx = y∘(dy − Σ dy·y): the Jacobian of softmax is diag(y) − y·yᵀ, applied row by row. */
export function softmaxBackward(y: Float64Array, dy: Float64Array, rows: number, n: number): Float64Array {
  const dx = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let dot = 0;
    for (let i = 0; i < n; i++) dot += dy[o + i] * y[o + i];
    for (let i = 0; i < n; i++) dx[o + i] = y[o + i] * (dy[o + i] - dot);
  }
  return dx;
}
