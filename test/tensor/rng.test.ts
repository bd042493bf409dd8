import { describe, expect, it } from 'vitest';
import { Rng, rand, randBits, randn } from '../../src/tensor/ops/rng';
import { boxMuller, cosSinTurns, lnU24, philox4x32, philoxStream, refRand, refRandn } from '../../src/tensor/reference/rng';
import { expectClose, getEngine } from './harness';

const hex = (a: ArrayLike<number>) => Array.from(a, (x) => x.toString(16).padStart(8, '0'));
const bitsOf = (f: Float32Array) => new Uint32Array(f.buffer, f.byteOffset, f.length);

// Seeds and offsets: zero, arbitrary, a counter that carries into the high word mid-call, a 64-bit counter.
const SEEDS: Array<{ key: [number, number]; counter: bigint }> = [
  { key: [0, 0], counter: 0n },
  { key: [0x12345678, 0x9abcdef0], counter: 7n },
  { key: [42, 0], counter: 0xffffffffn - 2n },
  { key: [0xffffffff, 0xffffffff], counter: (1n << 63n) + 12345n },
];
const SIZES = [1, 3, 4, 1000, 4097];

describe('Philox4x32-10 reference', () => {
  it('reproduces the Random123 known-answer vectors (tests/kat_vectors)', () => {
    const kat: Array<[number[], number[], string[]]> = [
      [[0, 0, 0, 0], [0, 0], ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']],
      [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']],
      [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], ['d16cfe09', '94fdcceb', '5001e420', '24126ea1']],
    ];
    for (const [ctr, key, want] of kat) expect(hex(philox4x32(ctr, key))).toEqual(want);
  });

  it('maps bits to floats as specified', () => {
    expect(refRand([0, 0], 0n, 1)[0]).toBe((0x6627e8d5 >>> 8) / 2 ** 24);
    // u1 = 1 (top bits all ones) gives r = 0; the log polynomial is accurate across the range.
    expect(lnU24(0xffffffff)).toBe(0);
    for (const x of [0, 1 << 8, 0x7fffff00, 0x80000000, 0xb504f300, 0xfffffe00]) {
      const u1 = ((x >>> 8) + 1) / 2 ** 24;
      expect(Math.abs(lnU24(x) - Math.log(u1))).toBeLessThan(2e-7 * Math.max(1, Math.abs(Math.log(u1))));
    }
    for (let j = 0; j < 1 << 24; j += 99991) {
      const [c, s] = cosSinTurns(j);
      const t = (2 * Math.PI * j) / 2 ** 24;
      expect(Math.abs(c - Math.cos(t))).toBeLessThan(2e-7);
      expect(Math.abs(s - Math.sin(t))).toBeLessThan(2e-7);
    }
    const [z0, z1] = boxMuller(0, 0x40000000); // u1 = 2^-24, θ = π/2
    expect(z0).toBeCloseTo(0, 6);
    expect(z1).toBeCloseTo(Math.sqrt(-2 * Math.log(2 ** -24)), 5);
  });

  it('element i is lane i%4 of block counter + i/4, with a 64-bit carry', () => {
    const s = philoxStream([5, 6], 0xffffffffn, 8);
    expect(Array.from(s.subarray(0, 4))).toEqual(Array.from(philox4x32([0xffffffff, 0, 0, 0], [5, 6])));
    expect(Array.from(s.subarray(4))).toEqual(Array.from(philox4x32([0, 1, 0, 0], [5, 6])));
  });
});

describe('rng on the GPU', () => {
  it('produces the reference u32 stream and uniform floats bit for bit', async () => {
    const e = await getEngine();
    for (const seed of SEEDS) {
      for (const n of SIZES) {
        const label = `key ${seed.key} counter ${seed.counter} n ${n}`;
        const bits = randBits(e, [n], seed);
        const u = rand(e, [n], seed);
        expect(hex(bitsOf(await bits.toArray())), label).toEqual(hex(philoxStream(seed.key, seed.counter, n)));
        expect(bitsOf(await u.toArray()), label).toEqual(bitsOf(refRand(seed.key, seed.counter, n)));
        bits.release();
        u.release();
      }
    }
  });

  it('produces the reference normals within f32 rounding', async () => {
    const e = await getEngine();
    let maxDiff = 0;
    for (const seed of SEEDS) {
      for (const n of SIZES) {
        const z = randn(e, [n], seed);
        const got = await z.toArray();
        const want = refRandn(seed.key, seed.counter, n);
        expectClose(got, want, { atol: 1e-5, rtol: 0 }, `randn key ${seed.key} counter ${seed.counter} n ${n}`);
        for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        z.release();
      }
    }
    console.log(`randn GPU vs CPU: max |diff| ${maxDiff.toExponential(2)}`);
  });

  it('has the right moments (1e6 draws) and range', async () => {
    const e = await getEngine();
    const n = 1_000_000;
    const z = await randn(e, [n], { key: [2024, 7], counter: 0 }).toArray();
    let s = 0;
    let s2 = 0;
    for (const x of z) {
      s += x;
      s2 += x * x;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.005);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);

    const u = await rand(e, [n], { key: [2024, 8], counter: 0 }).toArray();
    let lo = 1;
    let hi = 0;
    let su = 0;
    for (const x of u) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      su += x;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(Math.abs(su / n - 0.5)).toBeLessThan(0.002); // σ of the mean: 0.29/1000
  });

  it('Rng advances by blocks, interleaves host and GPU draws on one stream, and round-trips through JSON', async () => {
    const e = await getEngine();
    const a = new Rng(123456789);
    const host = a.randnHost(5); // blocks 0..1
    expect(a.counter).toBe(2n);
    const gpu = await a.rand(e, [9]).toArray(); // blocks 2..4
    expect(a.counter).toBe(5n);
    expectClose(host, refRandn([123456789, 0], 0n, 5), { atol: 0, rtol: 0 }, 'host normals');
    expect(bitsOf(gpu)).toEqual(bitsOf(refRand([123456789, 0], 2n, 9)));

    const saved = JSON.parse(JSON.stringify(a));
    expect(saved).toEqual({ seed: [123456789, 0], counter: '5' });
    const b = Rng.fromJSON(saved);
    expect(bitsOf(b.randHost(3))).toEqual(bitsOf(a.randHost(3)));
    expect(new Rng(2n ** 40n + 3n).key).toEqual([3, 256]);
    expect(() => new Rng(-1)).toThrow(/outside/);
    expect(() => Rng.fromJSON({ seed: [1, 2], counter: 'x' })).toThrow(/fromJSON/);
    expect(() => e.scope(() => { randn(e, [4], { key: [0, 0], counter: (1n << 64n) - 1n }); })).not.toThrow();
    expect(() => randn(e, [5], { key: [0, 0], counter: (1n << 64n) - 1n })).toThrow(/pass 2\^64/);
  });
});
