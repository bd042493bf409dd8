import { describe, expect, it } from 'vitest';
import { backward, zeroGrad } from '../../src/tensor/autograd';
import { sizeClass } from '../../src/gpu/pool';
import { expectClose, getEngine, rand } from './harness';

describe('engine core', () => {
  it('fills, uploads and reads back through pooled buffers', async () => {
    const e = await getEngine();
    const x = e.fromArray(rand(1000, 1), [10, 100], 'x');
    expectClose(await x.toArray(), Float32Array.from(rand(1000, 1)), { atol: 0, rtol: 0 }, 'upload');
    const z = e.full([7, 3], 2.5, 'z');
    expect(Array.from(await z.toArray())).toEqual(new Array(21).fill(2.5));
    x.release();
    z.release();
  });

  it('axpy accumulates in place, with more elements than one dispatch row holds', async () => {
    const e = await getEngine();
    const n = 65535 * 256 + 1000; // forces the y fold of grid1d
    const y = e.full([n], 1, 'y');
    const x = e.full([n], 2, 'x');
    e.axpy(y, x, 0.5);
    const out = await y.toArray();
    expect(out[0]).toBe(2);
    expect(out[n - 1]).toBe(2);
    expect(out.every((v) => v === 2)).toBe(true);
    y.release();
    x.release();
  });

  it('scopes release intermediates and keep returned tensors; released tensors refuse use', async () => {
    const e = await getEngine();
    const before = e.gpu.pool.bytesInUse;
    let inner: ReturnType<typeof e.zeros> | null = null;
    const kept = e.scope(() => {
      inner = e.zeros([16], 'inner');
      return e.zeros([4], 'kept');
    });
    expect(inner!.released).toBe(true);
    expect(() => inner!.buffer).toThrow(/inner\[16\] was used after release/);
    expect(kept.released).toBe(false);
    kept.release();
    expect(e.gpu.pool.bytesInUse).toBe(before);
  });

  it('pool reuses buffers: a repeated workload creates no new buffers', async () => {
    const e = await getEngine();
    const work = () => e.scope(() => { for (let i = 0; i < 5; i++) e.zeros([1000 + i]); });
    work();
    const created = e.gpu.pool.buffersCreated;
    work();
    work();
    expect(e.gpu.pool.buffersCreated).toBe(created);
    expect(sizeClass(1000 * 4)).toBeGreaterThanOrEqual(4000);
    expect(sizeClass(4097)).toBeLessThanOrEqual(4097 * 1.25);
  });

  it('reshape is a view recorded on the tape; leaf gradients accumulate across backward calls', async () => {
    const e = await getEngine();
    const p = e.parameter([1, 2, 3, 4], [4], 'p');
    expect(() => p.reshape([3])).toThrow(/sizes differ/);
    for (let k = 0; k < 2; k++) {
      e.scope(() => {
        const r = p.reshape([2, 2]).reshape([1, 4]);
        expect(r.requiresGrad).toBe(true);
        backward(r, e.fromArray([1, 10, 100, 1000], [1, 4]));
        expect(r.node).toBe(null); // consumed
      });
    }
    expect(Array.from(await p.grad!.toArray())).toEqual([2, 20, 200, 2000]);
    zeroGrad([p]);
    expect(p.grad).toBe(null);
    p.release();
  });

  it('noGrad and detach record nothing', async () => {
    const e = await getEngine();
    const p = e.parameter([1, 2], [2], 'p');
    e.scope(() => {
      expect(e.noGrad(() => p.reshape([1, 2])).requiresGrad).toBe(false);
      expect(p.detach().reshape([2, 1]).requiresGrad).toBe(false);
    });
    p.release();
  });
});

describe('autograd with shared gradients', () => {
  it('accumulating into a gradient never writes through to the caller\'s tensor', async () => {
    const { backward } = await import('../../src/tensor/autograd');
    const e = await getEngine();
    const p = e.parameter([0, 0], [2], 'p');
    const seed = e.fromArray([1, 2], [2], 'seed');
    e.scope(() => backward(p.reshape([2]), seed));
    e.scope(() => backward(p.reshape([2]), seed));
    expect(Array.from(await p.grad!.toArray())).toEqual([2, 4]);
    expect(Array.from(await seed.toArray())).toEqual([1, 2]); // the caller's seed is untouched
    p.release();
    seed.release();
  });
});
