// Shape kernels: strided copies over up to 4 dims (the dims are merged in TypeScript first; see
// src/tensor/ops/shape.ts). They move data and compute nothing, so they are memory-bound: each thread moves one
// float, and the contiguous side of every copy is indexed by the thread id so that a warp's 32 loads or stores
// fall in one 128-byte line.
//
//   gather:  Y[i] = s * X[base + offset(i)]      Y contiguous: slice/split, permute, expand (stride 0), copy
//   scatter: Y[base + offset(i)] = s * X[i]      X contiguous: concat (each part into its region of Y)
//   embed:   Y over [outer, total, inner]: the rows t in [base, base + extent) along the middle dim come from X
//            ([outer, extent, inner]), every other element is 0. The backward of split in one pass (no fill).
//
// offset(i) decomposes i over `dims` (outermost first, padded with 1 at the front) and dots it with `strides`
// (in elements; 0 repeats an element, which is how broadcasting reads).
// Dispatch: grid1d(n, 256), flat index = gid.x + gid.y * nwg.x * 256 (y fold past 65535 workgroups).
// Workgroup 256: WebGPU's guaranteed maximum; 8 warps (NVIDIA) or 4 wavefronts (AMD) per workgroup keep enough
// loads in flight per SM to cover DRAM latency in a kernel with no reuse.

struct Params {
  n: u32,        // elements this dispatch moves
  base: u32,     // element offset on the strided side (embed: first row of the region)
  s: f32,        // scale applied while copying (1, -1, or 1/N for the backward of a mean)
  extent: u32,   // embed only: rows of the region along the middle dim
  dims: vec4u,
  strides: vec4u,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn strided_offset(i: u32) -> u32 {
  var r = i;
  let i3 = r % p.dims.w;
  r = r / p.dims.w;
  let i2 = r % p.dims.z;
  r = r / p.dims.z;
  let i1 = r % p.dims.y;
  let i0 = r / p.dims.y;
  return i0 * p.strides.x + i1 * p.strides.y + i2 * p.strides.z + i3 * p.strides.w;
}

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  Y[i] = p.s * X[p.base + strided_offset(i)];
}

@compute @workgroup_size(256)
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  Y[p.base + strided_offset(i)] = p.s * X[i];
}

@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  // dims = (1, outer, total, inner)
  let inner = p.dims.w;
  let j = i % inner;
  let t = (i / inner) % p.dims.z;
  let o = i / (inner * p.dims.z);
  var v = 0.0;
  if (t >= p.base && t < p.base + p.extent) {
    v = p.s * X[(o * p.extent + (t - p.base)) * inner + j];
  }
  Y[i] = v;
}
