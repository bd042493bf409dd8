import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import { softmax } from '../../src/tensor/ops/softmax';
import { softmaxBackward, softmaxForward } from '../../src/tensor/reference/softmax';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand } from './harness';

// Row lengths around the thread counts (64 and 256 threads per row), 1, and a long row (many per thread).
const SHAPES: number[][] = [[1], [7, 1], [3, 5], [2, 3, 17], [5, 64], [2, 257], [3, 1000]];

describe('softmax', () => {
  it.each(SHAPES)('forward and backward match the float64 reference: %j', async (...shape) => {
    const e = await getEngine();
    const n = shape[shape.length - 1];
    const size = shape.reduce((a, b) => a * b, 1);
    const rows = size / n;
    const xData = f32(rand(size, 11 + size, -4, 4));
    const w = f32(rand(size, 12 + size));
    // Engine.scope is synchronous: GPU work inside it, reads after it, then explicit releases.
    const { x, y } = e.scope(() => {
      const x = e.fromArray(xData, shape, 'x');
      x.requiresGrad = true;
      const y = softmax(x);
      backward(y, e.fromArray(w, shape, 'w'));
      return { x, y };
    });
    const yRef = softmaxForward(xData, rows, n);
    expectClose(await y.toArray(), yRef, FWD, `softmax ${JSON.stringify(shape)} y`);
    expectClose(await x.grad!.toArray(), softmaxBackward(yRef, w, rows, n), GRAD, `softmax ${JSON.stringify(shape)} dx`);
    x.release();
    y.release();
  });

  it('reference backward matches finite differences', () => {
    const rows = 3;
    const n = 6;
    const x = rand(rows * n, 21, -2, 2);
    const w = rand(rows * n, 22);
    const numeric = finiteDiff((xx) => dot(softmaxForward(xx, rows, n), w), x);
    expectClose(softmaxBackward(softmaxForward(x, rows, n), w, rows, n), numeric, { atol: 1e-8, rtol: 1e-6 }, 'softmax reference dx');
  });

  it('is stable for large logits (inputs ×30: no overflow, no NaN)', async () => {
    const e = await getEngine();
    const rows = 4;
    const n = 300;
    const xData = f32(rand(rows * n, 31, -30, 30).map((v) => v * 30));
    const w = f32(rand(rows * n, 32));
    const { x, y } = e.scope(() => {
      const x = e.fromArray(xData, [rows, n], 'x');
      x.requiresGrad = true;
      const y = softmax(x);
      backward(y, e.fromArray(w, [rows, n], 'w'));
      return { x, y };
    });
    const got = await y.toArray();
    expect(got.every(Number.isFinite)).toBe(true);
    const yRef = softmaxForward(xData, rows, n);
    expectClose(got, yRef, FWD, 'softmax ×30 y');
    expectClose(await x.grad!.toArray(), softmaxBackward(yRef, w, rows, n), GRAD, 'softmax ×30 dx');
    x.release();
    y.release();
  });

  it('rejects a tensor without a last dimension, naming the op and the shape', async () => {
    const e = await getEngine();
    e.scope(() => {
      const s = e.fromArray([1], [], 's');
      expect(() => softmax(s)).toThrow(/softmax: s\[\] has no last dimension/);
    });
  });
});
