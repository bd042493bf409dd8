// selftest.wgsl: the studio's "does compute really work here" check (src/gpu/selftest.ts).
// What:   y[i] = a[i] * b[i] + f32(i), one invocation per element.
// Layout: a, b (read-only) and y (read-write) are dense f32 arrays of the same length n = arrayLength(&y).
// Limits: one workgroup of 64 per 64 elements, so n <= 64 * maxComputeWorkgroupsPerDimension (4 194 240 with
//         the default 65 535); the test uses ~1000. Inputs are chosen by the caller so every product and sum is
//         exact in f32, which lets the check demand bit-exact agreement with the CPU.

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&y)) {
    return;
  }
  y[i] = a[i] * b[i] + f32(i);
}
