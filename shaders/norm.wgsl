// Row norms over the last dim: LayerNorm (CENTER) and RMSNorm (!CENTER), each with an optional affine that may
// be per group of rows, which makes the same kernel SD3's fused adaLN `LN(x)·(1 + scale[b]) + shift[b]`.
//
//   xhat = (x − mean)·rstd  (LN)      or  x·rstd  (RMS)
//   y    = xhat · W + B,    W = HAS_W ? (ONE_PLUS ? 1 + w[g] : w[g]) : 1,   B = HAS_B ? b[g] : 0,   g = row / group
//
// Plain affine: w, b are [D] and group = rows (g is always 0). adaLN: w = scale, b = shift are [B, D], group = T.
//
// Prepended by TypeScript (ops/modulate.ts `vecPrelude`): `alias vt` (f32, or vec4<f32> when D % 4 == 0 so every
// row starts 16-byte aligned and a thread moves 128 bits per load), `fn hsum(vt) -> f32`, `fn first(vt) -> f32`.
// Layout: x, y, dy, dx row-major [rows, D] read as array<vt> with nv = D / VW vectors per row.
// stats[row] = (k, m, rstd, 0): the mean is k + m, with k = the row's first element. Subtracting k first is exact
// for values within a factor 2 of each other (Sterbenz) and keeps the summed values small, so a row with a large
// mean and a small spread loses no precision to the mean; the variance is then a second pass over (x − k − m)²,
// never E[x²] − E[x]² (which cancels catastrophically). RMS rows store (0, 0, rstd, 0).
//
// Dispatch: workgroups of 256 threads (the WebGPU default maxComputeInvocationsPerWorkgroup; 8 NVIDIA warps or
// 4 AMD wave64s). LANES threads (a power of two) share one row, 256 / LANES rows per workgroup, so a short row
// (RMS q/k norm over Dh = 64) does not leave most of a workgroup idle. The TS side picks LANES so that each thread
// holds about 4 vectors (enough independent loads in flight to hide DRAM latency, few registers); on software
// adapters (SwiftShader) it uses LANES = 1, because there a barrier costs a switch of every invocation (see
// normFlags in ops/norm.ts: 20x faster on 2 CPU cores). A row's sums are reduced with a log2(LANES)-step tree
// in workgroup memory (works on every adapter; no subgroup feature needed). Workgroup index = wid.x + wid.y · nwg.x (grid1d fold past 65535 workgroups).
// The row is read 2-3 times (mean, variance, output): the passes are back to back in one workgroup, so the
// re-reads hit L1/L2 (a 1536-wide row is 6 KiB) and DRAM sees about one read of x and one write of y.

struct Params {
  rows: u32,
  nv: u32,     // vectors per row
  group: u32,  // rows sharing one w/b row
  d: f32,      // D, as the divisor of the means
  eps: f32,
}

override LANES: u32 = 64u;
override CENTER: bool = true;
override HAS_W: bool = false;
override HAS_B: bool = false;
override ONE_PLUS: bool = false;

const WG: u32 = 256u;

var<workgroup> red: array<vec2<f32>, WG>;

// Sum of v over the LANES threads of this row (every thread of the workgroup must call it: it has barriers).
fn rowSum2(lid: u32, lane: u32, v: vec2<f32>) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = LANES / 2u; s > 0u; s = s >> 1u) {
    if (lane < s) {
      red[lid] = red[lid] + red[lid + s];
    }
    workgroupBarrier();
  }
  let total = red[lid - lane];
  workgroupBarrier(); // everyone has read the total before `red` is reused
  return total;
}

fn affineW(w: vt) -> vt {
  if (ONE_PLUS) {
    return w + vt(1.0);
  }
  return w;
}

// ------------------------------------------------------------------------------------------------- forward

@group(0) @binding(0) var<storage, read> f_x: array<vt>;
@group(0) @binding(1) var<storage, read> f_w: array<vt>;   // x's buffer when !HAS_W (never read)
@group(0) @binding(2) var<storage, read> f_b: array<vt>;   // x's buffer when !HAS_B (never read)
@group(0) @binding(3) var<storage, read_write> f_y: array<vt>;
@group(0) @binding(4) var<storage, read_write> f_stats: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> fp: Params;

