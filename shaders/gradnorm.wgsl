// gradnorm: global L2 norm of many tensors in two dispatches, with a non-finite flag that survives compilers'
// finite-math assumptions: it is tested on bits and carried as a NaN bit pattern through integer stores (WGSL
// may assume floats are finite, and cannot even spell a NaN constant).
// Spec: refGradNorm in src/tensor/reference/optim.ts.
//
// Layout (shared with adamw.wgsl, built by arenaLayout in src/tensor/ops/optim.ts):
//   x       : flat arena of vec4<f32>; tensor k starts at a multiple of CHUNK = 1024 floats.
//   chunks  : per chunk c, (tensor index k, valid floats in the chunk, 1..1024). Floats past `valid` are
//             padding and are ignored (they may hold anything, e.g. NaN poison in tests).
//   live  : per tensor, nonzero when it takes part (AdamW: the parameter has a gradient this step).
// Dispatch 1, partial: one workgroup per chunk, grid folded into y past 65535 (chunk = wid.x + wid.y·nwg.x);
//   writes partials[c] = Σ x² over the chunk, or a NaN bit pattern when any element is NaN/Inf.
// Dispatch 2, finish: ONE workgroup sums the partials (fixed order: deterministic), writes
//   norm[0] = sqrt(Σ)·scale, or NaN when anything was non-finite (or the sum overflowed).
// Sizes: 256 threads × one vec4 = 1024 floats per workgroup: each thread issues one 128-bit load (full
//   coalescing on every GPU), 256 threads is a full occupancy unit (8 warps / 4 wave64), and the shared-memory
//   tree needs 256·8 bytes. A norm over N floats launches N/1024 workgroups: plenty for any GPU at LoRA sizes.
// Limits: the sum of squares is f32, so a norm above ~1.8e19 overflows and reads as non-finite.

struct PartialParams { n_chunks: u32 }
struct FinishParams { n_partials: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> chunks: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> live: array<u32>;
@group(0) @binding(3) var<storage, read_write> partials: array<u32>; // f32 bits, or NAN_BITS
@group(0) @binding(4) var<uniform> pp: PartialParams;

// The finish pass has its own bindings (separate entry point, separate interface).
@group(0) @binding(0) var<storage, read> partials_in: array<u32>;
@group(0) @binding(1) var<storage, read_write> norm: array<u32>; // the [1] f32 output tensor, stored as bits
@group(0) @binding(2) var<uniform> fp: FinishParams;

const EXP_MASK = 0x7f800000u;
const NAN_BITS = 0x7fc00000u;

var<workgroup> red_sum: array<f32, 256>;
var<workgroup> red_bad: array<u32, 256>;

fn non_finite(v: f32) -> bool {
  return (bitcast<u32>(v) & EXP_MASK) == EXP_MASK;
}

// Tree reduction of red_sum / red_bad over the workgroup; the result is in slot 0.
fn reduce(lid: u32) {
  for (var s = 128u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      red_sum[lid] += red_sum[lid + s];
      red_bad[lid] |= red_bad[lid + s];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(256)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= pp.n_chunks) { return; } // uniform per workgroup, so the barriers below stay in uniform flow
  let ch = chunks[c];
  var s = 0.0;
  var bad = 0u;
  if (live[ch.x] != 0u) {
    let first = lid * 4u;
    let keep = (vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(ch.y);
    let v = select(vec4<f32>(0.0), x[c * 256u + lid], keep);
    let e = bitcast<vec4<u32>>(v) & vec4<u32>(EXP_MASK);
    bad = select(0u, 1u, any(e == vec4<u32>(EXP_MASK)));
    s = dot(v, v);
  }
  red_sum[lid] = s;
  red_bad[lid] = bad;
  reduce(lid);
  if (lid == 0u) {
    partials[c] = select(bitcast<u32>(red_sum[0]), NAN_BITS, red_bad[0] != 0u);
  }
}

// Dispatch 1 without barriers (variant 'serial' of the reduction choice, src/tensor/kernels.ts): one thread per
// chunk sums its 256 vec4s in order, so a software adapter, where each workgroupBarrier() switches all 256
// invocations of a workgroup, runs no barrier at all. Dispatch grid1d(n_chunks, 64). Same partials, summed in
// another order (so the last bits of the norm differ from `partial`).
@compute @workgroup_size(64)
fn partial_serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * 64u;
  if (c >= pp.n_chunks) { return; }
  let ch = chunks[c];
  var s = 0.0;
  var bad = false;
  if (live[ch.x] != 0u) {
    let n4 = (ch.y + 3u) / 4u;
    for (var i = 0u; i < n4; i++) {
      let keep = (vec4<u32>(i * 4u) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(ch.y);
      let v = select(vec4<f32>(0.0), x[c * 256u + i], keep);
      bad = bad || any((bitcast<vec4<u32>>(v) & vec4<u32>(EXP_MASK)) == vec4<u32>(EXP_MASK));
      s += dot(v, v);
    }
  }
  partials[c] = select(bitcast<u32>(s), NAN_BITS, bad);
}

@compute @workgroup_size(256)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var bad = 0u;
  for (var i = lid; i < fp.n_partials; i += 256u) {
    let b = partials_in[i];
    if ((b & EXP_MASK) == EXP_MASK) { bad = 1u; }
    s += bitcast<f32>(b);
  }
  red_sum[lid] = s;
  red_bad[lid] = bad;
  reduce(lid);
  if (lid == 0u) {
    let r = sqrt(red_sum[0]) * fp.scale;
    norm[0] = select(bitcast<u32>(r), NAN_BITS, red_bad[0] != 0u || non_finite(r));
  }
}
