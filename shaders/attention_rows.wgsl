// Multi-head attention for short sequences, one thread per row and no workgroup memory (variant 'rows';
// the FlashAttention-style kernels are attention_fwd.wgsl / attention_bwd.wgsl).
//
//   forward  (entry `fwd`):  P = softmax(scale·Q·Kᵀ) stored [B, H, Tq, Tk]; O = P·V; L = ln Σ_j exp(scale·q·k_j)
//   backward (entry `dq`):   D_i = dO_i·O_i; dS_ij = P_ij·(dO_i·v_j − D_i); dQ_i = scale·Σ_j dS_ij·k_j;
//                            dS stored [B, H, Tq, Tk] for the next entry
//   backward (entry `dkdv`): dK_j = scale·Σ_i dS_ij·q_i; dV_j = Σ_i P_ij·dO_i
//
// Why a variant that materialises P: on a software adapter (SwiftShader, WARP, llvmpipe) every
// workgroupBarrier() switches all of a workgroup's invocations in and out, and the flash kernels need one per
// key tile; here a thread owns a row and loops over the other side with no barrier at all. Keeping P and dS
// (B·H·Tq·Tk floats each) is cheap while T is short (SD3 at 32×32 pixels: 80 tokens), and it removes the
// recomputation of S and dP that the flash backward pays twice. The op only picks it below a size limit.
//
// Layout as the flash kernels: q [B, Tq, H·Dh], k and v [B, Tk, H·Dh] (heads interleaved in channels), so
// (b, t, h, d) sits at (b·T + t)·H·Dh + h·Dh + d; lse [B, H, Tq]. Dispatch: (ceil(rows / WG), H, B) with
// rows = Tq for `fwd` and `dq`, Tk for `dkdv`. Rows are read and written as vec4s, so Dh must be a multiple
// of 4 (the op falls back to 'flash' otherwise): one 128-bit access where a bounds-checked scalar loop would
// cost four. The op prepends `const DH4: u32` = Dh / 4 and UNROLLS every loop over d4 (written on one line,
// `for (var d4 = 0u; d4 < DH4; d4++) { ... }`), turning the row arrays (`var x: array<vec4f, DH4>;`) into DH4
// named vec4s (src/tensor/ops/attention.ts unrollHeadDim): an array indexed by a loop variable lives in
// memory, addressed per invocation, which on a software adapter costs more than the arithmetic on it.

struct Params {
  tq: u32,
  tk: u32,
  heads: u32,
  dh: u32,
  scale: f32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<uniform> p: Params;
// fwd
@group(0) @binding(4) var<storage, read_write> o: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> prob: array<f32>;
// dq: 4 P (read), 5 dO, 6 O, 7 dS (written), 8 dQ
@group(0) @binding(4) var<storage, read> prob_in: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<vec4f>;
@group(0) @binding(6) var<storage, read> out_in: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> ds: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<vec4f>;
// dkdv: 4 P, 5 dO, 7 dS (read), 9 dK, 10 dV
@group(0) @binding(7) var<storage, read> ds_in: array<f32>;
@group(0) @binding(9) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> dv: array<vec4f>;

/** Offset in vec4s of row t of head h in batch b of a [B, T, H·Dh] tensor (Dh = 4·DH4). */
fn row_base(b: u32, t: u32, T: u32, h: u32) -> u32 {
  return ((b * T + t) * p.heads + h) * DH4;
}

@compute @workgroup_size(WG)
fn fwd(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let h = gid.y;
  let b = gid.z;
  if (i >= p.tq) { return; }
  let qb = row_base(b, i, p.tq, h);
  var qr: array<vec4f, DH4>;
  for (var d4 = 0u; d4 < DH4; d4++) { qr[d4] = q[qb + d4] * p.scale; }
  let pb = ((b * p.heads + h) * p.tq + i) * p.tk;
  // Pass 1: scores, and their max (the softmax is shifted by it so no exponential overflows).
  var m = -3.0e38;
  for (var j = 0u; j < p.tk; j++) {
    let kb = row_base(b, j, p.tk, h);
    var s = 0.0;
    for (var d4 = 0u; d4 < DH4; d4++) { s += dot(qr[d4], k[kb + d4]); }
    prob[pb + j] = s;
    m = max(m, s);
  }
  // Pass 2: exponentials and their sum.
  var l = 0.0;
  for (var j = 0u; j < p.tk; j++) {
    let e = exp(prob[pb + j] - m);
    prob[pb + j] = e;
    l += e;
  }
  // Pass 3: normalise P and accumulate O = P·V.
  let inv = 1.0 / l;
  var acc: array<vec4f, DH4>;
  for (var d4 = 0u; d4 < DH4; d4++) { acc[d4] = vec4f(0.0); }
  for (var j = 0u; j < p.tk; j++) {
    let pj = prob[pb + j] * inv;
    prob[pb + j] = pj;
    let vb = row_base(b, j, p.tk, h);
    for (var d4 = 0u; d4 < DH4; d4++) { acc[d4] += pj * v[vb + d4]; }
  }
  for (var d4 = 0u; d4 < DH4; d4++) { o[qb + d4] = acc[d4]; }
  lse[(b * p.heads + h) * p.tq + i] = m + log(l);
}

@compute @workgroup_size(WG)
fn dq_rows(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let h = gid.y;
  let b = gid.z;
  if (i >= p.tq) { return; }
  let qb = row_base(b, i, p.tq, h);
  var g: array<vec4f, DH4>;
  var dsum = 0.0;
  for (var d4 = 0u; d4 < DH4; d4++) { g[d4] = dout[qb + d4]; dsum += dot(g[d4], out_in[qb + d4]); }
  let pb = ((b * p.heads + h) * p.tq + i) * p.tk;
  var acc: array<vec4f, DH4>;
  for (var d4 = 0u; d4 < DH4; d4++) { acc[d4] = vec4f(0.0); }
  for (var j = 0u; j < p.tk; j++) {
    let kb = row_base(b, j, p.tk, h); // k and v share the layout
    var dp = 0.0;
    for (var d4 = 0u; d4 < DH4; d4++) { dp += dot(g[d4], v[kb + d4]); }
    let s = prob_in[pb + j] * (dp - dsum);
    ds[pb + j] = s;
    for (var d4 = 0u; d4 < DH4; d4++) { acc[d4] += s * k[kb + d4]; }
  }
  for (var d4 = 0u; d4 < DH4; d4++) { dq[qb + d4] = p.scale * acc[d4]; }
}

@compute @workgroup_size(WG)
fn dkdv_rows(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let h = gid.y;
  let b = gid.z;
  if (j >= p.tk) { return; }
  var ak: array<vec4f, DH4>;
  var av: array<vec4f, DH4>;
  for (var d4 = 0u; d4 < DH4; d4++) { ak[d4] = vec4f(0.0); av[d4] = vec4f(0.0); }
  let hb = (b * p.heads + h) * p.tq;
  for (var i = 0u; i < p.tq; i++) {
    let qb = row_base(b, i, p.tq, h);
    let at = (hb + i) * p.tk + j;
    let s = ds_in[at];
    let pij = prob_in[at];
    for (var d4 = 0u; d4 < DH4; d4++) { ak[d4] += s * q[qb + d4]; av[d4] += pij * dout[qb + d4]; }
  }
  let kb = row_base(b, j, p.tk, h);
  for (var d4 = 0u; d4 < DH4; d4++) { dk[kb + d4] = p.scale * ak[d4]; dv[kb + d4] = av[d4]; }
}
