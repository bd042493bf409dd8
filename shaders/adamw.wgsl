// adamw: torch.optim.AdamW (decoupled weight decay, bias correction, eps outside the sqrt, per-parameter step
// counts) over EVERY parameter tensor in one update dispatch, with clip_grad_norm_ folded in and a refusal of
// the whole step when the global gradient norm is not finite. Spec: src/tensor/reference/optim.ts.
//
// Layout (arenaLayout in src/tensor/ops/optim.ts, shared with gradnorm.wgsl):
//   param, grad, m, v : flat vec4<f32> arenas; tensor k starts at a multiple of CHUNK = 1024 floats.
//   chunks            : per chunk (tensor k, valid floats 1..1024).
//   live            : per tensor, 1 when the parameter has a gradient this step (PyTorch skips grad=None).
//   steps             : per tensor u32 step count t; lives on the GPU so that a refused step does not count
//                       without the CPU ever waiting for the verdict.
//   lr_scale          : per tensor multiplier of lr (parameter groups: e.g. a text encoder trained slower).
//   coef              : per tensor (lr_k / (1 − β1^t), sqrt(1 − β2^t), applied ? 1 : 0, 1 − lr_k·wd) with
//                       lr_k = lr · lr_scale[k], written by `prepare`.
//   norm              : [1] global norm of grad_scale·grad from gradnorm.wgsl (NaN when non-finite).
//
// Dispatch 1, prepare: ONE workgroup, a loop over the tensors (per-tensor scalar work: a few hundred tensors).
//   Reads norm; writes skipped[0] (1 = refused), advances steps[k] of applied tensors, writes coef[k].
// Dispatch 2, update: one workgroup per chunk (grid folded into y past 65535): per element, as PyTorch:
//   g = grad · grad_scale · min(1, max_norm / (norm + 1e-6))     (clip factor 1 when max_norm = 0)
//   p = p · (1 − lr_k·wd);  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p = p − step_size · (m / (sqrt(v) / sqrt(1 − β2^t) + eps))
//   Tensors with coef.z = 0 (no gradient, or a refused step) are not touched at all.
// Sizes: 256 threads × one vec4 per arena = 1024 floats per workgroup. AdamW is bandwidth-bound (7 × 4 bytes
//   per element: read p, g, m, v; write p, m, v); 128-bit loads/stores keep every access fully coalesced, and
//   256 threads is a full occupancy unit on NVIDIA (8 warps), AMD (4 wave64) and Apple (8 simdgroups).
//   7 storage bindings: within WebGPU's default maxStorageBuffersPerShaderStage of 8.

struct PrepareParams {
  n_tensors: u32,
  lr: f32,
  ln_beta1: f32, // ln β1 and ln β2 from float64 on the CPU: 1 − β^t = −expm1(t · ln β) without cancellation
  ln_beta2: f32,
  weight_decay: f32,
}

struct UpdateParams {
  n_chunks: u32,
  beta1: f32,
  one_minus_beta1: f32, // from float64 on the CPU, as PyTorch passes (1 − β) as a scalar
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  max_norm: f32,        // 0: no clipping
  grad_scale: f32,
}

// prepare's bindings
@group(0) @binding(0) var<storage, read> norm_in: array<f32>;
@group(0) @binding(1) var<storage, read_write> skipped: array<f32>;
@group(0) @binding(2) var<storage, read> live: array<u32>;
@group(0) @binding(3) var<storage, read_write> steps: array<u32>;
@group(0) @binding(4) var<storage, read_write> coef_out: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> lr_scale: array<f32>;
@group(0) @binding(6) var<uniform> pp: PrepareParams;

// update's bindings
@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> chunks: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> norm: array<f32>;
@group(0) @binding(7) var<uniform> up: UpdateParams;

const EXP_MASK = 0x7f800000u;

// Bit test: survives a compiler that assumes floats are finite (WGSL allows that assumption).
fn non_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & EXP_MASK) == EXP_MASK;
}

// 1 − e^y for y <= 0. Near 0 (early steps, β2 = 0.999: y ≈ −0.001·t) 1 − exp(y) would cancel to ~1e-4
// relative error in f32, so a Taylor series of −expm1 is used there (truncation < 1e-10 relative).
fn one_minus_exp(y: f32) -> f32 {
  if (y > -0.25) {
    var q = 1.0 + y / 9.0;
    q = 1.0 + (y / 8.0) * q;
    q = 1.0 + (y / 7.0) * q;
    q = 1.0 + (y / 6.0) * q;
    q = 1.0 + (y / 5.0) * q;
    q = 1.0 + (y / 4.0) * q;
    q = 1.0 + (y / 3.0) * q;
    q = 1.0 + (y / 2.0) * q;
    return -y * q;
  }
  return 1.0 - exp(y);
}

@compute @workgroup_size(256)
fn prepare(@builtin(local_invocation_index) lid: u32) {
  let finite = !non_finite(norm_in[0]);
  if (lid == 0u) { skipped[0] = select(1.0, 0.0, finite); }
  for (var k = lid; k < pp.n_tensors; k += 256u) {
    let apply = finite && live[k] != 0u;
    var c = vec4<f32>(0.0);
    if (apply) {
      let t = steps[k] + 1u;
      steps[k] = t;
      let tf = f32(t); // exact below 2^24 steps
      let bc1 = one_minus_exp(tf * pp.ln_beta1);
      let bc2 = one_minus_exp(tf * pp.ln_beta2);
      let lr = pp.lr * lr_scale[k];
      c = vec4<f32>(lr / bc1, sqrt(bc2), 1.0, 1.0 - lr * pp.weight_decay);
    }
    coef_out[k] = c;
  }
}

@compute @workgroup_size(256)
fn update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= up.n_chunks) { return; }
  let ch = chunks[c];
  let cf = coef[ch.x];
  // Not applied (refused step, or no gradient), or a vec4 wholly past the tensor's end (padding).
  if (cf.z == 0.0 || lid * 4u >= ch.y) { return; }
  var factor = up.grad_scale;
  if (up.max_norm > 0.0) { factor *= min(1.0, up.max_norm / (norm[0] + 1e-6)); }
  let i = c * 256u + lid;
  // Lanes past the end of a partial last vec4 are padding (zeros, which stay zeros unless eps = 0): computed
  // along with the rest, never copied back to a parameter, never read by the norm or by state().
  let g = grad[i] * factor;
  let p0 = param[i] * cf.w;
  let m1 = up.beta1 * m[i] + up.one_minus_beta1 * g;
  let v1 = up.beta2 * v[i] + up.one_minus_beta2 * (g * g);
  let denom = sqrt(v1) / cf.y + up.eps;
  param[i] = p0 - cf.x * (m1 / denom);
  m[i] = m1;
  v[i] = v1;
}
