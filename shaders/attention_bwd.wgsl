// Fused multi-head attention backward, FlashAttention-2 style (non-causal). With S = scale·Q·Kᵀ,
// P = softmax(S) = exp(S − L) recomputed tile by tile from q, k and the forward's logsumexp L:
//   D  = rowsum(dO∘O)                    entry `rowdot`: one thread per (b, h, query row)
//   dP = dO·Vᵀ,  dS = P∘(dP − D)
//   dQ = scale·dS·K                      entry `dq`:   parallel over query tiles, loops over key tiles
//   dK = scale·dSᵀ·Q,  dV = Pᵀ·dO        entry `dkdv`: parallel over key tiles, loops over query tiles
// Each output row is owned by one workgroup, so no atomics; the price is computing S and dP twice (the
// kernels execute 7 matmul-sized products, against 5 for a single fused kernel with atomic dQ).
// No buffer larger than a tile of P: the P/dP tiles live in workgroup memory only.
//
// Layout as in attention_fwd.wgsl: q, dq, o, do [B, Tq, H·Dh]; k, v, dk, dv [B, Tk, H·Dh]; lse, D [B, H, Tq].
// Dispatch: rowdot grid1d(B·H·Tq, 64); dq (ceil(Tq / DQ_ROWS), H, B); dkdv (ceil(Tk / DKV_KEYS), H, B).
//
// Register budget, the limit on Dh: the obvious dK/dV thread (k, v, dK, dV rows: 4·Dh = 256 floats at Dh = 64)
// and dQ thread (q, dO, dQ: 192 floats) would spill. So each row gets TWO threads with different roles, in
// different halves of the workgroup (warp-uniform branches, same instruction stream):
//   dkdv: role 0 holds k·scale·log2 e and accumulates dK; role 1 holds v and accumulates dV (2·Dh floats each).
//         Phase 1, per staged query row i: role 0 computes P_ij = exp2(q_i·k_j − L_i), role 1 dP_ij − D_i, and
//         both go to workgroup memory; phase 2: role 0 adds P·(dP − D)·q_i to dK, role 1 adds P·dO_i to dV.
//   dq:   role 0 holds q·scale·log2 e, role 1 holds dO (phase 1: P and dP − D as above, per staged key j);
//         phase 2: each role accumulates half of the dQ row (1.5·Dh floats per thread).
//
// The op prepends consts (function-scope arrays need const sizes): DH4 = ceil(Dh / 4), DH4H = ceil(DH4 / 2),
//   DQ_ROWS = DKV_KEYS = 64: rows owned per workgroup (128 threads: a multiple of AMD's 64-wide wavefront and
//        of NVIDIA's 32-wide warp, and each role fills whole waves so its branches never diverge).
//   DQ_KEYS, DKV_ROWS: rows per staged tile. Workgroup memory = two staged tiles (2·tile·Dh·4 bytes) + the P and
//        dP tiles (2·tile·64·4 bytes); tile = 16 makes that exactly 16 KiB at Dh = 64 (WebGPU's guaranteed
//        minimum, and two workgroups per Apple GPU core), and 8 at Dh = 128.
// All threads of a role read the same staged element at once (broadcast); the P/dP tiles are indexed
// [tile row][owned row] so consecutive threads touch consecutive banks.

struct Params {
  tq: u32,
  tk: u32,
  heads: u32,
  dh: u32,
  scale2: f32, // scale·log2(e): scores in log2 units, so exp is a native exp2
  scale: f32,
}

struct RowdotParams { n: u32, tq: u32, heads: u32, dh: u32 }

// ---- rowdot bindings
@group(0) @binding(0) var<storage, read> rd_do: array<f32>;
@group(0) @binding(1) var<storage, read> rd_o: array<f32>;
@group(0) @binding(2) var<storage, read_write> rd_d: array<f32>;
@group(0) @binding(3) var<uniform> rd_p: RowdotParams;

// ---- dq and dkdv bindings (0..5 shared)
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> dsum: array<f32>; // D
@group(0) @binding(6) var<storage, read_write> dq_out: array<f32>;
@group(0) @binding(7) var<uniform> pq: Params;
@group(0) @binding(6) var<storage, read_write> dk_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> dv_out: array<f32>;
@group(0) @binding(8) var<uniform> pkv: Params;

