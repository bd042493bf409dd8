// matmul_vec4: the vec4 operand bindings and bounds-checked loads shared by the register-blocked matmul kernels
// (shaders/matmul_tiled.wgsl, shaders/matmul_reg.wgsl). Prepended after matmul_common.wgsl.
// A_VEC4 / B_VEC4: the stored contiguous dimension is a multiple of 4, so every vec4 is 16-byte aligned and
// either wholly inside or wholly outside the matrix (one 128-bit load); otherwise 4 bounds-checked scalar loads
// (read as components of the same vec4 array). Out-of-range elements load as 0.

override A_VEC4: bool = false;
override B_VEC4: bool = false;

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;

/** a[e .. e+3] (flat f32 index e) of a stored [rows, cols] matrix at row r, columns c .. c+3; 0 outside. */
fn loadA4(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (r >= rows) { return v; }
  let e = base + r * cols + c;
  if (A_VEC4) {
    if (c < cols) { v = a[e >> 2u]; }
  } else {
    for (var j = 0u; j < 4u; j++) {
      if (c + j < cols) { v[j] = a[(e + j) >> 2u][(e + j) & 3u]; }
    }
  }
  return v;
}

fn loadB4(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (r >= rows) { return v; }
  let e = base + r * cols + c;
  if (B_VEC4) {
    if (c < cols) { v = b[e >> 2u]; }
  } else {
    for (var j = 0u; j < 4u; j++) {
      if (c + j < cols) { v[j] = b[(e + j) >> 2u][(e + j) & 3u]; }
    }
  }
  return v;
}

fn storeRow(z: u32, m: u32, n: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n + j < p.N) { epilogue(z, m, n + j, v[j]); }
  }
}
