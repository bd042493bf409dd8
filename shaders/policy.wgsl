// Flow-GRPO's clipped policy objective per sample (PPO's), forward and gradient. With r = exp(new − old):
//   loss = max(−A·r, −A·clamp(r, 1 − eps, 1 + eps))
//   d loss / d new = −A·r where the unclipped term is the max (inside the clip range both terms are the same
//   function of r, so the whole gradient), else 0 (the clipped term is constant in r).
// The clipfrac section marks the samples whose ratio is outside [1 − eps, 1 + eps] (the reference's clipfrac
// is their mean; it reads no advantage, so binding 2 is left out of its layout).
// One thread per sample: B is a group of a few dozen, so this is launch-bound; nothing to tune. grid1d(B, 64).

//! prelude
struct Params {
  n: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> NEW: array<f32>;
@group(0) @binding(1) var<storage, read> OLD: array<f32>;
@group(0) @binding(2) var<storage, read> ADV: array<f32>;

fn ratio(i: u32) -> f32 {
  return exp(NEW[i] - OLD[i]);
}

fn clipped(a: f32, r: f32, eps: f32) -> f32 {
  return -a * clamp(r, 1.0 - eps, 1.0 + eps);
}

//! forward
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(4) var<uniform> u: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = id.x + id.y * nwg.x * 64u;
  if (i >= u.n) { return; }
  let r = ratio(i);
  OUT[i] = max(-ADV[i] * r, clipped(ADV[i], r, u.eps));
}

//! backward
@group(0) @binding(3) var<storage, read> G: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(5) var<uniform> u: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = id.x + id.y * nwg.x * 64u;
  if (i >= u.n) { return; }
  let r = ratio(i);
  let unclipped = -ADV[i] * r;
  OUT[i] = select(0.0, unclipped * G[i], unclipped >= clipped(ADV[i], r, u.eps));
}

//! clipfrac
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(4) var<uniform> u: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = id.x + id.y * nwg.x * 64u;
  if (i >= u.n) { return; }
  OUT[i] = select(0.0, 1.0, abs(ratio(i) - 1.0) > u.eps);
}
