// Elementwise ops from the table: GPU vs float64 reference (forward and every gradient), NumPy broadcasting,
// reference derivatives vs finite differences, gradient ownership, errors that name op and shapes.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import * as ew from '../../src/tensor/ops/elementwise';
import { sum } from '../../src/tensor/ops/reduce';
import {
  BINARY_REF,
  UNARY_REF,
  binaryBackwardRef,
  binaryRef,
  lerpBackwardRef,
  lerpRef,
  unaryBackwardRef,
  unaryRef,
} from '../../src/tensor/reference/elementwise';
import { size } from '../../src/tensor/reference/shape';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand } from './harness';

const UNARY_S: Partial<Record<ew.UnaryOp, number>> = { scale: -1.75, addScalar: 0.3 };
const BINARY_S: Partial<Record<ew.BinaryOp, number>> = { addScaled: -0.37 };
/** div's b stays away from 0. */
const bRange = (op: string): [number, number] => (op === 'div' ? [0.5, 2] : [-1, 1]);

describe('the op table', () => {
  it('declares every op once, with a float64 reference for each', () => {
    expect(Object.keys(ew.UNARY_OPS).sort()).toEqual(Object.keys(UNARY_REF).sort());
    expect(Object.keys(ew.BINARY_OPS).sort()).toEqual(Object.keys(BINARY_REF).sort());
    for (const k of ['gelu', 'silu', 'scale', 'neg', 'square', 'exp']) expect(ew.UNARY_OPS).toHaveProperty(k);
  });

  it('reference derivatives match finite differences', () => {
    const xs = rand(16, 1, -3, 3);
    for (const [op, r] of Object.entries(UNARY_REF)) {
      const s = UNARY_S[op as ew.UnaryOp] ?? 0;
      const fd = finiteDiff((x) => r.f(x[0], s), Float64Array.of(0));
      expect(Number.isFinite(fd[0])).toBe(true);
      const got = xs.map((x) => r.df(x, s));
      const want = xs.map((x) => finiteDiff((v) => r.f(v[0], s), Float64Array.of(x))[0]);
      expectClose(got, want, { atol: 1e-7, rtol: 1e-6 }, `d${op}/dx`);
    }
  });

  it('broadcast reference gradients match finite differences', () => {
    for (const op of Object.keys(BINARY_REF)) {
      const [aShape, bShape] = [[2, 1, 3], [4, 1]];
      const a = rand(size(aShape), 2);
      const b = rand(size(bShape), 3, ...bRange(op));
      const s = BINARY_S[op as ew.BinaryOp] ?? 0;
      const w = rand(2 * 4 * 3, 4);
      const { ga, gb } = binaryBackwardRef(op, a, aShape, b, bShape, w, s);
      expectClose(ga, finiteDiff((x) => dot(binaryRef(op, x, aShape, b, bShape, s).y, w), a), { atol: 1e-7, rtol: 1e-6 }, `${op} da`);
      expectClose(gb, finiteDiff((x) => dot(binaryRef(op, a, aShape, x, bShape, s).y, w), b), { atol: 1e-7, rtol: 1e-6 }, `${op} db`);
    }
    const [a, b, t, w] = [rand(12, 5), rand(12, 6), rand(3, 7, 0, 1), rand(12, 8)];
    const g = lerpBackwardRef(a, b, t, w);
    const tol = { atol: 1e-7, rtol: 1e-6 };
    expectClose(g.ga, finiteDiff((x) => dot(lerpRef(x, b, t), w), a), tol, 'lerp da');
    expectClose(g.gb, finiteDiff((x) => dot(lerpRef(a, x, t), w), b), tol, 'lerp db');
    expectClose(g.gt, finiteDiff((x) => dot(lerpRef(a, b, x), w), t), tol, 'lerp dt');
  });
});

describe('unary ops on the GPU', () => {
  for (const op of Object.keys(ew.UNARY_OPS) as ew.UnaryOp[]) {
    it(`${op}: forward and gradient vs float64`, async () => {
      const e = await getEngine();
      const n = 300; // more than one workgroup, not a multiple of 256
      const x0 = f32(rand(n, 11, -4, 4));
      const s = UNARY_S[op] ?? 0;
      const x = e.parameter(x0, [3, 100], 'x');
      const y = ew.unary(op, x, s);
      expectClose(await y.toArray(), unaryRef(op, x0, s), FWD, `${op} forward`);
      const w = f32(rand(n, 12));
      backward(y, e.fromArray(w, y.shape));
      expectClose(await x.grad!.toArray(), unaryBackwardRef(op, x0, w, s), GRAD, `${op} grad`);
    });
  }
});

