// Reductions: sum / mean (scalar, last axis, others), sumToShape / expand, per-sample MSE; GPU vs float64
// reference for forward and gradients, both kernel modes (row, col) and the two-pass path, references vs
// finite differences.
import { afterEach, describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import { expand, mean, perSampleMse, perSampleMseBytes, reduceBytes, reduceTuning, sum, sumToShape } from '../../src/tensor/ops/reduce';
import {
  expandRef,
  perSampleMseBackwardRef,
  perSampleMseRef,
  sumBackwardRef,
  sumRef,
  sumToShapeRef,
} from '../../src/tensor/reference/reduce';
import { size } from '../../src/tensor/reference/shape';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand } from './harness';

const DEFAULT_TUNING = { ...reduceTuning };
afterEach(() => Object.assign(reduceTuning, DEFAULT_TUNING));

/** Forces many chunks even for tiny shapes, so pass 2 runs. */
function forceTwoPass(): void {
  Object.assign(reduceTuning, { targetWorkgroups: 1 << 20, rowValuesPerThread: 1, colRowsPerChunk: 2 });
}

/** Sums of up to a few thousand uniform(-1, 1) values in fp32: absolute error grows with the count. */
const SUM_TOL = { atol: 2e-5, rtol: 1e-4 };

describe('sum and mean', () => {
  const cases: Array<{ shape: number[]; axes?: number[]; what: string }> = [
    { shape: [3, 50], what: 'everything to a scalar (row mode)' },
    { shape: [4, 7, 300], axes: [-1], what: 'the last axis (row mode, coalesced)' },
    { shape: [300, 70], axes: [0], what: 'the first axis with 70 outputs (col mode)' },
    { shape: [2, 33, 5], axes: [1], what: 'a middle axis with few outputs (row mode, strided)' },
    { shape: [3, 4, 5], axes: [0, 2], what: 'two separated axes' },
    { shape: [1, 1, 5], axes: [0, 1], what: 'size-1 axes only' },
    { shape: [6], axes: [0], what: 'a 1-D tensor' },
  ];
  for (const twoPass of [false, true]) {
    for (const { shape, axes, what } of cases) {
      it(`${twoPass ? 'two passes: ' : ''}${what} [${shape}] over ${axes ? `[${axes}]` : 'all'}`, async () => {
        if (twoPass) forceTwoPass();
        const e = await getEngine();
        const x0 = f32(rand(size(shape), 3));
        const x = e.parameter(x0, shape, 'x');
        const s = sum(x, axes);
        const m = mean(x, axes, true);
        const want = sumRef(x0, shape, axes);
        expect(s.shape).toEqual(want.shape);
        expect(m.shape).toEqual(shape.map((d, i) => (axes === undefined || axes.some((a) => (a + shape.length) % shape.length === i) ? 1 : d)));
        expectClose(await s.toArray(), want.y, SUM_TOL, 'sum');
        expectClose(await m.toArray(), sumRef(x0, shape, axes, true).y, FWD, 'mean');
        const ws = f32(rand(s.size, 4));
        backward(s, e.fromArray(ws, s.shape));
        const wm = f32(rand(m.size, 5));
        backward(m, e.fromArray(wm, m.shape));
        const gMean = sumBackwardRef(wm, shape, axes, true);
        const gx = sumBackwardRef(ws, shape, axes).map((v, i) => v + gMean[i]);
        expectClose(await x.grad!.toArray(), gx, GRAD, 'grad');
      });
    }
  }

  it('a sum large enough to need pass 2 under the default tuning', async () => {
    const e = await getEngine();
    const n = 256 * 8 * 3 + 17; // three chunks of 2048, the last one short
    const x0 = f32(rand(n, 6));
    const s = sum(e.fromArray(x0, [n], 'x'));
    expectClose([await s.item()], sumRef(x0, [n]).y, { atol: 1e-4, rtol: 1e-5 }, 'sum');
  });

  it('short rows ([N, 2] over the last axis) run in col mode and give the same sums', async () => {
    const e = await getEngine();
    const shape = [300, 2];
    const x0 = f32(rand(600, 7));
    const s = sum(e.fromArray(x0, shape, 'x'), -1);
    expectClose(await s.toArray(), sumRef(x0, shape, [1]).y, FWD, 'row sums');
  });

  it('folds a grid of more than 65535 workgroups into y', async () => {
    // Col mode, one chunk per input row: 65600 workgroups. All-ones input keeps the sums exact (65600 < 2^24),
    // and the NaN-poisoned partials would expose a skipped workgroup.
    Object.assign(reduceTuning, { targetWorkgroups: 1 << 20, colRowsPerChunk: 1 });
    const e = await getEngine();
    const s = sum(e.full([65600, 64], 1, 'ones'), 0);
    expect(Array.from(await s.toArray())).toEqual(new Array(64).fill(65600));
  });

  it('reference gradients match finite differences', () => {
    const shape = [2, 3, 4];
    const x = rand(24, 8);
    for (const axes of [undefined, [1], [0, 2]]) {
      const w = rand(sumRef(x, shape, axes).y.length, 9);
      for (const isMean of [false, true]) {
        const fd = finiteDiff((v) => dot(sumRef(v, shape, axes, isMean).y, w), x);
        expectClose(sumBackwardRef(w, shape, axes, isMean), fd, { atol: 1e-7, rtol: 1e-6 }, `axes ${axes} mean ${isMean}`);
      }
    }
  });

  it('names the op and the tensor on a bad axis', async () => {
    const e = await getEngine();
    const x = e.zeros([2, 3], 'x');
    expect(() => sum(x, 2)).toThrow(/sum: axis 2 is out of range or repeated for x\[2, 3\]/);
    expect(() => mean(x, [0, -2])).toThrow(/mean: axis -2 is out of range or repeated/);
  });
});

