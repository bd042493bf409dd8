// Random tensors on the GPU (Philox4x32-10, shaders/rng.wgsl) and the reproducible stream that feeds them.
//
// Reproducibility: a draw is a pure function of (key, counter, n), so a run is reproduced from its seed and the
// counter alone, whatever the GPU, batch split or dispatch order. `Rng` owns (key, counter), advances the
// counter by the ceil(n/4) blocks each call consumes, and serialises to JSON for checkpoints. Its host draws
// (`randHost`, `randnHost`) take blocks from the same counter, so GPU and host draws interleave in call order.
// Element i of a call is lane i % 4 of block counter + floor(i / 4) (see src/tensor/reference/rng.ts).
import rngWgsl from '../../../shaders/rng.wgsl?raw';
import type { Engine } from '../engine';
import { fmtShape, shapeSize, type Shape, type Tensor } from '../tensor';
import { grid1d, uniforms } from '../dispatch';
import { U64_MAX, refRand, refRandn } from '../reference/rng';

/** Where a call's stream starts: a 64-bit key and a 64-bit block counter (each block = 4 u32 = 4 elements). */
export interface PhiloxSeed {
  key: readonly [number, number];
  counter: number | bigint;
}

/** JSON form of an `Rng` (a bigint does not survive JSON, so the counter is a decimal string). */
export interface RngState {
  seed: [number, number];
  counter: string;
}

type Mode = 'bits' | 'uniform' | 'normal';

const KERNELS: Record<Mode, { name: string; code: string; entryPoint: string }> = {
  bits: { name: 'rng.bits', code: rngWgsl, entryPoint: 'gen_bits' },
  uniform: { name: 'rng.uniform', code: rngWgsl, entryPoint: 'gen_uniform' },
  normal: { name: 'rng.normal', code: rngWgsl, entryPoint: 'gen_normal' },
};

/** Philox blocks a call of n elements consumes. */
export function blocksFor(n: number): number {
  return Math.ceil(n / 4);
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what}: ${v} is not a u32`);
  return v;
}

function toCounter(c: number | bigint, what: string): bigint {
  if (typeof c === 'number' && !Number.isSafeInteger(c)) throw new RangeError(`${what}: counter ${c} is not a safe integer (use a bigint)`);
  const b = BigInt(c);
  if (b < 0n || b > U64_MAX) throw new RangeError(`${what}: counter ${b} is outside [0, 2^64)`);
  return b;
}

function generate(engine: Engine, shape: Shape, seed: PhiloxSeed, mode: Mode, name: string): Tensor {
  const op = `rng.${mode}`;
  const n = shapeSize(shape);
  if (n > 0xffffffff) throw new RangeError(`${op}: ${fmtShape(shape)} has more than 2^32 elements`);
  const key = [checkU32(seed.key[0], `${op} key[0]`), checkU32(seed.key[1], `${op} key[1]`)];
  const counter = toCounter(seed.counter, op);
  const blocks = blocksFor(n);
  if (counter + BigInt(blocks) - 1n > U64_MAX) throw new RangeError(`${op}: ${blocks} blocks from counter ${counter} pass 2^64`);
  const out = engine.empty(shape, name || op);
  if (blocks === 0) return out;
  // The kernel stores whole vec4s; pool buffers are multiples of 16 bytes, so this holds for our own outputs.
  if (out.buffer.bytes < blocks * 16) throw new Error(`${op}: buffer of ${out.describe()} is not padded to 16 bytes`);
  engine.gpu.dispatch({
    kernel: KERNELS[mode],
    buffers: [out.buffer],
    uniforms: uniforms([
      ['u32', blocks],
      ['u32', key[0]],
      ['u32', key[1]],
      ['u32', Number(counter & 0xffffffffn)],
      ['u32', Number(counter >> 32n)],
    ]),
    workgroups: grid1d(blocks, 256),
    detail: `${fmtShape(shape)} counter ${counter}`,
  });
  return out;
}

/** Uniform floats in [0, 1) (multiples of 2^-24), generated on the GPU. No gradient. */
export function rand(engine: Engine, shape: Shape, seed: PhiloxSeed, name = ''): Tensor {
  return generate(engine, shape, seed, 'uniform', name);
}

/** Standard normals (Box–Muller, |z| <= 5.77), generated on the GPU. No gradient. */
export function randn(engine: Engine, shape: Shape, seed: PhiloxSeed, name = ''): Tensor {
  return generate(engine, shape, seed, 'normal', name);
}

/**
 * The raw Philox u32 words in an f32 tensor's storage (read with `new Uint32Array((await t.toArray()).buffer)`).
 * For tests and for kernels that want their own bits; the floats themselves are meaningless.
 */
export function randBits(engine: Engine, shape: Shape, seed: PhiloxSeed, name = ''): Tensor {
  return generate(engine, shape, seed, 'bits', name);
}

/** A reproducible stream: a 64-bit key (the seed) and the next unused block counter. */
export class Rng {
  readonly key: readonly [number, number];
  private next: bigint;

  /** `seed`: a safe non-negative integer or bigint (< 2^64), or the key words [lo, hi]. */
  constructor(seed: number | bigint | readonly [number, number], counter: number | bigint = 0) {
    if (Array.isArray(seed)) {
      this.key = [checkU32(seed[0], 'Rng seed[0]'), checkU32(seed[1], 'Rng seed[1]')];
    } else {
      const s = toCounter(seed as number | bigint, 'Rng seed');
      this.key = [Number(s & 0xffffffffn), Number(s >> 32n)];
    }
    this.next = toCounter(counter, 'Rng');
  }

  /** The next unused block. */
  get counter(): bigint {
    return this.next;
  }

  /** Reserves the blocks of an n-element call and returns where it starts. */
  take(n: number): PhiloxSeed {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Rng.take: ${n} is not an element count`);
    const start = this.next;
    const end = start + BigInt(blocksFor(n));
    if (end - 1n > U64_MAX) throw new RangeError(`Rng: counter exhausted (2^64 blocks) for key ${this.key.join(',')}`);
    this.next = end;
    return { key: this.key, counter: start };
  }

  rand(engine: Engine, shape: Shape, name = ''): Tensor {
    return rand(engine, shape, this.take(shapeSize(shape)), name);
  }

  randn(engine: Engine, shape: Shape, name = ''): Tensor {
    return randn(engine, shape, this.take(shapeSize(shape)), name);
  }

  /** Uniform [0, 1) floats on the host: the same values the GPU would produce for this call. */
  randHost(n: number): Float32Array {
    const s = this.take(n);
    return refRand(s.key, BigInt(s.counter), n);
  }

  /** Standard normals on the host (small draws: timesteps, per-sample choices), same stream as the GPU. */
  randnHost(n: number): Float32Array {
    const s = this.take(n);
    return refRandn(s.key, BigInt(s.counter), n);
  }

  toJSON(): RngState {
    return { seed: [this.key[0], this.key[1]], counter: this.next.toString() };
  }

  static fromJSON(state: RngState): Rng {
    if (!state || !Array.isArray(state.seed) || state.seed.length !== 2 || typeof state.counter !== 'string' || !/^\d+$/.test(state.counter)) {
      throw new TypeError(`Rng.fromJSON: expected {seed: [u32, u32], counter: "<decimal>"}, got ${JSON.stringify(state)}`);
    }
    return new Rng([state.seed[0], state.seed[1]], BigInt(state.counter));
  }
}