describe('binary ops with NumPy broadcasting', () => {
  const cases: Array<[number[], number[]]> = [
    [[7, 33], [7, 33]], // same shape: the flat kernel, pass-through gradients
    [[2, 3, 4], [4]], // bias
    [[2, 1, 4], [1, 3, 1]], // both operands broadcast
    [[], [3, 5]], // scalar
    [[5], []],
    [[1], [1]], // size 1
    [[2, 3, 4], [2, 3, 1]], // trailing broadcast: row reduction in the backward
    [[2, 1, 300], [2, 70, 1]], // outer product shape, gradients reduce over 70 and 300
    [[2, 3, 1, 4, 5], [1, 3, 1, 1, 1]], // 5-D that merges to 3 index dims
  ];
  for (const op of Object.keys(ew.BINARY_OPS) as ew.BinaryOp[]) {
    it(`${op}: forward and both gradients over ${cases.length} shape pairs`, async () => {
      const e = await getEngine();
      const s = BINARY_S[op] ?? 0;
      for (const [k, [aShape, bShape]] of cases.entries()) {
        const label = `${op}([${aShape}], [${bShape}])`;
        const a0 = f32(rand(size(aShape), 20 + k));
        const b0 = f32(rand(size(bShape), 40 + k, ...bRange(op)));
        const a = e.parameter(a0, aShape, 'a');
        const b = e.parameter(b0, bShape, 'b');
        const y = ew.binary(op, a, b, s);
        const want = binaryRef(op, a0, aShape, b0, bShape, s);
        expect(y.shape, label).toEqual(want.shape);
        expectClose(await y.toArray(), want.y, FWD, `${label} forward`);
        const w = f32(rand(y.size, 60 + k));
        backward(y, e.fromArray(w, y.shape));
        const g = binaryBackwardRef(op, a0, aShape, b0, bShape, w, s);
        expect(a.grad!.shape, label).toEqual(aShape);
        expectClose(await a.grad!.toArray(), g.ga, GRAD, `${label} grad a`);
        expectClose(await b.grad!.toArray(), g.gb, GRAD, `${label} grad b`);
        a.release();
        b.release();
      }
    });
  }

  it('an operand used twice gets both contributions; pass-through gradients never corrupt each other', async () => {
    const e = await getEngine();
    const x = e.parameter([1, 2, 3], [3], 'x');
    backward(sum(ew.mul(x, x)));
    expect(Array.from(await x.grad!.toArray())).toEqual([2, 4, 6]);
    // add hands g to both operands as views; accumulating twice would double-count if a.grad and b.grad
    // ended up as one buffer (the tape copies shared gradients before accumulating).
    const a = e.parameter([1, 1], [2], 'a');
    const b = e.parameter([1, 1], [2], 'b');
    for (let k = 0; k < 2; k++) backward(sum(ew.add(a, b)));
    expect(Array.from(await a.grad!.toArray())).toEqual([2, 2]);
    expect(Array.from(await b.grad!.toArray())).toEqual([2, 2]);
    // A gradient passed to backward stays the caller's.
    const c = e.parameter([1, 1], [2], 'c');
    const seed = e.fromArray([3, 4], [2], 'seed');
    backward(ew.add(c, c), seed);
    backward(ew.addScalar(c, 1), seed);
    expect(Array.from(await seed.toArray())).toEqual([3, 4]);
    expect(Array.from(await c.grad!.toArray())).toEqual([9, 12]);
  });

  it('names the op and the shapes when shapes do not broadcast', async () => {
    const e = await getEngine();
    const a = e.zeros([2, 3], 'a');
    const b = e.zeros([4], 'b');
    expect(() => ew.add(a, b)).toThrow(/add: cannot broadcast a\[2, 3\] with b\[4\] \(dim -1: 3 vs 4\)/);
    expect(() => ew.mul(e.zeros([2, 1, 2, 1, 2], 'p'), e.zeros([1, 2, 1, 2, 1], 'q'))).toThrow(/mul: needs 5 index dims/);
  });
});

describe('lerp (per-sample interpolation)', () => {
  it('z_s = (1 − s)·z0 + s·z1 with s per sample: forward, all three gradients, exact endpoints', async () => {
    const e = await getEngine();
    const shape = [3, 2, 5, 7];
    const n = size(shape);
    const a0 = f32(rand(n, 70));
    const b0 = f32(rand(n, 71));
    const t0 = f32([0, 0.37, 1]);
    const a = e.parameter(a0, shape, 'z0');
    const b = e.parameter(b0, shape, 'z1');
    const t = e.parameter(t0, [3], 'sigma');
    const y = ew.lerp(a, b, t);
    const out = await y.toArray();
    expectClose(out, lerpRef(a0, b0, t0), FWD, 'lerp forward');
    const inner = n / 3;
    expect(Array.from(out.subarray(0, inner))).toEqual(Array.from(Float32Array.from(a0.subarray(0, inner))));
    expect(Array.from(out.subarray(2 * inner))).toEqual(Array.from(Float32Array.from(b0.subarray(2 * inner))));
    const w = f32(rand(n, 72));
    backward(y, e.fromArray(w, shape));
    const g = lerpBackwardRef(a0, b0, t0, w);
    expectClose(await a.grad!.toArray(), g.ga, GRAD, 'grad z0');
    expectClose(await b.grad!.toArray(), g.gb, GRAD, 'grad z1');
    expectClose(await t.grad!.toArray(), g.gt, GRAD, 'grad sigma');
  });

  it('refuses mismatched shapes, naming the op', async () => {
    const e = await getEngine();
    expect(() => ew.lerp(e.zeros([2, 4], 'z0'), e.zeros([2, 4], 'z1'), e.zeros([3], 's'))).toThrow(/lerp: .*z0\[2, 4\].*s\[3\] have B elements/);
  });
});

describe('traffic counts', () => {
  it('counts compulsory bytes', () => {
    expect(ew.unaryBytes('gelu', 100)).toEqual({ forward: 800, backward: 1200 });
    expect(ew.unaryBytes('scale', 100)).toEqual({ forward: 800, backward: 800 });
    // add with a broadcast bias: a's gradient is a view (0 bytes); b's is g summed to [4].
    expect(ew.binaryBytes('add', [2, 3, 4], [4], [2, 3, 4])).toEqual({ forward: 4 * (24 + 4 + 24), backward: 4 * (24 + 4) });
    // mul, same shapes: each gradient reads g and the other operand, writes its own.
    expect(ew.binaryBytes('mul', [5], [5], [5]).backward).toBe(2 * 4 * 15);
    expect(ew.lerpBytes([2, 10]).forward).toBe(4 * (60 + 2));
  });
});
