// matmul v1 (naive): one thread per output element. The readable spec of the matmul family and the fallback for
// tiny shapes, where a 64x64 tile of v2 would be mostly empty. Prepend activation.wgsl + matmul_common.wgsl,
// which document what is computed (opA·opB with batch strides, in-kernel batch reduction, fused epilogue).
//
// Layout: a, b flat f32 (any alignment). Dispatch: (ceil(N/16), ceil(M/16), gridZ).
// Workgroup 16x16 = 256 threads: the WebGPU default maxComputeInvocationsPerWorkgroup, and x = n so that the
// 16 adjacent threads of a row write 16 adjacent floats of c (and read adjacent floats of b when not TRANS_B).
// Limits: M ≤ 16·65535 rows, N ≤ 16·65535 columns, gridZ ≤ 65535 (maxComputeWorkgroupsPerDimension).

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  let m = gid.y;
  let z = gid.z;
  if (m >= p.M || n >= p.N) { return; }
  // Element steps along k in the stored layouts: [M, K] → 1, [K, M] → M; [K, N] → N, [N, K] → 1.
  var aRow = m * p.K;
  var aStep = 1u;
  if (TRANS_A) { aRow = m; aStep = p.M; }
  var bCol = n;
  var bStep = p.N;
  if (TRANS_B) { bCol = n * p.K; bStep = 1u; }
  var acc = 0.0;
  for (var r = 0u; r < p.nRed; r++) {
    var ia = z * p.aBatch + r * p.aRed + aRow;
    var ib = z * p.bBatch + r * p.bRed + bCol;
    for (var k = 0u; k < p.K; k++) {
      acc += a[ia] * b[ib];
      ia += aStep;
      ib += bStep;
    }
  }
  epilogue(z, m, n, acc);
}
