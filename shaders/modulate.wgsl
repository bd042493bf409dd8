// Per-sample vectors broadcast over tokens (SD3 adaLN modulation and gates), the sums over rows that are their
// gradients, and chunk views of the [B, n·D] modulation embedding.
//
// Prepended by TypeScript (ops/modulate.ts `vecPrelude`): `alias vt` (f32, or vec4<f32> when D % 4 == 0: one
// 128-bit load per thread), `const VW`, `fn hsum`, `fn first`. Activations are row-major [rows, D] with
// rows = B·T, read as array<vt> with nv = D / VW vectors per row; a vector v is [G, D] and row r uses
// v[r / group] (group = T for per-sample vectors, group = rows for one vector shared by all rows).
// 1-D dispatches use 256 threads per workgroup (the WebGPU default limit; 8 warps / 4 wave64s) and fold into y
// past 65535 workgroups: flat index = gid.x + gid.y · nwg.x · 256.

// ------------------------------------------------------------------------------------------------- bcast
// y = x · (ONE_PLUS ? 1 + a[g] : a[g]) + (HAS_B ? b[g] : 0) + (HAS_H ? h : 0)
// modulate: a = scale, b = shift, ONE_PLUS (and its dx = dy·(1 + scale)); gate: a = g (and its dx = dy·g);
// gatedResidual: a = g, h = the residual stream. One thread per vector; purely bandwidth-bound.

struct Bcast {
  n: u32,      // rows · nv
  nv: u32,
  group: u32,
}

override ONE_PLUS: bool = false;
override HAS_B: bool = false;
override HAS_H: bool = false;

@group(0) @binding(0) var<storage, read> bc_x: array<vt>;
@group(0) @binding(1) var<storage, read> bc_a: array<vt>;
@group(0) @binding(2) var<storage, read> bc_b: array<vt>;   // x's buffer when !HAS_B (never read)
@group(0) @binding(3) var<storage, read> bc_h: array<vt>;   // x's buffer when !HAS_H (never read)
@group(0) @binding(4) var<storage, read_write> bc_y: array<vt>;
@group(0) @binding(5) var<uniform> bc: Bcast;

@compute @workgroup_size(256)
fn bcast(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= bc.n) {
    return;
  }
  let row = i / bc.nv;
  let v = (row / bc.group) * bc.nv + (i - row * bc.nv);
  var a = bc_a[v];
  if (ONE_PLUS) {
    a = a + vt(1.0);
  }
  var y = bc_x[i] * a;
  if (HAS_B) {
    y = y + bc_b[v];
  }
  if (HAS_H) {
    y = y + bc_h[i];
  }
  bc_y[i] = y;
}

// ------------------------------------------------------------------------------------------------- colsum
// For each group g and each column: A = Σ dy · xh and B = Σ dy over the group's rows, where xh = x, or with
// NORMED xh = (x − k − m) · rstd from the norm's stats (see norm.wgsl). These are the gradients of broadcast
// vectors: dscale / dgate (A), dshift (B), and a norm's dweight (A) / dbias (B) with one group.
// No float atomics: the rows of a group are cut into chunks of `chunk` rows; workgroup (column tile, part) with
// part = g · nchunk + c writes partial sums to A[part], B[part]; `sum_chunks` adds the parts when nchunk > 1.
// Workgroup 64 × LANES: 64 adjacent column vectors (1 KiB of a row as vec4: fully coalesced) × 4 row lanes that
// stride the chunk (or 1, see LANES); the 4 lanes are added in workgroup memory. chunk = 64 rows keeps enough workgroups to fill a
// large GPU (SD3-medium, B·T = 2·4096, D = 1536: 6 × 128 = 768 workgroups) while the partials stay 1/64 of dy;
// longer chunks when a group has more than 256 · 64 rows, so sum_chunks never loops over more than 256 parts.

struct Colsum {
  nv: u32,
  group: u32,   // rows per group
  chunk: u32,   // rows per part
  nchunk: u32,  // parts per group
  nparts: u32,  // groups · nchunk
}

override NORMED: bool = false;

@group(0) @binding(0) var<storage, read> cs_dy: array<vt>;
@group(0) @binding(1) var<storage, read> cs_x: array<vt>;
@group(0) @binding(2) var<storage, read> cs_stats: array<vec4<f32>>; // x's buffer when !NORMED (never read)
@group(0) @binding(3) var<storage, read_write> cs_a: array<vt>;
@group(0) @binding(4) var<storage, read_write> cs_b: array<vt>;
@group(0) @binding(5) var<uniform> cs: Colsum;

