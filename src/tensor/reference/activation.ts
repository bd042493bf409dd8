// float64 reference of the activation functions (spec of shaders/activation.wgsl).

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** GELU, tanh approximation (SD3 FeedForward's `gelu-approximate`). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_K * x ** 3)));
}

export function geluTanhGrad(x: number): number {
  const t = Math.tanh(GELU_C * (x + GELU_K * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * x * x);
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function siluGrad(x: number): number {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
}

export type Activation = 'none' | 'gelu_tanh' | 'silu';

export function activate(kind: Activation, x: number): number {
  return kind === 'gelu_tanh' ? geluTanh(x) : kind === 'silu' ? silu(x) : x;
}

export function activateGrad(kind: Activation, x: number): number {
  return kind === 'gelu_tanh' ? geluTanhGrad(x) : kind === 'silu' ? siluGrad(x) : 1;
}
