// rng: counter-based random numbers, Philox4x32-10 (Salmon et al., SC11; the Random123 algorithm).
// Spec: src/tensor/reference/rng.ts (same u32 stream, same float maps, f32 op for f32 op).
//
// Entry points (one Philox block of 128 bits per thread, 4 outputs per thread):
//   gen_bits    : dst[i] = raw u32                  (tests; also the basis of the two below)
//   gen_uniform : dst[i] = (x >> 8) * 2^-24        in [0, 1), exact in f32
//   gen_normal  : Box–Muller on lane pairs (x, y) = (0,1), (2,3) -> elements (4b, 4b+1), (4b+2, 4b+3):
//                 (z0, z1) = sqrt(-2 ln u1) · (cos θ, sin θ),  u1 = ((x >> 8) + 1)·2^-24 in (0, 1],
//                 θ = 2π·(y >> 8)·2^-24; ln, cos, sin are our own f32 polynomials (below), so |z| <= 5.77.
// Stream layout: element i uses block b = i / 4, lane i % 4, with the 128-bit counter
//   (lo32(base + b), hi32(base + b), 0, 0) and key (key0, key1). base is a 64-bit block offset.
// Layout: `dst` is the f32 tensor's buffer viewed as vec4<u32> (floats are stored through bitcast, so the
//   bits are exactly those computed). Pool buffers are multiples of 16 bytes, so the last vec4 may write up
//   to 3 words past n into the buffer's own padding (never another tensor's data).
// Dispatch: grid1d(ceil(n / 4), 256); block index = gid.x + gid.y * nwg.x * 256.
// Sizes: 256 threads = 8 warps (NVIDIA) / 4 wave64 (AMD) / 8 simdgroups (Apple): a full occupancy unit on all.
//   One block per thread because Philox is ALU-bound (~10 rounds × 2 32x32->64 multiplies = ~100 int ops per
//   16 bytes written) and has no cross-thread data; the vec4 store is one 128-bit transaction per thread.
// Limits: n < 2^32 elements per call; base + blocks must not pass 2^64 (checked in TypeScript).

struct Params {
  blocks: u32,  // ceil(n / 4): threads with work
  key0: u32,
  key1: u32,
  ctr_lo: u32,  // 64-bit base block counter
  ctr_hi: u32,
}

@group(0) @binding(0) var<storage, read_write> dst: array<vec4<u32>>;
@group(0) @binding(1) var<uniform> p: Params;

const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u; // golden ratio
const PHILOX_W1 = 0xBB67AE85u; // sqrt(3) - 1

// High word of a 32x32 product. WGSL has no u64 or mul_hi, so it is assembled from 16-bit halves
// (GPUs have a native mul.hi, which a compiler may or may not recover from this pattern).
fn mulhi(a: u32, b: u32) -> u32 {
  let aL = a & 0xFFFFu;
  let aH = a >> 16u;
  let bL = b & 0xFFFFu;
  let bH = b >> 16u;
  let ll = aL * bL;
  let lh = aL * bH;
  let hl = aH * bL;
  let hh = aH * bH;
  let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
  return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox4x32_10(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k += vec2<u32>(PHILOX_W0, PHILOX_W1); } // key bump before rounds 2..10
    let hi0 = mulhi(PHILOX_M0, c.x);
    let lo0 = PHILOX_M0 * c.x;
    let hi1 = mulhi(PHILOX_M1, c.z);
    let lo1 = PHILOX_M1 * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}

// f32 constants by their bits: the CPU reference uses Math.fround of the same values, and bit patterns leave
// no room for a compiler's rounding of decimal literals.
const TWO_POW_M24 = 5.9604644775390625e-8;        // 2^-24, exact
const LN2_HI = bitcast<f32>(0x3f317200u);          // 0.693145751953125 (e * LN2_HI exact for |e| <= 24)
const LN2_LO = bitcast<f32>(0x35bfbe8eu);          // ln 2 - LN2_HI
const SQRT2 = bitcast<f32>(0x3fb504f3u);
const TWO_PI_M24 = bitcast<f32>(0x34c90fdbu);      // 2π / 2^24
const INV3 = bitcast<f32>(0x3eaaaaabu);
const INV5 = bitcast<f32>(0x3e4ccccdu);
const INV7 = bitcast<f32>(0x3e124925u);
const INV9 = bitcast<f32>(0x3de38e39u);
const INV6 = bitcast<f32>(0x3e2aaaabu);
const INV120 = bitcast<f32>(0x3c088889u);
const INV5040 = bitcast<f32>(0x39500d01u);
const INV362880 = bitcast<f32>(0x3638ef1du);
const INV24 = bitcast<f32>(0x3d2aaaabu);
const INV720 = bitcast<f32>(0x3ab60b61u);
const INV40320 = bitcast<f32>(0x37d00d01u);
const NEG_INV3628800 = bitcast<f32>(0xb493f27eu);

