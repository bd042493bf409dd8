// Activation functions shared by kernels with fused epilogues (matmul) and by the elementwise table.
// Prepended to a kernel's source in TypeScript (WGSL has no #include): `code: activationWgsl + kernelWgsl`.
// GELU uses the tanh approximation, as SD3's FeedForward (`gelu-approximate`, approximate="tanh").

const GELU_C: f32 = 0.7978845608028654; // sqrt(2/pi)
const GELU_K: f32 = 0.044715;

fn gelu_tanh(x: f32) -> f32 {
  let u = GELU_C * (x + GELU_K * x * x * x);
  return 0.5 * x * (1.0 + tanh_safe(u));
}

fn gelu_tanh_grad(x: f32) -> f32 {
  let u = GELU_C * (x + GELU_K * x * x * x);
  let t = tanh_safe(u);
  let du = GELU_C * (1.0 + 3.0 * GELU_K * x * x);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du;
}

fn silu(x: f32) -> f32 {
  return x / (1.0 + exp(-x));
}

fn silu_grad(x: f32) -> f32 {
  let s = 1.0 / (1.0 + exp(-x));
  return s * (1.0 + x * (1.0 - s));
}

// WGSL's tanh may return NaN for large |x| on some drivers (exp overflow inside); clamp first:
// tanh(10) == 1 in f32 already.
fn tanh_safe(x: f32) -> f32 {
  return tanh(clamp(x, -10.0, 10.0));
}
