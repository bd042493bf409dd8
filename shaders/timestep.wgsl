// Sinusoidal timestep embedding (diffusers' get_timestep_embedding): Y[b, j] for t = T[b] and
// arg_k = t · F[k] (k < half = dim/2, F computed on the CPU in float32 exactly as torch does):
//   FLIP = 1 (SD3, flip_sin_to_cos=True): [cos(arg) | sin(arg)];  FLIP = 0: [sin(arg) | cos(arg)];
//   an odd dim gets a trailing 0.
// One thread per output element (B·dim values: a few KiB, launch-bound; nothing to tune). grid1d(n, 256).
//
// Accuracy: t goes up to 1000 (= 1000·sigma), so arguments reach 1000 rad. WGSL only promises sin/cos to
// 2^-11 absolute inside [-pi, pi] (SwiftShader measures 1.9e-4 there), and nothing outside. So the kernel reduces
// the argument itself (Cody-Waite by pi/2 in three parts; q·PIO2_1 and q·PIO2_2 are exact for |q| < 2^13, i.e.
// |arg| < 12867) and evaluates Cephes' single-precision minimax polynomials on [-pi/4, pi/4] (~1 ulp): the
// embedding is then the same on every GPU, to a few ulps of the float32 argument.

struct Params {
  n: u32,
  dim: u32,
  half: u32,
  flip: u32,
}

@group(0) @binding(0) var<storage, read> T: array<f32>;
@group(0) @binding(1) var<storage, read> F: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> u: Params;

const TWO_OVER_PI: f32 = 0.63661977236758134;
const PIO2_1: f32 = 1.5703125;                 // 8 significant bits
const PIO2_2: f32 = 4.837512969970703125e-4;   // 11 significant bits
const PIO2_3: f32 = 7.54978995489188216e-8;

// (sin x, cos x) to ~1 ulp for |x| < 12867.
fn sincos_accurate(x: f32) -> vec2f {
  let q = round(x * TWO_OVER_PI);
  let r = ((x - q * PIO2_1) - q * PIO2_2) - q * PIO2_3;
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  let c = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  // x = q·pi/2 + r: rotate (sin r, cos r) by the quadrant q mod 4 (two's complement & 3 is right for q < 0).
  switch (i32(q) & 3) {
    case 0: { return vec2f(s, c); }
    case 1: { return vec2f(c, -s); }
    case 2: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let b = i / u.dim;
  let j = i % u.dim;
  if (j >= 2u * u.half) {
    Y[i] = 0.0;
    return;
  }
  let first = j < u.half;
  let k = select(j - u.half, j, first);
  let sc = sincos_accurate(T[b] * F[k]);
  let want_cos = first == (u.flip == 1u);
  Y[i] = select(sc.x, sc.y, want_cos);
}
