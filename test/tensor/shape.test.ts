// Shape ops: concat / split / permute vs the float64 reference, forward and gradients; shape utilities.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import { concat, mergeDims, permute, scaledCopy, split, wgslSection } from '../../src/tensor/ops/shape';
import { concatRef, inversePermutation, permuteRef, size, splitRef, type Arr } from '../../src/tensor/reference/shape';
import { expectClose, f32, getEngine, rand } from './harness';

const EXACT = { atol: 0, rtol: 0 }; // copies move bits

function arr(shape: number[], seed: number): Arr {
  return { data: f32(rand(size(shape), seed)), shape };
}

describe('shape utilities', () => {
  it('merges dims that every operand walks contiguously, and drops size-1 dims', () => {
    // [2, 3, 4] + [4]: a is contiguous, b repeats over the first two dims.
    expect(mergeDims([2, 3, 4], [[12, 4, 1], [0, 0, 1]])).toEqual({ dims: [6, 4], strides: [[4, 1], [0, 1]] });
    expect(mergeDims([2, 1, 4], [[4, 4, 1]])).toEqual({ dims: [8], strides: [[1]] });
    expect(mergeDims([1, 1], [[1, 1]])).toEqual({ dims: [], strides: [[]] });
  });

  it('cuts template sections and refuses unknown ones', () => {
    const src = '// header\n//! a\nfn a() {}\n//! b\nfn b() {}\n';
    expect(wgslSection(src, 'a')).toBe('fn a() {}\n');
    expect(wgslSection(src, 'b')).toBe('fn b() {}\n');
    expect(() => wgslSection(src, 'c')).toThrow(/no section '\/\/! c'/);
  });
});

describe('concat', () => {
  const cases: Array<{ shapes: number[][]; axis: number }> = [
    { shapes: [[2, 3, 4], [2, 5, 4]], axis: 1 }, // image tokens then context tokens
    { shapes: [[1, 1, 3], [1, 2, 3], [1, 4, 3]], axis: 1 },
    { shapes: [[2, 3], [2, 1]], axis: -1 },
    { shapes: [[1, 5], [3, 5]], axis: 0 },
  ];
  for (const { shapes, axis } of cases) {
    it(`${shapes.map((s) => `[${s}]`).join(' + ')} along ${axis}: forward and every gradient`, async () => {
      const e = await getEngine();
      const parts = shapes.map((s, k) => arr(s, 10 + k));
      const ts = parts.map((p, k) => e.parameter(p.data, p.shape, `p${k}`));
      const y = concat(ts, axis);
      const ax = axis < 0 ? axis + shapes[0].length : axis;
      const want = concatRef(parts, ax);
      expect(y.shape).toEqual(want.shape);
      expectClose(await y.toArray(), want.data, EXACT, 'concat');
      const w = f32(rand(y.size, 99));
      backward(y, e.fromArray(w, y.shape));
      const grads = splitRef({ data: w, shape: want.shape }, shapes.map((s) => s[ax]), ax);
      for (let k = 0; k < ts.length; k++) expectClose(await ts[k].grad!.toArray(), grads[k].data, EXACT, `grad p${k}`);
    });
  }

  it('names the op and the shapes when parts do not fit', async () => {
    const e = await getEngine();
    const a = e.zeros([2, 3, 4], 'img');
    const b = e.zeros([2, 5, 3], 'ctx');
    expect(() => concat([a, b], 1)).toThrow(/concat: img\[2, 3, 4\], ctx\[2, 5, 3\] differ outside axis 1/);
    expect(() => concat([a], 3)).toThrow(/concat: axis 3 is out of range for img\[2, 3, 4\]/);
    expect(() => concat([])).toThrow(/concat: no tensors/);
  });
});

describe('split', () => {
  it('[2, 8, 3] into [5, 3] along 1: forward, and gradients of both pieces add up', async () => {
    const e = await getEngine();
    const x0 = arr([2, 8, 3], 3);
    const x = e.parameter(x0.data, x0.shape, 'x');
    const [img, ctx] = split(x, [5, 3], 1);
    const want = splitRef(x0, [5, 3], 1);
    expectClose(await img.toArray(), want[0].data, EXACT, 'piece 0');
    expectClose(await ctx.toArray(), want[1].data, EXACT, 'piece 1');
    // loss = Σ w0·img + Σ w1·ctx through one root: concat the weighted pieces back.
    const w0 = f32(rand(img.size, 4));
    const w1 = f32(rand(ctx.size, 5));
    const joined = concat([scaledCopy(img, 2), ctx], 1);
    backward(joined, e.fromArray(concatRef([{ data: w0, shape: [2, 5, 3] }, { data: w1, shape: [2, 3, 3] }], 1).data, joined.shape));
    const expected = concatRef([{ data: w0.map((v) => 2 * v), shape: [2, 5, 3] }, { data: w1, shape: [2, 3, 3] }], 1);
    expectClose(await x.grad!.toArray(), expected.data, EXACT, 'grad x');
  });

  it('a piece whose gradient is never asked for contributes zeros', async () => {
    const e = await getEngine();
    const x0 = arr([1, 4, 2], 6);
    const x = e.parameter(x0.data, x0.shape, 'x');
    const [, tail] = split(x, [1, 3], -2);
    const w = f32(rand(tail.size, 7));
    backward(tail, e.fromArray(w, tail.shape));
    const expected = concatRef([{ data: new Float64Array(2), shape: [1, 1, 2] }, { data: w, shape: [1, 3, 2] }], 1);
    expectClose(await x.grad!.toArray(), expected.data, EXACT, 'grad x');
  });

  it('names the op and the shapes on bad sizes', async () => {
    const e = await getEngine();
    const x = e.zeros([2, 8, 3], 'joint');
    expect(() => split(x, [5, 2])).toThrow(/split: sizes \[5, 2\] do not add up to axis 1 of joint\[2, 8, 3\]/);
  });
});

describe('permute', () => {
  for (const [shape, perm] of [
    [[2, 3, 4, 5], [0, 2, 1, 3]], // [B, T, H, dh] -> [B, H, T, dh]
    [[3, 7], [1, 0]],
    [[2, 1, 3, 2, 2], [4, 3, 2, 1, 0]], // 5-D, size-1 dim: merges to 4 index dims
  ] as Array<[number[], number[]]>) {
    it(`[${shape}] by [${perm}]: forward and gradient`, async () => {
      const e = await getEngine();
      const x0 = arr(shape, 8);
      const x = e.parameter(x0.data, shape, 'x');
      const y = permute(x, perm);
      const want = permuteRef(x0, perm);
      expect(y.shape).toEqual(want.shape);
      expectClose(await y.toArray(), want.data, EXACT, 'permute');
      const w = f32(rand(y.size, 9));
      backward(y, e.fromArray(w, y.shape));
      expectClose(await x.grad!.toArray(), permuteRef({ data: w, shape: want.shape }, inversePermutation(perm)).data, EXACT, 'grad');
    });
  }

  it('refuses a non-permutation and more than 4 unmergeable dims, naming the op', async () => {
    const e = await getEngine();
    expect(() => permute(e.zeros([2, 3], 'x'), [0, 0])).toThrow(/permute: \[0, 0\] is not a permutation of the 2 axes of x\[2, 3\]/);
    expect(() => permute(e.zeros([2, 2, 2, 2, 2], 'x'), [4, 3, 2, 1, 0])).toThrow(/needs 5 index dims/);
  });
});