@compute @workgroup_size(WG)
fn norm_fwd(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let lane = lid % LANES;
  let row = (wid.x + wid.y * nwg.x) * (WG / LANES) + lid / LANES;
  let live = row < fp.rows; // dead threads still take part in the barriers
  let base = row * fp.nv;

  var k = 0.0;
  var m = 0.0;
  if (CENTER) {
    if (live) {
      k = first(f_x[base]);
    }
    var s = 0.0;
    if (live) {
      for (var j = lane; j < fp.nv; j += LANES) {
        s += hsum(f_x[base + j] - vt(k));
      }
    }
    m = rowSum2(lid, lane, vec2(s, 0.0)).x / fp.d;
  }
  var q = 0.0;
  if (live) {
    for (var j = lane; j < fp.nv; j += LANES) {
      let c = f_x[base + j] - vt(k) - vt(m);
      q += hsum(c * c);
    }
  }
  let rstd = inverseSqrt(rowSum2(lid, lane, vec2(q, 0.0)).x / fp.d + fp.eps);
  if (!live) {
    return;
  }
  let gbase = (row / fp.group) * fp.nv;
  for (var j = lane; j < fp.nv; j += LANES) {
    var o = (f_x[base + j] - vt(k) - vt(m)) * rstd;
    if (HAS_W) {
      o = o * affineW(f_w[gbase + j]);
    }
    if (HAS_B) {
      o = o + f_b[gbase + j];
    }
    f_y[base + j] = o;
  }
  if (lane == 0u) {
    f_stats[row] = vec4(k, m, rstd, 0.0);
  }
}

// ------------------------------------------------------------------------------------------------- backward
// dx only (dW/dB are sums over rows: ops/modulate.ts `broadcastGrads`). With dxh = dy · W:
//   LN:  dx = rstd · (dxh − mean(dxh) − xhat · mean(dxh · xhat))
//   RMS: dx = rstd · (dxh − xhat · mean(dxh · xhat))

@group(0) @binding(0) var<storage, read> b_dy: array<vt>;
@group(0) @binding(1) var<storage, read> b_x: array<vt>;
@group(0) @binding(2) var<storage, read> b_w: array<vt>;   // x's buffer when !HAS_W (never read)
@group(0) @binding(3) var<storage, read> b_stats: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> b_dx: array<vt>;
@group(0) @binding(5) var<uniform> bp: Params;

fn dxhat(base: u32, gbase: u32, j: u32) -> vt {
  let dy = b_dy[base + j];
  if (HAS_W) {
    return dy * affineW(b_w[gbase + j]);
  }
  return dy;
}

@compute @workgroup_size(WG)
fn norm_bwd(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let lane = lid % LANES;
  let row = (wid.x + wid.y * nwg.x) * (WG / LANES) + lid / LANES;
  let live = row < bp.rows;
  let base = row * bp.nv;
  let gbase = (row / bp.group) * bp.nv;

  var st = vec4(0.0);
  var acc = vec2(0.0);
  if (live) {
    st = b_stats[row];
    for (var j = lane; j < bp.nv; j += LANES) {
      let xh = (b_x[base + j] - vt(st.x) - vt(st.y)) * st.z;
      let g = dxhat(base, gbase, j);
      acc += vec2(hsum(g), hsum(g * xh));
    }
  }
  let mean = rowSum2(lid, lane, acc) / bp.d; // (mean(dxh), mean(dxh · xhat))
  if (!live) {
    return;
  }
  var mg = 0.0;
  if (CENTER) {
    mg = mean.x;
  }
  for (var j = lane; j < bp.nv; j += LANES) {
    let xh = (b_x[base + j] - vt(st.x) - vt(st.y)) * st.z;
    b_dx[base + j] = st.z * (dxhat(base, gbase, j) - vt(mg) - xh * mean.y);
  }
}
