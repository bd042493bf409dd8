// Sum reductions and the per-sample MSE gradient. TEMPLATE: src/tensor/ops/reduce.ts cuts a `//! section`,
// prepends shaders/strided.wgsl and `//! prelude` and substitutes $LOAD (what is summed at flat input index i: IN0[i], a squared
// difference, ...). `$` is not WGSL, so a missed substitution fails to compile.
//
// A reduction is "kept dims" x "reduced dims" over a contiguous input (both lists merged in TS, at most 4 each,
// with their input strides). Output element o (contiguous over the kept dims) = scale · Σ_r LOAD(base(o) + off(r)).
//
// Design: two passes, deterministic, no atomics. WGSL has atomics only for i32/u32 (no float atomicAdd); a
// compare-exchange loop on bitcast floats would serialise under contention and make the result depend on
// thread timing, and training must be reproducible from its seed. So:
//   pass 1: each workgroup sums one chunk of the reduced range -> partial[chunk][o]
//   pass 2 (only when there is more than one chunk): the same kernel sums partial over the chunks.
// Two entry points, picked per reduction so that consecutive threads read consecutive addresses (coalescing):
//   row: the reduced dims are innermost (row sums, per-sample MSE, a full sum). One workgroup per (o, chunk);
//        its 256 threads stride over the chunk (each adds ~8+ values serially, which amortises the tree), then
//        a tree in workgroup memory: 256 floats = 1 KiB, far below the 16 KiB WebGPU guarantees, so
//        occupancy is limited by threads, not memory; 8 barrier steps.
//   col: the kept dims are innermost (a bias gradient [N, D] -> [D]). One thread per o, 256 consecutive o per
//        workgroup: a warp reads 32 neighbouring floats of one row per step; chunks of the reduced range spread
//        the work over enough workgroups to fill the GPU (see reduceTuning in reduce.ts).
// Grids fold past 65535 workgroups: w = wid.x + wid.y * nwg.x.

//! prelude
struct Params {
  n_out: u32,
  n_red: u32,
  chunk_len: u32,
  chunks: u32,
  scale: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  kept_dims: vec4u,
  kept_strides: vec4u,
  red_dims: vec4u,
  red_strides: vec4u,
}

const WG: u32 = 256u;

fn sq(x: f32) -> f32 { return x * x; }

//! reduce
// Unused inputs are bound to IN0's buffer by TypeScript; the phony uses keep all three in the layout.
@group(0) @binding(0) var<storage, read> IN0: array<f32>;
@group(0) @binding(1) var<storage, read> IN1: array<f32>;
@group(0) @binding(2) var<storage, read> IN2: array<f32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> partial: array<f32, WG>;

fn load(i: u32) -> f32 {
  _ = &IN0;
  _ = &IN1;
  _ = &IN2;
  return $LOAD;
}

@compute @workgroup_size(WG)
fn row(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.n_out * p.chunks) { return; } // uniform: the whole workgroup leaves together
  let o = w % p.n_out;
  let c = w / p.n_out;
  let base = strided_offset(o, p.kept_dims, p.kept_strides);
  let r_end = min((c + 1u) * p.chunk_len, p.n_red);
  var acc = 0.0;
  for (var r = c * p.chunk_len + lid; r < r_end; r += WG) {
    acc += load(base + strided_offset(r, p.red_dims, p.red_strides));
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) { partial[lid] += partial[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) { OUT[c * p.n_out + o] = partial[0] * p.scale; }
}

@compute @workgroup_size(WG)
fn col(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tiles = (p.n_out + WG - 1u) / WG;
  let w = wid.x + wid.y * nwg.x;
  if (w >= tiles * p.chunks) { return; }
  let o = (w % tiles) * WG + lid;
  let c = w / tiles;
  if (o >= p.n_out) { return; }
  let base = strided_offset(o, p.kept_dims, p.kept_strides);
  let r_end = min((c + 1u) * p.chunk_len, p.n_red);
  var acc = 0.0;
  for (var r = c * p.chunk_len; r < r_end; r++) {
    acc += load(base + strided_offset(r, p.red_dims, p.red_strides));
  }
  OUT[c * p.n_out + o] = acc * p.scale;
}

//! mse_grad
// GP[i] = scale · G[i / inner] · (P[i] − T[i]), scale = ±2/inner: the gradient of the per-sample mean of
// (P − T)² w.r.t. P (+) or T (−). One thread per element; the G read is a broadcast that stays in cache.
struct MseParams { n: u32, inner: u32, scale: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read> T: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> GP: array<f32>;
@group(0) @binding(4) var<uniform> q: MseParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= q.n) { return; }
  GP[i] = q.scale * G[i / q.inner] * (P[i] - T[i]);
}
