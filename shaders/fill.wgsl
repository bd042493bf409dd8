// fill: out[i] = value for i < n (zeros; NaN poisoning of outputs in tests).
// Layout: flat f32 array. Dispatch grid1d(n, 256): the flat index folds y into x because
// maxComputeWorkgroupsPerDimension is 65535 on most adapters.

struct Params { n: u32, value: f32 }

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < p.n) { y[i] = p.value; }
}