var<workgroup> kv_tile: array<vec4f, 2u * DQ_KEYS * DH4>;    // dq: [K tile | V tile], [j·DH4 + d4]
var<workgroup> pd_q: array<f32, 2u * DQ_KEYS * DQ_ROWS>;      // dq: [P | dP − D], [j·DQ_ROWS + r]
var<workgroup> qdo_tile: array<vec4f, 2u * DKV_ROWS * DH4>;  // dkdv: [Q tile | dO tile], [i·DH4 + d4]
var<workgroup> pd_kv: array<f32, 2u * DKV_ROWS * DKV_KEYS>;   // dkdv: [P | dP − D], [i·DKV_KEYS + r]

const LOG2E: f32 = 1.4426950408889634;

// Four consecutive elements from `base + 4·d4`, zero past Dh.
fn ld(which: u32, base: u32, d4: u32, dh: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    let d = d4 * 4u + c;
    if (d < dh) {
      switch which {
        case 0u: { r[c] = q[base + d]; }
        case 1u: { r[c] = k[base + d]; }
        case 2u: { r[c] = v[base + d]; }
        default: { r[c] = dout[base + d]; }
      }
    }
  }
  return r;
}

@compute @workgroup_size(64)
fn rowdot(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= rd_p.n) { return; }
  let row = i % rd_p.tq;
  let bh = i / rd_p.tq;
  let base = ((bh / rd_p.heads) * rd_p.tq + row) * rd_p.heads * rd_p.dh + (bh % rd_p.heads) * rd_p.dh;
  var s = 0.0;
  for (var d = 0u; d < rd_p.dh; d++) { s += rd_do[base + d] * rd_o[base + d]; }
  rd_d[i] = s; // i = (b·H + h)·Tq + row
}

@compute @workgroup_size(2u * DQ_ROWS)
fn dq(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u) {
  let role = lid / DQ_ROWS; // 0: q, computes P; 1: dO, computes dP − D
  let r = lid % DQ_ROWS;
  let h = wg.y;
  let b = wg.z;
  let c = pq.heads * pq.dh;
  let row = wg.x * DQ_ROWS + r;
  let live = row < pq.tq;
  let base = (b * pq.tq + row) * c + h * pq.dh;

  var mine: array<vec4f, DH4>;
  var off = 0.0; // role 0: L in log2 units; role 1: D
  if (live) {
    let li = (b * pq.heads + h) * pq.tq + row;
    if (role == 0u) {
      for (var d4 = 0u; d4 < DH4; d4++) { mine[d4] = ld(0u, base, d4, pq.dh) * pq.scale2; }
      off = lse[li] * LOG2E;
    } else {
      for (var d4 = 0u; d4 < DH4; d4++) { mine[d4] = ld(3u, base, d4, pq.dh); }
      off = dsum[li];
    }
  }

  var acc: array<vec4f, DH4H>; // this role's half of the dQ row: vec4s role·DH4H ..
  for (var k0 = 0u; k0 < pq.tk; k0 += DQ_KEYS) {
    workgroupBarrier(); // the previous tile's P/dP and K are consumed
    for (var i = lid; i < 2u * DQ_KEYS * DH4; i += 2u * DQ_ROWS) {
      let which = i / (DQ_KEYS * DH4); // 0: K, 1: V
      let j = k0 + (i % (DQ_KEYS * DH4)) / DH4;
      var x = vec4f(0.0);
      if (j < pq.tk) { x = ld(1u + which, (b * pq.tk + j) * c + h * pq.dh, i % DH4, pq.dh); }
      kv_tile[i] = x;
    }
    workgroupBarrier();

    let nk = min(DQ_KEYS, pq.tk - k0);
    for (var j = 0u; j < DQ_KEYS; j++) { // phase 1: role 0 → P_ij, role 1 → dP_ij − D_i
      var x = 0.0;
      for (var d4 = 0u; d4 < DH4; d4++) { x += dot(mine[d4], kv_tile[(role * DQ_KEYS + j) * DH4 + d4]); }
      let val = select(x - off, exp2(x - off), role == 0u);
      // Keys past Tk are staged as zeros, so their dS·k_j is 0 anyway; zeroing P keeps the tile exact.
      pd_q[(role * DQ_KEYS + j) * DQ_ROWS + r] = select(0.0, val, j < nk);
    }
    workgroupBarrier();

    for (var j = 0u; j < DQ_KEYS; j++) { // phase 2: dQ_i += dS_ij·k_j, half the row per role
      let ds = pd_q[j * DQ_ROWS + r] * pd_q[(DQ_KEYS + j) * DQ_ROWS + r];
      for (var t = 0u; t < DH4H; t++) {
        let d4 = role * DH4H + t;
        if (d4 < DH4) { acc[t] += ds * kv_tile[j * DH4 + d4]; }
      }
    }
  }

  if (live) {
    for (var t = 0u; t < DH4H; t++) {
      let d4 = role * DH4H + t;
      let g = acc[t] * pq.scale;
      for (var cc = 0u; cc < 4u; cc++) {
        let d = d4 * 4u + cc;
        if (d4 < DH4 && d < pq.dh) { dq_out[base + d] = g[cc]; }
      }
    }
  }
}

