// matmul_common: the parameters, epilogue bindings and fused epilogue shared by both matmul kernels
// (shaders/matmul.wgsl = v1 naive, shaders/matmul_tiled.wgsl = v2 register-tiled). Prepended in TypeScript after
// shaders/activation.wgsl: `activation + matmul_common + kernel` (WGSL has no #include).
//
// What a matmul kernel computes, for every output batch z < gridZ, row m < M, column n < N:
//   acc      = Σ_{r < nRed} Σ_{k < K} opA(z, r)[m, k] · opB(z, r)[k, n]
//   pre      = alpha·acc + bias[n] + residual[z, m, n]       (bias / residual only when enabled)
//   c        = act(pre)                                       (none | gelu_tanh | silu)
//   pre_out  = pre                                            (only with STORE_PRE: the backward needs it)
// opA(z, r) starts at element z·aBatch + r·aRed of `a` and is stored [M, K] row-major, or [K, M] with TRANS_A;
// likewise opB at z·bBatch + r·bRed, stored [K, N], or [N, K] with TRANS_B. A batch stride of 0 broadcasts an
// operand over z (weights shared by every batch); nRed > 1 sums the products of several batches into one output
// (the weight gradient of a broadcast weight), so the sum over batches needs no extra buffer or pass.
// c, residual and pre_out are [gridZ, M, N] row-major (batch stride M·N).
//
// Bindings: 0 a, 1 b (declared by the kernel: f32 in v1, vec4<f32> in v2), 2 bias, 3 residual, 4 c, 5 pre_out,
// 6 params. Bindings that a variant does not use are still bound (layout 'auto' keeps every statically used
// binding): the TypeScript side binds `b` for bias, `a` for residual and a small scratch buffer for pre_out.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  nRed: u32,
  aBatch: u32,
  bBatch: u32,
  aRed: u32,
  bRed: u32,
  alpha: f32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override STORE_PRE: bool = false;
/** 0 none, 1 gelu_tanh, 2 silu (same codes as ops/matmul.ts ACT_CODE). */
override ACT: u32 = 0u;

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read_write> pre_out: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

fn act(x: f32) -> f32 {
  if (ACT == 1u) { return gelu_tanh(x); }
  if (ACT == 2u) { return silu(x); }
  return x;
}

/** Bias, residual, activation and stores for one output element; the caller checks m < M and n < N. */
fn epilogue(z: u32, m: u32, n: u32, acc: f32) {
  let i = (z * p.M + m) * p.N + n;
  var v = p.alpha * acc;
  if (HAS_BIAS) { v += bias[n]; }
  if (HAS_RESIDUAL) { v += residual[i]; }
  if (STORE_PRE) { pre_out[i] = v; }
  c[i] = act(v);
}
