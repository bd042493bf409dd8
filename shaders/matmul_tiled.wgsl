// matmul v2 (register-tiled). Prepend activation.wgsl + matmul_common.wgsl + matmul_vec4.wgsl, which document
// what is computed and the vec4 operand loads.
//
// Dispatch: (ceil(N/64), ceil(M/64), gridZ); workgroup 16x16; each workgroup computes a 64x64 tile of C, each
// thread a 4x4 block of it (rows m0 + 4·ty .. +3, columns n0 + 4·tx .. +3) in 16 registers.
// Tile sizes and why:
// - 16x16 = 256 threads: the WebGPU default maxComputeInvocationsPerWorkgroup, 8 warps (NVIDIA) / 4 wave64
//   (AMD), enough to hide the latency of the next tile's loads behind the FMAs of other warps.
// - 4x4 per thread: per k the thread reads one vec4 of A and one vec4 of B from workgroup memory and does 16
//   FMAs (8 FMA per shared load, vs 1 for the naive kernel); 16 accumulators + 8 operands keep register use
//   low, so occupancy stays high on integrated and mobile GPUs too (8x8 per thread would spill on some).
// - K step 16: one vec4 global load of A and one of B per thread per step (64·16 = 1024 floats = 256 vec4 per
//   tile); the two tiles take 2·16·17·16 B = 8.5 KiB of workgroup memory, inside the 16 KiB WebGPU minimum, so
//   several workgroups fit per SM / CU.
// - Row pitch 17 vec4 (68 floats) in workgroup memory: the transposing stores (A stored [M, K], B stored [N, K])
//   would hit the same bank 4 times with a pitch of 64 floats; 68 makes it 2-way. The inner-loop reads (a
//   broadcast vec4 of A, 16 consecutive vec4 of B) are conflict-free either way.
// Global loads: each thread loads 4 consecutive elements along the stored contiguous dimension. With A_VEC4 /
// B_VEC4 (the contiguous dimension is a multiple of 4, so every vec4 is 16-byte aligned and either wholly inside
// or wholly outside the matrix) that is one 128-bit load; otherwise 4 bounds-checked scalar loads (read as
// components of the same vec4 array). Four consecutive threads read 64 contiguous bytes of a row (K-contiguous
// layouts) or sixteen read 256 bytes (M/N-contiguous layouts): full 32-byte sectors either way.
// Out-of-range elements load as 0, so M, N, K need not be multiples of the tile; stores are bounds-checked.
// Stores of C are scalar: C is written once per 64x64 tile, after K/16 steps of loads, so vec4 stores (which
// would need N % 4 == 0) buy little.
// Limits: M, N ≤ 64·65535, gridZ ≤ 65535. The `a` and `b` buffers' sizes must be multiples of 16 bytes (the
// engine's pool allocates multiples of 64).

const TILE: u32 = 64u;   // C tile edge (16 threads x 4)
const KT: u32 = 16u;     // K step
const PITCH: u32 = 17u;  // workgroup-tile row pitch in vec4 (64 floats + 4 padding)

// As[k·PITCH + i/4][i%4] = opA[m0 + i, k0 + k]; Bs[k·PITCH + j/4][j%4] = opB[k0 + k, n0 + j].
var<workgroup> As: array<vec4<f32>, 272>;  // KT · PITCH
var<workgroup> Bs: array<vec4<f32>, 272>;

/** Stages opA[m0 .. m0+63, k0 .. k0+15] into As; thread t of 256 loads one vec4. */
fn stageA(base: u32, m0: u32, k0: u32, t: u32) {
  if (TRANS_A) {
    // Stored [K, M]: a vec4 runs along m, so it lands as one vec4 of a k-row of As.
    let k = t / 16u;
    let i = (t % 16u) * 4u;
    As[k * PITCH + i / 4u] = loadA4(base, k0 + k, m0 + i, p.K, p.M);
  } else {
    // Stored [M, K]: a vec4 runs along k, so it is transposed into 4 k-rows of As.
    let i = t / 4u;
    let k = (t % 4u) * 4u;
    let v = loadA4(base, m0 + i, k0 + k, p.M, p.K);
    for (var j = 0u; j < 4u; j++) { As[(k + j) * PITCH + i / 4u][i % 4u] = v[j]; }
  }
}

/** Stages opB[k0 .. k0+15, n0 .. n0+63] into Bs; thread t of 256 loads one vec4. */
fn stageB(base: u32, n0: u32, k0: u32, t: u32) {
  if (TRANS_B) {
    // Stored [N, K]: a vec4 runs along k; transposed into 4 k-rows of Bs.
    let jn = t / 4u;
    let k = (t % 4u) * 4u;
    let v = loadB4(base, n0 + jn, k0 + k, p.N, p.K);
    for (var j = 0u; j < 4u; j++) { Bs[(k + j) * PITCH + jn / 4u][jn % 4u] = v[j]; }
  } else {
    // Stored [K, N]: a vec4 runs along n.
    let k = t / 16u;
    let jn = (t % 16u) * 4u;
    Bs[k * PITCH + jn / 4u] = loadB4(base, k0 + k, n0 + jn, p.K, p.N);
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let z = wid.z;
  // Four named rows rather than an array: keeps the accumulators in registers on every compiler.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var r = 0u; r < p.nRed; r++) {
    let aBase = z * p.aBatch + r * p.aRed;
    let bBase = z * p.bBatch + r * p.bRed;
    for (var k0 = 0u; k0 < p.K; k0 += KT) {
      stageA(aBase, m0, k0, t);
      stageB(bBase, n0, k0, t);
      workgroupBarrier();
      for (var k = 0u; k < KT; k++) {
        let av = As[k * PITCH + ty]; // rows 4·ty .. 4·ty+3 (same for the 16 threads of a row: broadcast)
        let bv = Bs[k * PITCH + tx]; // columns 4·tx .. 4·tx+3
        acc0 += av.x * bv;
        acc1 += av.y * bv;
        acc2 += av.z * bv;
        acc3 += av.w * bv;
      }
      workgroupBarrier();
    }
  }
  let m = m0 + ty * 4u;
  let n = n0 + tx * 4u;
  storeRow(z, m, n, acc0);
  storeRow(z, m + 1u, n, acc1);
  storeRow(z, m + 2u, n, acc2);
  storeRow(z, m + 3u, n, acc3);
}
