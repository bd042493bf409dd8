// CPU reference (the spec) of shaders/rng.wgsl: Philox4x32-10 and the u32 -> float maps.
//
// Unlike the other references this one is not float64: the GPU must reproduce these exact bits, so every
// float operation below is the f32 operation the shader performs, rounded with Math.fround in the same order.
// The uniform floats are exact (bit-identical); the normals differ only by the GPU's f32 division/sqrt
// rounding (WGSL allows 2.5 and ~3 ULP) and any fma contraction, i.e. a few 1e-7.
//
// Stream layout (shared with the shader and with Rng in ops/rng.ts):
//   element i of a call with seed {key, counter} is lane i % 4 of the Philox block
//   counter = (lo32(counter + floor(i/4)), hi32(counter + floor(i/4)), 0, 0),  key = (key[0], key[1]).
//   A call of n elements consumes ceil(n/4) blocks; the next call starts at counter + ceil(n/4).
// Words 2 and 3 of the 128-bit counter are reserved (zero): 2^64 blocks per key is inexhaustible.

// Philox4x32 constants from Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC11):
// multipliers M0, M1 and the Weyl key increments W0 (golden ratio), W1 (sqrt(3) - 1).
export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

/** High 32 bits of the 64-bit product a·b (u32 inputs), from 16-bit halves as the shader does (no u64 in WGSL). */
export function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff); // < 3·2^16: no overflow
  return (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** One Philox4x32-10 block: 4 u32 outputs for a 128-bit counter and a 64-bit key (Random123's philox4x32_R). */
export function philox4x32(ctr: ArrayLike<number>, key: ArrayLike<number>, out = new Uint32Array(4)): Uint32Array {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < PHILOX_ROUNDS; r++) {
    if (r > 0) {
      // The key schedule bumps BEFORE rounds 2..R (Random123 order).
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

export const U64_MAX = (1n << 64n) - 1n;

/** The raw u32 stream of a call: element i = lane i%4 of block counter + floor(i/4). */
export function philoxStream(key: readonly [number, number], counter: bigint, n: number): Uint32Array {
  const out = new Uint32Array(n);
  const block = new Uint32Array(4);
  const ctr = new Uint32Array(4);
  for (let b = 0; b * 4 < n; b++) {
    const c = (counter + BigInt(b)) & U64_MAX;
    ctr[0] = Number(c & 0xffffffffn);
    ctr[1] = Number(c >> 32n);
    philox4x32(ctr, key, block);
    for (let j = 0; j < 4 && b * 4 + j < n; j++) out[b * 4 + j] = block[j];
  }
  return out;
}

const TWO_POW_M24 = 5.9604644775390625e-8; // 2^-24

/** Uniform in [0, 1): the top 24 bits times 2^-24, exact in f32 (a 24-bit integer times a power of two). */
export function uniformFromBits(x: number): number {
  return (x >>> 8) * TWO_POW_M24;
}

const f = Math.fround;
// Cody–Waite split of ln 2: LN2_HI has 16 trailing zero bits, so e·LN2_HI is exact for |e| <= 24.
const LN2_HI = f(0.693145751953125);
const LN2_LO = f(1.428606765330187e-6);
const SQRT2 = f(Math.SQRT2);
const TWO_PI_M24 = f((2 * Math.PI) / 16777216); // radians per 2^-24 turn

/**
 * ln(u1) with u1 = ((x >> 8) + 1)·2^-24 in (0, 1] (never 0, so log is finite; the normals are therefore
 * bounded by sqrt(-2 ln 2^-24) ≈ 5.77σ). Exponent from the integer (exact), mantissa g in [√½, √2),
 * ln g = 2·atanh(s), s = (g-1)/(g+1), |s| <= 0.172, odd series to s^9 (truncation < 3e-9 relative).
 * Own polynomial instead of WGSL log(): its accuracy is vendor-defined, basic f32 arithmetic is not.
 */
export function lnU24(x: number): number {
  const k = (x >>> 8) + 1; // [1, 2^24]
  let e = 31 - Math.clz32(k); // floor(log2 k), exact
  let g = f(k * 2 ** -e); // [1, 2), exact (ldexp)
  if (g > SQRT2) {
    g = f(g * 0.5);
    e += 1;
  }
  const s = f(f(g - 1) / f(g + 1));
  const s2 = f(s * s);
  // 2s·(1 + s²/3 + s⁴/5 + s⁶/7 + s⁸/9), Horner.
  let q = f(1 / 9);
  q = f(f(q * s2) + f(1 / 7));
  q = f(f(q * s2) + f(1 / 5));
  q = f(f(q * s2) + f(1 / 3));
  q = f(f(q * s2) + 1);
  const lnG = f(f(2 * s) * q);
  const ef = e - 24;
  return f(f(ef * LN2_HI) + f(f(ef * LN2_LO) + lnG));
}

/**
 * (cos θ, sin θ) for θ = 2π·j·2^-24, j a 24-bit integer. The quadrant comes from the integer (exact), the
 * remainder a = 2π·r·2^-24 lies in [-π/4, π/4), where Taylor series to a^10 / a^9 are accurate to 2e-9.
 */
export function cosSinTurns(j: number): [number, number] {
  const q = (j + 0x200000) >>> 22; // nearest quarter turn, 0..4
  const r = j - q * 0x400000; // [-2^21, 2^21)
  const a = f(r * TWO_PI_M24);
  const a2 = f(a * a);
  let sp = f(1 / 362880);
  sp = f(f(sp * a2) - f(1 / 5040));
  sp = f(f(sp * a2) + f(1 / 120));
  sp = f(f(sp * a2) - f(1 / 6));
  const s = f(a + f(f(a * a2) * sp));
  let cp = f(-1 / 3628800);
  cp = f(f(cp * a2) + f(1 / 40320));
  cp = f(f(cp * a2) - f(1 / 720));
  cp = f(f(cp * a2) + f(1 / 24));
  cp = f(f(cp * a2) - 0.5);
  const c = f(f(a2 * cp) + 1);
  switch (q & 3) {
    case 0:
      return [c, s];
    case 1:
      return [-s, c];
    case 2:
      return [-c, -s];
    default:
      return [s, -c];
  }
}

/** Box–Muller on two u32s: r = sqrt(-2 ln u1), θ = 2π·u2; returns (r cos θ, r sin θ). */
export function boxMuller(x: number, y: number): [number, number] {
  const r = f(Math.sqrt(f(-2 * lnU24(x))));
  const [c, s] = cosSinTurns(y >>> 8);
  return [f(r * c), f(r * s)];
}

/** Uniform floats of a call (bit-identical to the GPU's `rand`). */
export function refRand(key: readonly [number, number], counter: bigint, n: number): Float32Array {
  const bits = philoxStream(key, counter, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = uniformFromBits(bits[i]);
  return out;
}

/** Normals of a call: lanes (0,1) and (2,3) of each block are Box–Muller pairs -> elements (4b, 4b+1), (4b+2, 4b+3). */
export function refRandn(key: readonly [number, number], counter: bigint, n: number): Float32Array {
  const bits = philoxStream(key, counter, Math.ceil(n / 4) * 4);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const [z0, z1] = boxMuller(bits[i], bits[i + 1]);
    out[i] = z0;
    if (i + 1 < n) out[i + 1] = z1;
  }
  return out;
}
