// Elementwise kernels. TEMPLATE: the ops are declared once in the table of src/tensor/ops/elementwise.ts (a
// WGSL forward expression and a WGSL backward expression per op); TypeScript cuts a `//! section` out of this
// file, prepends shaders/activation.wgsl, shaders/strided.wgsl and `//! prelude`, and substitutes $EXPR. `$` is not WGSL, so a missed
// substitution fails to compile. lerp is hand-written (three operands, one of them per sample).
//
// Names inside $EXPR: x (unary input), a, b (binary inputs), g (the output's gradient), s (the op's scalar).
// Layout: flat contiguous f32. Broadcast operands are read through strides: the output index is decomposed over
// the merged output dims (at most 4) and dotted with the operand's strides (0 on dims it is repeated over).
// BCAST = false (every operand has the output's shape) skips that index math.
//
// Dispatch: grid1d(n, 256), one element per thread, flat index = gid.x + gid.y * nwg.x * 256 (y fold past
// 65535 workgroups). These kernels do 1 to 20 flops per 8 to 16 bytes, far below any GPU's flop:byte ratio
// (H100 ~ 20 flops per byte), so they are bound by memory: the design goal is only that consecutive threads
// touch consecutive floats (one 128-byte line per warp access). Workgroup 256: WebGPU's guaranteed maximum,
// 8 warps / 4 wavefronts, enough resident loads to cover DRAM latency.

//! prelude
struct Params {
  n: u32,
  s: f32,      // the op's scalar (scale, addScalar, addScaled's alpha); ignored by the others
  inner: u32,  // lerp: elements per sample
  _pad: u32,
  dims: vec4u, // merged output dims, outermost first, padded with 1 at the front
  sa: vec4u,   // strides of a, in elements (0 = broadcast)
  sb: vec4u,   // strides of b
}

fn ew_sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

//! unary
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = X[i];
  let s = p.s;
  Y[i] = $EXPR;
}

//! unary_grad
// X is bound to G's buffer when the backward expression does not read x (nothing was saved).
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> GX: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = X[i];
  let g = G[i];
  let s = p.s;
  GX[i] = $EXPR;
}

//! binary
override BCAST: bool = true;
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  var ia = i;
  var ib = i;
  if (BCAST) {
    ia = strided_offset(i, p.dims, p.sa);
    ib = strided_offset(i, p.dims, p.sb);
  }
  let a = A[ia];
  let b = B[ib];
  let s = p.s;
  Y[i] = $EXPR;
}

//! binary_grad
// The gradient for one operand at the OUTPUT's shape; TypeScript sums it over broadcast dims afterwards.
// An operand the expression does not read is bound to G's buffer (its index stays in range: it is never
// larger than the output).
override BCAST: bool = true;
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> GX: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  var ia = i;
  var ib = i;
  if (BCAST) {
    ia = strided_offset(i, p.dims, p.sa);
    ib = strided_offset(i, p.dims, p.sb);
  }
  let a = A[ia];
  let b = B[ib];
  let g = G[i];
  let s = p.s;
  GX[i] = $EXPR;
}

//! lerp
// Y = (1 − t)·A + t·B with t = T[sample]: the flow-matching interpolation z_s = (1 − s)·z0 + s·z1, written in
// this form (not A + t·(B − A)) so that t = 0 and t = 1 return A and B exactly.
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let t = T[i / p.inner];
  Y[i] = (1.0 - t) * A[i] + t * B[i];
}

//! lerp_grad
// GX = w·G with w = 1 − t (SIDE 0: gradient of A) or t (SIDE 1: gradient of B).
override SIDE: u32 = 0u;
@group(0) @binding(0) var<storage, read> T: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> GX: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let t = T[i / p.inner];
  GX[i] = select(1.0 - t, t, SIDE == 1u) * G[i];
}
