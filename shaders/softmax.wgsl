// softmax over the last dimension, forward and backward. One workgroup per row.
//
//   forward  (entry `forward`):  y = exp(x − max x) / Σ exp(x − max x)
//   backward (entry `backward`): dx = y∘(dy − Σ dy·y)
//
// Layout: x, y, dy, dx are row-major [rows, n] f32. Bindings per entry point (WGSL lets two entry points give
// the same binding to different variables): forward (x, y, params), backward (y, dy, dx, params).
// Dispatch grid1d(rows, 1): row = wg.x + wg.y·nwg.x (rows past 65535 fold into y). Each thread strides over the row (coalesced: neighbouring threads read neighbouring
// elements), then the workgroup combines its partial results with a tree reduction in workgroup memory.
//
// WG (override, a power of two ≤ 256): threads per row. The op picks 64 for short rows and 256 for long ones:
// a reduction costs log2(WG) barriers, so short rows (attention over ~100 tokens) should not pay for 256
// threads, while long rows want ≥ 4 elements per thread in flight to hide memory latency. 64 = one AMD
// wavefront = two NVIDIA warps, the smallest group that fills a SIMD on every vendor. No limit on n.

override WG: u32 = 256u;

struct Params { rows: u32, n: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> pf: Params;

@group(0) @binding(0) var<storage, read> yb: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> pb: Params;

var<workgroup> red: array<f32, WG>;

// Tree reduction of `v` over the workgroup (max when `is_max`, else sum); every thread gets the result.
// Called from uniform control flow only: it contains barriers.
fn reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let o = red[lid + stride];
      red[lid] = select(red[lid] + o, max(red[lid], o), is_max);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier(); // the next reduce overwrites red
  return r;
}

fn row_of(wg: vec3u, nwg: vec3u) -> u32 {
  return wg.x + wg.y * nwg.x;
}

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(wg, nwg);
  if (row >= pf.rows) { return; } // uniform: the whole workgroup leaves together, before any barrier
  let base = row * pf.n;
  // Finite stand-in for −∞: no inf − inf can make a NaN.
  var m = -3.4e38;
  for (var i = lid; i < pf.n; i += WG) { m = max(m, x[base + i]); }
  m = reduce(lid, m, true);
  var s = 0.0;
  for (var i = lid; i < pf.n; i += WG) { s += exp(x[base + i] - m); }
  s = reduce(lid, s, false);
  let inv = 1.0 / s; // s ≥ 1: the max element contributes exp(0)
  for (var i = lid; i < pf.n; i += WG) { y[base + i] = exp(x[base + i] - m) * inv; }
}

@compute @workgroup_size(WG)
fn backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(wg, nwg);
  if (row >= pb.rows) { return; }
  let base = row * pb.n;
  var d = 0.0;
  for (var i = lid; i < pb.n; i += WG) { d += yb[base + i] * dy[base + i]; }
  d = reduce(lid, d, false);
  for (var i = lid; i < pb.n; i += WG) { dx[base + i] = yb[base + i] * (dy[base + i] - d); }
}
