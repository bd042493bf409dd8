// axpy: y[i] += alpha * x[i] for i < n (gradient accumulation, LoRA merge/unmerge).
// Layout: flat f32 arrays. Dispatch grid1d(n, 256).

struct Params { n: u32, alpha: f32 }

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < p.n) { y[i] = y[i] + p.alpha * x[i]; }
}
