// Fused multi-head attention forward, FlashAttention-style (non-causal):
//   O = softmax(scale·Q·Kᵀ)·V per (batch, head), and the row logsumexp L = ln Σ_j exp(scale·q_i·k_j).
// No Tq×Tk matrix exists anywhere: scores live in registers, one key tile at a time.
//
// Layout: q [B, Tq, H·Dh], k and v [B, Tk, H·Dh] (heads interleaved in channels, diffusers' view(B, T, H, Dh)),
// so (b, t, h, d) sits at (b·T + t)·H·Dh + h·Dh + d. Outputs: o [B, Tq, H·Dh], lse [B, H, Tq].
// Dispatch: (ceil(Tq / BQ), H, B) workgroups of BQ threads; thread r of workgroup x owns query row x·BQ + r.
//
// The op prepends `const DH4, BQ, BK` (see src/tensor/ops/attention.ts). They are consts, not overrides,
// because the per-thread arrays below (q row, O accumulator, scores) live in registers, and WGSL allows only
// const-expression sizes for function-scope arrays.
//   DH4 = ceil(Dh / 4): a row as vec4s, zero-padded past Dh. vec4 reads from workgroup memory are 128-bit
//        loads, so one shared-memory instruction feeds 4 FMAs (scalar loads would make the kernel LDS-bound).
//   BQ = 64: query rows per workgroup, one per thread. 64 = one AMD wavefront = two NVIDIA warps. Each thread
//        holds q and O (2·Dh floats) plus BK scores: 160 registers at Dh = 64, inside NVIDIA's/AMD's 255/256.
//   BK: keys per staged tile. The K and V tiles take 2·BK·Dh·4 bytes of workgroup memory; BK = 32 fills exactly
//        16 KiB at Dh = 64 — WebGPU's guaranteed minimum, and half of Apple's 32 KiB threadgroup memory (two
//        workgroups resident per core). Larger Dh gets a smaller BK (16 at Dh = 128).
// Every thread reads the same K/V element at the same time (a broadcast, no bank conflicts).
//
// Online softmax (FlashAttention-2): per tile, the running max m grows to the tile's max, the running sum l
// and the accumulator O are rescaled once by exp2(m_old − m_new), then O += Σ_j p_j·v_j. Scores are kept in
// log2 units (q is pre-scaled by scale·log2 e) so every exponential is a native exp2.

struct Params {
  tq: u32,
  tk: u32,
  heads: u32,
  dh: u32,
  scale2: f32, // scale·log2(e)
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> kt: array<vec4f, BK * DH4>; // kt[j·DH4 + d4] = k[k0 + j][4·d4 .. 4·d4 + 3]
var<workgroup> vt: array<vec4f, BK * DH4>;

// Finite stand-in for −∞ (masked keys, initial max): exp2(NEG − m) underflows to 0 and inf − inf never happens.
const NEG: f32 = -1e30;
const LN2: f32 = 0.6931471805599453;

// Four consecutive elements from `base + 4·d4`, zero past Dh (Dh need not be a multiple of 4).
fn ld_q(base: u32, d4: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) { let d = d4 * 4u + c; if (d < p.dh) { r[c] = q[base + d]; } }
  return r;
}
fn ld_k(base: u32, d4: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) { let d = d4 * 4u + c; if (d < p.dh) { r[c] = k[base + d]; } }
  return r;
}
fn ld_v(base: u32, d4: u32) -> vec4f {
  var r = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) { let d = d4 * 4u + c; if (d < p.dh) { r[c] = v[base + d]; } }
  return r;
}

@compute @workgroup_size(BQ)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u) {
  let h = wg.y;
  let b = wg.z;
  let c = p.heads * p.dh;
  let row = wg.x * BQ + lid;
  let live = row < p.tq; // threads past Tq still stage tiles and meet every barrier, but write nothing

  var qr: array<vec4f, DH4>;
  if (live) {
    let base = (b * p.tq + row) * c + h * p.dh;
    for (var d4 = 0u; d4 < DH4; d4++) { qr[d4] = ld_q(base, d4) * p.scale2; }
  }

  var m = NEG;
  var l = 0.0;
  var acc: array<vec4f, DH4>;
  for (var k0 = 0u; k0 < p.tk; k0 += BK) {
    workgroupBarrier(); // everyone is done reading the previous tile
    for (var i = lid; i < BK * DH4; i += BQ) {
      let j = k0 + i / DH4;
      var kv = vec4f(0.0);
      var vv = vec4f(0.0);
      if (j < p.tk) {
        let base = (b * p.tk + j) * c + h * p.dh;
        kv = ld_k(base, i % DH4);
        vv = ld_v(base, i % DH4);
      }
      kt[i] = kv;
      vt[i] = vv;
    }
    workgroupBarrier();

    let nk = min(BK, p.tk - k0);
    var s: array<f32, BK>;
    var mt = m;
    for (var j = 0u; j < BK; j++) {
      var x = 0.0;
      for (var d4 = 0u; d4 < DH4; d4++) { x += dot(qr[d4], kt[j * DH4 + d4]); }
      s[j] = select(NEG, x, j < nk);
      mt = max(mt, s[j]);
    }
    // One rescale per tile (not per key). The first tile has m = NEG, so alpha = 0 clears nothing real.
    let alpha = exp2(m - mt);
    l *= alpha;
    for (var d4 = 0u; d4 < DH4; d4++) { acc[d4] *= alpha; }
    for (var j = 0u; j < BK; j++) {
      let pj = exp2(s[j] - mt); // ≤ 1: never overflows, whatever the logits
      l += pj;
      for (var d4 = 0u; d4 < DH4; d4++) { acc[d4] += pj * vt[j * DH4 + d4]; }
    }
    m = mt;
  }

  if (live) {
    let base = (b * p.tq + row) * c + h * p.dh;
    let inv = 1.0 / l; // l ≥ 1: the max key contributes exp2(0)
    for (var d4 = 0u; d4 < DH4; d4++) {
      let r = acc[d4] * inv;
      for (var cc = 0u; cc < 4u; cc++) { let d = d4 * 4u + cc; if (d < p.dh) { o[base + d] = r[cc]; } }
    }
    lse[(b * p.heads + h) * p.tq + row] = (m + log2(l)) * LN2;
  }
}