describe('sumToShape and expand (broadcasting and its gradient)', () => {
  const cases: Array<[number[], number[]]> = [
    [[2, 3, 4], [4]],
    [[2, 3, 4], [2, 1, 4]],
    [[2, 3, 4], [1, 3, 1]],
    [[2, 3, 4], [2, 3, 1]],
    [[2, 3, 4], []],
    [[200, 96], [96]], // a bias gradient: col mode
    [[5], [5]],
  ];
  for (const [big, small] of cases) {
    it(`[${big}] <-> [${small}]: forward and gradient both ways`, async () => {
      const e = await getEngine();
      const x0 = f32(rand(size(big), 10));
      const x = e.parameter(x0, big, 'x');
      const r = sumToShape(x, small);
      expect(r.shape).toEqual(small);
      expectClose(await r.toArray(), sumToShapeRef(x0, big, small), SUM_TOL, 'sumToShape');
      const w = f32(rand(r.size, 11));
      backward(r, e.fromArray(w, small));
      expectClose(await x.grad!.toArray(), expandRef(w, small, big), FWD, 'sumToShape grad');

      const s0 = f32(rand(size(small), 12));
      const s = e.parameter(s0, small, 's');
      const y = expand(s, big);
      expectClose(await y.toArray(), expandRef(s0, small, big), { atol: 0, rtol: 0 }, 'expand');
      const wy = f32(rand(y.size, 13));
      backward(y, e.fromArray(wy, big));
      expectClose(await s.grad!.toArray(), sumToShapeRef(wy, big, small), SUM_TOL, 'expand grad');
    });
  }

  it('names the op and the shapes when they do not broadcast', async () => {
    const e = await getEngine();
    const x = e.zeros([2, 3], 'x');
    expect(() => sumToShape(x, [2])).toThrow(/sumToShape: target\[2\] does not broadcast to \[2, 3\]/);
    expect(() => expand(x, [3, 3])).toThrow(/expand: x\[2, 3\] does not broadcast to \[3, 3\]/);
  });
});

describe('perSampleMse', () => {
  for (const [shape, targetGrad] of [
    [[3, 4, 5, 6], true],
    [[2, 700], false], // several values per thread
    [[5], true], // one value per sample
  ] as Array<[number[], boolean]>) {
    it(`[${shape}]: forward and gradients (target ${targetGrad ? 'trainable' : 'frozen'})`, async () => {
      const e = await getEngine();
      const n = size(shape);
      const p0 = f32(rand(n, 20));
      const t0 = f32(rand(n, 21));
      const p = e.parameter(p0, shape, 'pred');
      const t = targetGrad ? e.parameter(t0, shape, 'target') : e.fromArray(t0, shape, 'target');
      const l = perSampleMse(p, t);
      expect(l.shape).toEqual([shape[0]]);
      expectClose(await l.toArray(), perSampleMseRef(p0, t0, shape[0]), FWD, 'mse');
      const w = f32(rand(shape[0], 22));
      backward(l, e.fromArray(w, l.shape));
      const g = perSampleMseBackwardRef(p0, t0, w);
      expectClose(await p.grad!.toArray(), g.gPred, GRAD, 'grad pred');
      if (targetGrad) expectClose(await t.grad!.toArray(), g.gTarget, GRAD, 'grad target');
      else expect(t.grad).toBe(null);
    });
  }

  it('the mean of the per-sample losses backpropagates (the flow-matching loss)', async () => {
    const e = await getEngine();
    const shape = [2, 3, 4];
    const p0 = f32(rand(24, 23));
    const t0 = f32(rand(24, 24));
    const p = e.parameter(p0, shape, 'pred');
    const loss = mean(perSampleMse(p, e.fromArray(t0, shape)));
    const per = perSampleMseRef(p0, t0, 2);
    expectClose([await loss.item()], [(per[0] + per[1]) / 2], FWD, 'loss');
    backward(loss);
    expectClose(await p.grad!.toArray(), perSampleMseBackwardRef(p0, t0, Float64Array.of(0.5, 0.5)).gPred, GRAD, 'grad');
  });

  it('reference gradients match finite differences', () => {
    const p = rand(12, 25);
    const t = rand(12, 26);
    const w = rand(3, 27);
    const g = perSampleMseBackwardRef(p, t, w);
    const tol = { atol: 1e-7, rtol: 1e-6 };
    expectClose(g.gPred, finiteDiff((v) => dot(perSampleMseRef(v, t, 3), w), p), tol, 'd pred');
    expectClose(g.gTarget, finiteDiff((v) => dot(perSampleMseRef(p, v, 3), w), t), tol, 'd target');
  });

  it('names the op and the shapes on a mismatch', async () => {
    const e = await getEngine();
    expect(() => perSampleMse(e.zeros([2, 3], 'v'), e.zeros([2, 4], 'u'))).toThrow(/perSampleMse: pred v\[2, 3\] and target u\[2, 4\]/);
  });
});

describe('traffic counts', () => {
  it('counts compulsory bytes', () => {
    expect(reduceBytes([10, 100], [10])).toEqual({ forward: 4 * 1010, backward: 4 * 1010 });
    expect(reduceBytes([2, 50], [2], 2).forward).toBe(4 * 202);
    expect(perSampleMseBytes([2, 50])).toEqual({ forward: 4 * 202, backward: 4 * 302 });
  });
});
