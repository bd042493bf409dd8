import { describe, expect, it } from 'vitest';
import { trajectoryDrift } from '../../src/eval/drift';
import { add, sub } from '../../src/tensor/ops/elementwise';
import type { Tensor } from '../../src/tensor/tensor';
import { getEngine, rand } from '../tensor/harness';

describe('trajectory drift', () => {
  it('is zero along the whole path for the oracle velocity and grows for a biased one', async () => {
    const e = await getEngine();
    const shape = [2, 3, 4, 4];
    const z0 = e.keep(e.fromArray(rand(96, 1), shape, 'z0'));
    const z1 = e.keep(e.fromArray(rand(96, 2), shape, 'z1'));
    const cond = { context: e.keep(e.zeros([2, 1, 4])), pooled: e.keep(e.zeros([2, 4])) };
    const opts = { steps: 5, cfgScale: 1, shift: 1, noiseScale: 0 };
    const oracle = await trajectoryDrift(e, () => sub(z1, z0), z0, z1, cond, null, opts);
    expect(oracle.drift.length).toBe(6);
    expect(Math.max(...oracle.drift)).toBeLessThan(1e-5);
    const bias = e.keep(e.full(shape, 0.1));
    const biased = await trajectoryDrift(e, (): Tensor => add(sub(z1, z0), bias), z0, z1, cond, null, opts);
    expect(biased.drift[0]).toBe(0);
    // Each step of size 1/5 adds 0.1·(1/5) of error: after the full path the state is 0.1 away everywhere.
    expect(biased.drift[5]).toBeCloseTo(0.1, 4);
    expect(biased.drift.every((d, i) => i === 0 || d > biased.drift[i - 1])).toBe(true);
  });
});