@compute @workgroup_size(2u * DKV_KEYS)
fn dkdv(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u) {
  let role = lid / DKV_KEYS; // 0: k, computes P, accumulates dK; 1: v, computes dP − D, accumulates dV
  let r = lid % DKV_KEYS;
  let h = wg.y;
  let b = wg.z;
  let c = pkv.heads * pkv.dh;
  let key = wg.x * DKV_KEYS + r;
  let live = key < pkv.tk;
  let base = (b * pkv.tk + key) * c + h * pkv.dh;
  let lrow = (b * pkv.heads + h) * pkv.tq; // this (b, h)'s first entry in lse and D

  var mine: array<vec4f, DH4>;
  if (live) {
    if (role == 0u) {
      for (var d4 = 0u; d4 < DH4; d4++) { mine[d4] = ld(1u, base, d4, pkv.dh) * pkv.scale2; }
    } else {
      for (var d4 = 0u; d4 < DH4; d4++) { mine[d4] = ld(2u, base, d4, pkv.dh); }
    }
  }

  var acc: array<vec4f, DH4>;
  for (var q0 = 0u; q0 < pkv.tq; q0 += DKV_ROWS) {
    workgroupBarrier();
    for (var i = lid; i < 2u * DKV_ROWS * DH4; i += 2u * DKV_KEYS) {
      let which = i / (DKV_ROWS * DH4); // 0: Q, 1: dO
      let row = q0 + (i % (DKV_ROWS * DH4)) / DH4;
      var x = vec4f(0.0);
      if (row < pkv.tq) { x = ld(which * 3u, (b * pkv.tq + row) * c + h * pkv.dh, i % DH4, pkv.dh); }
      qdo_tile[i] = x;
    }
    workgroupBarrier();

    let nq = min(DKV_ROWS, pkv.tq - q0);
    for (var i = 0u; i < DKV_ROWS; i++) { // phase 1: role 0 → P_ij, role 1 → dP_ij − D_i
      var x = 0.0;
      for (var d4 = 0u; d4 < DH4; d4++) { x += dot(mine[d4], qdo_tile[(role * DKV_ROWS + i) * DH4 + d4]); }
      var val = 0.0;
      if (i < nq) {
        // Same address across the role's threads: one broadcast load, served from cache.
        if (role == 0u) { val = exp2(x - lse[lrow + q0 + i] * LOG2E); } else { val = x - dsum[lrow + q0 + i]; }
      }
      pd_kv[(role * DKV_ROWS + i) * DKV_KEYS + r] = val;
    }
    workgroupBarrier();

    for (var i = 0u; i < DKV_ROWS; i++) { // phase 2: dK_j += P(dP − D)·q_i, dV_j += P·dO_i
      let pij = pd_kv[i * DKV_KEYS + r];
      let coef = select(pij, pij * pd_kv[(DKV_ROWS + i) * DKV_KEYS + r], role == 0u);
      for (var d4 = 0u; d4 < DH4; d4++) { acc[d4] += coef * qdo_tile[(role * DKV_ROWS + i) * DH4 + d4]; }
    }
  }

  if (live) {
    let s = select(1.0, pkv.scale, role == 0u);
    for (var d4 = 0u; d4 < DH4; d4++) {
      let g = acc[d4] * s;
      for (var cc = 0u; cc < 4u; cc++) {
        let d = d4 * 4u + cc;
        if (d < pkv.dh) {
          if (role == 0u) { dk_out[base + d] = g[cc]; } else { dv_out[base + d] = g[cc]; }
        }
      }
    }
  }
}
