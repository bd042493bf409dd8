// matmul v3 (register-only). Prepend activation.wgsl + matmul_common.wgsl + matmul_vec4.wgsl.
//
// Each thread computes a 4x4 block of C (rows 4·gid.y .. +3, columns 4·gid.x .. +3), or 4x8 with WIDE (columns
// 8·gid.x .. +7), from vec4 loads of A and B straight from storage: no workgroup memory and no barrier. Why a variant without the shared tiles of v2:
// on a software adapter (SwiftShader, WARP, llvmpipe) "global memory" is the CPU's cached RAM, so staging into
// workgroup memory buys nothing, while every workgroupBarrier() switches all of the workgroup's invocations
// (coroutines on the CPU) in and out. On a GPU the opposite holds and v2 wins; the autotuner measures which.
//
// Per 4-wide step of k the thread loads 4 vec4 of A and 4 of B and does 64 FMAs as four mat4x4·vec4 products;
// WIDE loads 4 more of B for 64 more FMAs (fewer loads per FMA, more registers: the autotuner measures which
// wins on the adapter).
// The vec4s run along the stored contiguous dimension; the matrices they form are transposed where the layout
// needs it, so every layout (TRANS_A, TRANS_B) keeps 128-bit loads when that dimension is a multiple of 4.
// Dispatch: (ceil(N / (4·WG_X)), ceil(M / (4·WG_Y)), gridZ), 8·WG_X with WIDE. Limits as v1 and v2: gridZ ≤ 65535.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override WIDE: bool = false;
// EXACT: M and the thread's columns are whole blocks (M % 4 == 0, N % 4 or 8 == 0), K % 4 == 0 and both operands
// vec4-loadable, so the loads need no bounds check: plain indexing, no branch in the K loop.
override EXACT: bool = false;

/** opB[k .. k+3, n .. n+3] as a matrix whose columns are the k-rows (so `b · row of A over k` updates C). */
fn loadBk(bBase: u32, k: u32, n: u32) -> mat4x4<f32> {
  if (EXACT) {
    if (TRANS_B) {
      let i = (bBase + n * p.K + k) >> 2u;
      let s = p.K >> 2u;
      return transpose(mat4x4<f32>(b[i], b[i + s], b[i + 2u * s], b[i + 3u * s]));
    }
    let i = (bBase + k * p.N + n) >> 2u;
    let s = p.N >> 2u;
    return mat4x4<f32>(b[i], b[i + s], b[i + 2u * s], b[i + 3u * s]);
  }
  if (TRANS_B) {
    // Stored [N, K]: each load runs along k (one n each); transpose to k-rows.
    return transpose(mat4x4<f32>(
      loadB4(bBase, n, k, p.N, p.K), loadB4(bBase, n + 1u, k, p.N, p.K),
      loadB4(bBase, n + 2u, k, p.N, p.K), loadB4(bBase, n + 3u, k, p.N, p.K)));
  }
  return mat4x4<f32>(
    loadB4(bBase, k, n, p.K, p.N), loadB4(bBase, k + 1u, n, p.K, p.N),
    loadB4(bBase, k + 2u, n, p.K, p.N), loadB4(bBase, k + 3u, n, p.K, p.N));
}

/** opA[m .. m+3, k .. k+3] as a matrix whose columns are the rows of A over k. */
fn loadAr(aBase: u32, m: u32, k: u32) -> mat4x4<f32> {
  if (EXACT) {
    if (TRANS_A) {
      let i = (aBase + k * p.M + m) >> 2u;
      let s = p.M >> 2u;
      return transpose(mat4x4<f32>(a[i], a[i + s], a[i + 2u * s], a[i + 3u * s]));
    }
    let i = (aBase + m * p.K + k) >> 2u;
    let s = p.K >> 2u;
    return mat4x4<f32>(a[i], a[i + s], a[i + 2u * s], a[i + 3u * s]);
  }
  if (TRANS_A) {
    // Stored [K, M]: each load runs along m (one k each); transpose to rows.
    return transpose(mat4x4<f32>(
      loadA4(aBase, k, m, p.K, p.M), loadA4(aBase, k + 1u, m, p.K, p.M),
      loadA4(aBase, k + 2u, m, p.K, p.M), loadA4(aBase, k + 3u, m, p.K, p.M)));
  }
  return mat4x4<f32>(
    loadA4(aBase, m, k, p.M, p.K), loadA4(aBase, m + 1u, k, p.M, p.K),
    loadA4(aBase, m + 2u, k, p.M, p.K), loadA4(aBase, m + 3u, k, p.M, p.K));
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x * select(4u, 8u, WIDE);
  let m = gid.y * 4u;
  let z = gid.z;
  // No barrier anywhere, so threads past the edge may leave at once.
  if (m >= p.M || n >= p.N) { return; }
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0); // columns n+4 .. n+7 (WIDE only)
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  for (var r = 0u; r < p.nRed; r++) {
    let aBase = z * p.aBatch + r * p.aRed;
    let bBase = z * p.bBatch + r * p.bRed;
    for (var k = 0u; k < p.K; k += 4u) {
      let ar = loadAr(aBase, m, k);
      let b0 = loadBk(bBase, k, n);
      acc0 += b0 * ar[0];
      acc1 += b0 * ar[1];
      acc2 += b0 * ar[2];
      acc3 += b0 * ar[3];
      if (WIDE) {
        let b1 = loadBk(bBase, k, n + 4u);
        acc4 += b1 * ar[0];
        acc5 += b1 * ar[1];
        acc6 += b1 * ar[2];
        acc7 += b1 * ar[3];
      }
    }
  }
  storeRow(z, m, n, acc0);
  storeRow(z, m + 1u, n, acc1);
  storeRow(z, m + 2u, n, acc2);
  storeRow(z, m + 3u, n, acc3);
  if (WIDE) {
    storeRow(z, m, n + 4u, acc4);
    storeRow(z, m + 1u, n + 4u, acc5);
    storeRow(z, m + 2u, n + 4u, acc6);
    storeRow(z, m + 3u, n + 4u, acc7);
  }
}
