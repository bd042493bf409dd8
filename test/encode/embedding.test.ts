// The embedding op (shaders/embedding.wgsl): GPU gather and scatter-add vs the float64 reference, the reference
// gradient vs finite differences, determinism, and the errors for bad ids.
import { describe, expect, it } from 'vitest';
import { embedding, groupPositions } from '../../src/encode/embedding';
import { embeddingBackwardRef, embeddingRef } from '../../src/encode/reference';
import { backward } from '../../src/tensor/autograd';
import { dot, expectClose, f32, finiteDiff, FWD, getEngine, GRAD, rand } from '../tensor/harness';

/** Ids with repeats and unused rows (rows 1 and V-2 never appear), deterministic. */
function someIds(n: number, rows: number, seed: number): number[] {
  return Array.from(rand(n, seed, 0, rows), (v) => Math.floor(v)).map((v) => (v === 1 || v === rows - 2 ? 0 : v));
}

describe('embedding', () => {
  // Widths: 1, not a multiple of 4, a multiple of 4; a single id; ids with repeats across a batch.
  const CASES: Array<{ rows: number; width: number; shape: number[] }> = [
    { rows: 1, width: 1, shape: [1] },
    { rows: 9, width: 5, shape: [2, 7] },
    { rows: 17, width: 12, shape: [3, 6] },
  ];

  it.each(CASES)('gather and its gradient match the float64 reference: %j', async ({ rows, width, shape }) => {
    const e = await getEngine();
    const n = shape.reduce((a, b) => a * b, 1);
    const ids = rows === 1 ? [0] : someIds(n, rows, 5 + n);
    const table = f32(rand(rows * width, 7 + rows));
    const g = f32(rand(n * width, 9 + n));
    const { t, y } = e.scope(() => {
      const t = e.fromArray(table, [rows, width], 'table');
      t.requiresGrad = true;
      const y = embedding(t, ids, shape);
      backward(y, e.fromArray(g, y.shape, 'g'));
      return { t, y };
    });
    expect(y.shape).toEqual([...shape, width]);
    expectClose(await y.toArray(), embeddingRef(table, width, ids), { atol: 0, rtol: 0 }, 'embedding forward (an exact copy)');
    expectClose(await t.grad!.toArray(), embeddingBackwardRef(g, rows, width, ids), GRAD, 'embedding dtable');
    t.release();
    y.release();
  });

  it('the gradient is bit-for-bit reproducible and zero on rows no token used', async () => {
    const e = await getEngine();
    const rows = 11;
    const width = 6;
    const ids = [3, 3, 3, 0, 10, 3, 7, 0]; // row 3 gets four contributions
    const g = f32(rand(ids.length * width, 41, -1e3, 1e3)); // large values: a different order would round differently
    const run = async () => {
      const t = e.scope(() => {
        const t = e.fromArray(new Float32Array(rows * width), [rows, width], 'table');
        t.requiresGrad = true;
        backward(embedding(t, ids, [ids.length]), e.fromArray(g, [ids.length, width], 'g'));
        return t;
      });
      const grad = await t.grad!.toArray();
      t.release();
      return grad;
    };
    const a = await run();
    const b = await run();
    expect(Array.from(a)).toEqual(Array.from(b));
    for (const unused of [1, 2, 4, 5, 6, 8, 9]) expect(Array.from(a.subarray(unused * width, (unused + 1) * width))).toEqual(new Array(width).fill(0));
    expectClose(a, embeddingBackwardRef(g, rows, width, ids), FWD, 'embedding dtable, repeated ids');
  });

  it('groups positions by id in ascending order (the CSR the backward walks)', () => {
    const { offsets, order } = groupPositions([2, 0, 2, 1, 2], 4);
    expect(Array.from(offsets)).toEqual([0, 1, 2, 5, 5]);
    expect(Array.from(order)).toEqual([1, 3, 0, 2, 4]);
  });

  it('reference gradient matches finite differences', () => {
    const rows = 5;
    const width = 3;
    const ids = [4, 1, 4, 0];
    const w = rand(ids.length * width, 51);
    const table = rand(rows * width, 52);
    const numeric = finiteDiff((tb) => dot(embeddingRef(tb, width, ids), w), table);
    expectClose(embeddingBackwardRef(w, rows, width, ids), numeric, { atol: 1e-8, rtol: 1e-6 }, 'embedding reference dtable');
  });

  it('rejects ids outside the table and miscounted ids, naming the op and shapes', async () => {
    const e = await getEngine();
    const t = e.fromArray(new Float32Array(12), [4, 3], 'table');
    expect(() => embedding(t, [0, 4], [2])).toThrow(/embedding: table \[4, 3\].*id 4 at position 1 is outside 0\.\.3/);
    expect(() => embedding(t, [0, 1.5], [2])).toThrow(/id 1.5/);
    expect(() => embedding(t, [0, 1, 2], [2])).toThrow(/3 ids given for 2 positions/);
    t.release();
  });
});