// Row lanes per column: 4 adds the lanes' sums in workgroup memory (one barrier); 1 ('serial' reduction variant,
// src/tensor/kernels.ts) has each thread walk its chunk alone and write its sums directly: no barrier, which is
// what a software adapter runs fastest.
override LANES: u32 = 4u;

var<workgroup> cs_sa: array<vt, 64 * LANES>;
var<workgroup> cs_sb: array<vt, 64 * LANES>;

@compute @workgroup_size(64, LANES)
fn colsum(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let col = wid.x * 64u + lid.x;
  let part = wid.y + wid.z * nwg.y; // folded into z past 65535 parts
  let g = part / cs.nchunk;
  let r0 = g * cs.group + (part - g * cs.nchunk) * cs.chunk;
  let r1 = min(r0 + cs.chunk, (g + 1u) * cs.group);
  let live = col < cs.nv && part < cs.nparts;
  var sa = vt(0.0);
  var sb = vt(0.0);
  if (live) {
    for (var r = r0 + lid.y; r < r1; r += LANES) {
      let dy = cs_dy[r * cs.nv + col];
      var xh = cs_x[r * cs.nv + col];
      if (NORMED) {
        let st = cs_stats[r];
        xh = (xh - vt(st.x) - vt(st.y)) * st.z;
      }
      sa += dy * xh;
      sb += dy;
    }
  }
  if (LANES == 1u) {
    if (live) {
      cs_a[part * cs.nv + col] = sa;
      cs_b[part * cs.nv + col] = sb;
    }
    return;
  }
  let t = lid.y * 64u + lid.x;
  cs_sa[t] = sa;
  cs_sb[t] = sb;
  workgroupBarrier();
  if (lid.y == 0u && live) {
    let o = part * cs.nv + col;
    cs_a[o] = cs_sa[t] + cs_sa[t + 64u] + cs_sa[t + 128u] + cs_sa[t + 192u];
    cs_b[o] = cs_sb[t] + cs_sb[t + 64u] + cs_sb[t + 128u] + cs_sb[t + 192u];
  }
}

// ------------------------------------------------------------------------------------------------- sum_chunks
// out[g, col] = Σ_c parts[g · nchunk + c, col]: the second pass of colsum. One thread per output vector;
// adjacent threads read adjacent columns (coalesced), each loops over its group's nchunk parts.

struct SumChunks {
  n: u32,      // groups · nv
  nv: u32,
  nchunk: u32,
}

@group(0) @binding(0) var<storage, read> sc_in: array<vt>;
@group(0) @binding(1) var<storage, read_write> sc_out: array<vt>;
@group(0) @binding(2) var<uniform> sc: SumChunks;

@compute @workgroup_size(256)
fn sum_chunks(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= sc.n) {
    return;
  }
  let g = i / sc.nv;
  let col = i - g * sc.nv;
  var s = vt(0.0);
  for (var c = 0u; c < sc.nchunk; c++) {
    s += sc_in[(g * sc.nchunk + c) * sc.nv + col];
  }
  sc_out[i] = s;
}

// ------------------------------------------------------------------------------------------------- chunk
// chunk_fwd: out[r, :] = emb[r, index·D : (index+1)·D] for emb [rows, count·D] (adaLN's 6 modulation vectors).
// chunk_bwd: the gradient of emb: g in the chunk's columns, 0 in the others (autograd adds the chunks' parts).

struct Chunk {
  n: u32,      // vectors written
  nv: u32,     // vectors per chunk row
  count: u32,  // chunks per emb row
  index: u32,
}

@group(0) @binding(0) var<storage, read> ch_in: array<vt>;
@group(0) @binding(1) var<storage, read_write> ch_out: array<vt>;
@group(0) @binding(2) var<uniform> ch: Chunk;

@compute @workgroup_size(256)
fn chunk_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= ch.n) {
    return;
  }
  let r = i / ch.nv;
  ch_out[i] = ch_in[(r * ch.count + ch.index) * ch.nv + (i - r * ch.nv)];
}

@compute @workgroup_size(256)
fn chunk_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= ch.n) {
    return;
  }
  let wide = ch.count * ch.nv;
  let r = i / wide;
  let k = i - r * wide;
  let c = k / ch.nv;
  var v = vt(0.0);
  if (c == ch.index) {
    v = ch_in[r * ch.nv + (k - c * ch.nv)];
  }
  ch_out[i] = v;
}
