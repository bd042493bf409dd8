// matmul_grad: the epilogue's backward, one pass over the output gradient g [rows, cols] (rows = batch·M,
// cols = N). Prepend activation.wgsl.
//   ACT != 0: gpre[r, n] = g[r, n] · act'(pre[r, n])       (the gradient of the pre-activation)
//   SUM:      partial[wy, n] = Σ_{r in rows block wy} gpre[r, n]  (or of g when ACT == 0)
// The column sum is the bias gradient; blocks of ROWS rows give [ceil(rows/ROWS), cols] partial sums, which the
// TypeScript side reduces with this same kernel (ACT 0, SUM) until one row is left (two passes up to 65536 rows).
// Fusing act' with the sum reads g and pre once instead of twice.
//
// Dispatch: (ceil(cols/64), ceil(rows/ROWS)). Workgroup 64x4: x runs along n, so each warp reads 32 adjacent
// floats of a row (128-byte coalesced); 4 row lanes make 256 threads (the WebGPU default limit), each summing
// ROWS/4 = 64 rows in a register before one workgroup-memory reduction over the 4 lanes. ROWS = 256 gives each
// thread enough independent loads to hide memory latency while keeping ceil(rows/256) row blocks of workgroups
// to spread a long column sum over the GPU.
// Bindings: 0 g, 1 pre (g when ACT == 0), 2 gpre (scratch when ACT == 0), 3 partial (scratch when !SUM), 4 params.

struct Params {
  rows: u32,
  cols: u32,
}

override ACT: u32 = 0u;
override SUM: bool = true;

const ROWS: u32 = 256u;

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> gpre: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> lanes: array<f32, 256>;

fn act_grad(x: f32) -> f32 {
  if (ACT == 1u) { return gelu_tanh_grad(x); }
  if (ACT == 2u) { return silu_grad(x); }
  return 1.0;
}

@compute @workgroup_size(64, 4)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n = wid.x * 64u + lid.x;
  let r0 = wid.y * ROWS;
  let r1 = min(r0 + ROWS, p.rows);
  var s = 0.0;
  if (n < p.cols) {
    for (var r = r0 + lid.y; r < r1; r += 4u) {
      let i = r * p.cols + n;
      var v = g[i];
      if (ACT != 0u) {
        v *= act_grad(pre[i]);
        gpre[i] = v;
      }
      s += v;
    }
  }
  if (SUM) {
    lanes[lid.y * 64u + lid.x] = s;
    workgroupBarrier();
    if (lid.y == 0u && n < p.cols) {
      partial[wid.y * p.cols + n] = (lanes[lid.x] + lanes[64u + lid.x]) + (lanes[128u + lid.x] + lanes[192u + lid.x]);
    }
  }
}
