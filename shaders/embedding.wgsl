// Embedding lookup (a gather of table rows by token id) and its gradient (a scatter-add of rows), for the text
// encoder's token table. TypeScript side and float64 spec: src/encode/embedding.ts, src/encode/reference.ts.
//
// Layout: table [V, W] row-major f32; ids [N] (N = B·T tokens) and the index arrays below are f32 holding exact
// integers (the engine's tensors are f32; the op checks every index is below 2^24, where f32 is exact).
//
// gather:     out[n, j] = table[ids[n], j]                                     one thread per output element
// scatter_add: dtable[v, j] = Σ_{n : ids[n] = v} dy[n, j]                      one thread per table element
//   No float atomics (WGSL has none for f32, and their order would make results vary run to run): the host
//   groups the N positions by id into a CSR (offsets [V + 1], order [N], positions ascending within an id), so
//   thread (v, j) adds dy[order[k], j] for k in offsets[v] .. offsets[v + 1] - 1 in a fixed order. Results are
//   bit-for-bit reproducible, and rows no token used are written as zero (no separate clear pass).
// Total work N·W + V·W loads; the table is a few hundred to a few thousand rows by ≤ 4096 floats.
//
// Dispatch: grid1d(count, 256) (256 threads: the WebGPU default limit); flat index = gid.x + gid.y·nwg.x·256
// (dispatch.ts folds past 65535 workgroups). Scalar f32 loads: rows are short and the kernels memory-trivial.

struct Params {
  n: u32,      // threads with work: N·W (gather) or V·W (scatter_add)
  width: u32,  // W
}

// ------------------------------------------------------------------------------------------------- gather

@group(0) @binding(0) var<storage, read> g_table: array<f32>;
@group(0) @binding(1) var<storage, read> g_ids: array<f32>;
@group(0) @binding(2) var<storage, read_write> g_out: array<f32>;
@group(0) @binding(3) var<uniform> g_p: Params;

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= g_p.n) { return; }
  let n = i / g_p.width;
  let j = i - n * g_p.width;
  g_out[i] = g_table[u32(g_ids[n]) * g_p.width + j];
}

// ------------------------------------------------------------------------------------------------- scatter_add

@group(0) @binding(0) var<storage, read> s_dy: array<f32>;       // [N, W]
@group(0) @binding(1) var<storage, read> s_offsets: array<f32>;  // [V + 1]
@group(0) @binding(2) var<storage, read> s_order: array<f32>;    // [N]
@group(0) @binding(3) var<storage, read_write> s_dtable: array<f32>; // [V, W]
@group(0) @binding(4) var<uniform> s_p: Params;

@compute @workgroup_size(256)
fn scatter_add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= s_p.n) { return; }
  let v = i / s_p.width;
  let j = i - v * s_p.width;
  let begin = u32(s_offsets[v]);
  let end = u32(s_offsets[v + 1u]);
  var acc = 0.0;
  for (var k = begin; k < end; k++) {
    acc += s_dy[u32(s_order[k]) * s_p.width + j];
  }
  s_dtable[i] = acc;
}