fn uniform01(x: u32) -> f32 {
  return f32(x >> 8u) * TWO_POW_M24;
}

// ln(u1), u1 = ((x >> 8) + 1) * 2^-24 in (0, 1]. Own polynomial rather than log(): WGSL leaves log's accuracy
// to the vendor, while +, *, / are within a few ULP everywhere, so CPU and GPU agree to ~1e-7.
fn ln_u24(x: u32) -> f32 {
  let k = (x >> 8u) + 1u;
  var e = 31 - i32(countLeadingZeros(k));
  var g = ldexp(f32(k), -e); // [1, 2), exact
  if (g > SQRT2) {
    g = g * 0.5;
    e = e + 1;
  }
  let s = (g - 1.0) / (g + 1.0);
  let s2 = s * s;
  var q = INV9;
  q = q * s2 + INV7;
  q = q * s2 + INV5;
  q = q * s2 + INV3;
  q = q * s2 + 1.0;
  let ln_g = (2.0 * s) * q;
  let ef = f32(e - 24);
  return ef * LN2_HI + (ef * LN2_LO + ln_g);
}

// (cos, sin) of 2π·j·2^-24 for a 24-bit j: exact quadrant from the integer, Taylor series on [-π/4, π/4).
fn cos_sin_turns(j: u32) -> vec2<f32> {
  let q = (j + 0x200000u) >> 22u;
  let a = f32(i32(j) - i32(q << 22u)) * TWO_PI_M24;
  let a2 = a * a;
  var sp = INV362880;
  sp = sp * a2 - INV5040;
  sp = sp * a2 + INV120;
  sp = sp * a2 - INV6;
  let s = a + (a * a2) * sp;
  var cp = NEG_INV3628800;
  cp = cp * a2 + INV40320;
  cp = cp * a2 - INV720;
  cp = cp * a2 + INV24;
  cp = cp * a2 - 0.5;
  let c = a2 * cp + 1.0;
  switch (q & 3u) {
    case 0u: { return vec2<f32>(c, s); }
    case 1u: { return vec2<f32>(-s, c); }
    case 2u: { return vec2<f32>(-c, -s); }
    default: { return vec2<f32>(s, -c); }
  }
}

fn box_muller(x: u32, y: u32) -> vec2<f32> {
  let r = sqrt(-2.0 * ln_u24(x));
  let cs = cos_sin_turns(y >> 8u);
  return vec2<f32>(r * cs.x, r * cs.y);
}

// Block index of this thread (>= p.blocks for the tail of the last workgroup).
fn block_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

fn block_bits(b: u32) -> vec4<u32> {
  let lo = p.ctr_lo + b;
  let hi = p.ctr_hi + select(0u, 1u, lo < b); // carry of the 64-bit add
  return philox4x32_10(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(p.key0, p.key1));
}

@compute @workgroup_size(256)
fn gen_bits(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = block_index(gid, nwg);
  if (b >= p.blocks) { return; }
  dst[b] = block_bits(b);
}

@compute @workgroup_size(256)
fn gen_uniform(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = block_index(gid, nwg);
  if (b >= p.blocks) { return; }
  let x = block_bits(b);
  let u = vec4<f32>(uniform01(x.x), uniform01(x.y), uniform01(x.z), uniform01(x.w));
  dst[b] = bitcast<vec4<u32>>(u);
}

@compute @workgroup_size(256)
fn gen_normal(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = block_index(gid, nwg);
  if (b >= p.blocks) { return; }
  let x = block_bits(b);
  let z01 = box_muller(x.x, x.y);
  let z23 = box_muller(x.z, x.w);
  dst[b] = bitcast<vec4<u32>>(vec4<f32>(z01, z23));
}
