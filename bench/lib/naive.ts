// Naive WGSL baselines for ops whose engine module has no naive variant (matmul has one: matmulWith('naive')).
// They are the "obvious first kernel" a fused/tiled kernel should beat: no workgroup memory, no fusion, every
// intermediate in DRAM. Written for clarity, dispatched through the engine's runtime like the real ops.
import { grid1d, uniforms } from '../../src/tensor/dispatch';
import type { Engine } from '../../src/tensor/engine';
import type { Tensor } from '../../src/tensor/tensor';

// ------------------------------------------------------------------ attention: S = QKᵀ, softmax, O = PV

// q, k, v, o: [B, T, H·Dh] (heads interleaved in channels, as ops/attention.ts); s: [B·H, T, T] scratch.
const ATTN_COMMON = /* wgsl */ `
struct P { t: u32, heads: u32, dh: u32, scale: f32 }
fn at(b: u32, t: u32, h: u32, d: u32) -> u32 { return (b * p.t + t) * p.heads * p.dh + h * p.dh + d; }
`;

const SCORES = {
  name: 'bench_naive_attn_scores',
  code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read_write> s: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${ATTN_COMMON}
// One thread per score s[bh, i, j]; 16x16 threads so that a row of threads reads 16 consecutive keys' rows.
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let j = g.x; let i = g.y; let bh = g.z;
  if (i >= p.t || j >= p.t) { return; }
  let b = bh / p.heads; let h = bh % p.heads;
  var acc = 0.0;
  for (var d = 0u; d < p.dh; d++) { acc += q[at(b, i, h, d)] * k[at(b, j, h, d)]; }
  s[(bh * p.t + i) * p.t + j] = acc * p.scale;
}`,
};

const SOFTMAX = {
  name: 'bench_naive_softmax_rows',
  code: /* wgsl */ `
struct R { rows: u32, n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> r: R;
// One thread per row, three sweeps (max, sum, normalise): the textbook numerically safe softmax.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = g.x + g.y * nwg.x * 64u;
  if (row >= r.rows) { return; }
  let base = row * r.n;
  var m = -3.4e38;
  for (var j = 0u; j < r.n; j++) { m = max(m, x[base + j]); }
  var sum = 0.0;
  for (var j = 0u; j < r.n; j++) { sum += exp(x[base + j] - m); }
  for (var j = 0u; j < r.n; j++) { y[base + j] = exp(x[base + j] - m) / sum; }
}`,
};

const PV = {
  name: 'bench_naive_attn_pv',
  code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${ATTN_COMMON}
// One thread per output o[b, i, h, d].
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let d = g.x; let i = g.y; let bh = g.z;
  if (i >= p.t || d >= p.dh) { return; }
  let b = bh / p.heads; let h = bh % p.heads;
  var acc = 0.0;
  for (var j = 0u; j < p.t; j++) { acc += s[(bh * p.t + i) * p.t + j] * v[at(b, j, h, d)]; }
  o[at(b, i, h, d)] = acc;
}`,
};

/** softmax(QKᵀ/√Dh)·V in three dispatches, the [B·H, T, T] scores and probabilities in DRAM (self-attention). */
export function naiveAttention(q: Tensor, k: Tensor, v: Tensor, heads: number): Tensor {
  const e: Engine = q.engine;
  const [batch, t, c] = q.shape;
  const dh = c / heads;
  const bh = batch * heads;
  const u = uniforms([['u32', t], ['u32', heads], ['u32', dh], ['f32', 1 / Math.sqrt(dh)]]);
  const s = e.empty([bh, t, t], 'naive_attn.scores');
  e.gpu.dispatch({ kernel: SCORES, buffers: [q.buffer, k.buffer, s.buffer], uniforms: u, workgroups: [Math.ceil(t / 16), Math.ceil(t / 16), bh] });
  const pr = naiveSoftmax(s);
  s.release();
  const o = e.empty(q.shape, 'naive_attn.out');
  e.gpu.dispatch({ kernel: PV, buffers: [pr.buffer, v.buffer, o.buffer], uniforms: u, workgroups: [Math.ceil(dh / 16), Math.ceil(t / 16), bh] });
  pr.release();
  return o;
}

/** softmax over the last dim, one thread per row. */
export function naiveSoftmax(x: Tensor): Tensor {
  const e: Engine = x.engine;
  const n = x.shape[x.shape.length - 1];
  const rows = x.size / n;
  const y = e.empty(x.shape, 'naive_softmax');
  e.gpu.dispatch({ kernel: SOFTMAX, buffers: [x.buffer, y.buffer], uniforms: uniforms([['u32', rows], ['u32', n]]), workgroups: grid1d(rows, 64) });
  return y;
}

// ------------------------------------------------------------------ add: one thread per element

const ADD = {
  name: 'bench_naive_add',
  code: /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> n: u32;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i < n) { y[i] = a[i] + b[i]; }
}`,
};

/** y = a + b for same-shape a and b (no broadcasting, scalar loads). */
export function naiveAdd(a: Tensor, b: Tensor): Tensor {
  const e: Engine = a.engine;
  const y = e.empty(a.shape, 'naive_add');
  e.gpu.dispatch({ kernel: ADD, buffers: [a.buffer, b.buffer, y.buffer], uniforms: uniforms([['u32', a.size]]), workgroups: grid1d(a.size, 256) });
  return y;
}

// ------------------------------------------------------------------ layer norm: one thread per row

const LAYERNORM = {
  name: 'bench_naive_layernorm',
  code: /* wgsl */ `
struct P { rows: u32, d: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: P;
// Two-pass mean/variance per row (biased variance, as torch), then the affine; each thread walks its own row,
// so neighbouring threads read addresses D floats apart (uncoalesced: the point of a naive baseline).
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = g.x + g.y * nwg.x * 64u;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  var mean = 0.0;
  for (var j = 0u; j < p.d; j++) { mean += x[base + j]; }
  mean /= f32(p.d);
  var v = 0.0;
  for (var j = 0u; j < p.d; j++) { let c = x[base + j] - mean; v += c * c; }
  let rstd = inverseSqrt(v / f32(p.d) + p.eps);
  for (var j = 0u; j < p.d; j++) { y[base + j] = (x[base + j] - mean) * rstd * w[j] + b[j]; }
}`,
};

/** LayerNorm over the last dim of x [rows, D] with weight and bias [D]. */
export function naiveLayerNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const e: Engine = x.engine;
  const d = x.shape[x.shape.length - 1];
  const rows = x.size / d;
  const y = e.empty(x.shape, 'naive_layernorm');
  e.gpu.dispatch({
    kernel: LAYERNORM,
    buffers: [x.buffer, w.buffer, b.buffer, y.buffer],
    uniforms: uniforms([['u32', rows], ['u32', d], ['f32', eps]]),
    workgroups: grid1d(rows, 64),
  });
  return y;
}
