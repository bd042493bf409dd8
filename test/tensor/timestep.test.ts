// Timestep embedding: GPU vs float64 reference over SD3's whole range (t up to 1000 rad arguments), the
// reference vs diffusers' get_timestep_embedding numbers, layout options, and the no-gradient contract.
import { describe, expect, it } from 'vitest';
import { timestepEmbedding } from '../../src/tensor/ops/timestep';
import { timestepEmbeddingRef, timestepFrequencies } from '../../src/tensor/reference/timestep';
import { expectClose, getEngine, rand } from './harness';

// The reference reproduces torch's float32 frequencies and arguments, so what is left is the kernel's sin/cos
// of a float32 argument up to 1000: its own range reduction and polynomials, a few ulps of 1.
const TOL = { atol: 1e-6, rtol: 0 };

describe('timestep embedding', () => {
  it('matches the reference for SD3 (dim 256, [cos | sin]) over t in [0, 1000]', async () => {
    const e = await getEngine();
    const t0 = Float64Array.from([0, 0.001, 1.5, 500.25, 999, 1000, ...rand(10, 1, 0, 1000)]);
    const y = timestepEmbedding(e.fromArray(t0, [t0.length], 't'));
    expect(y.shape).toEqual([t0.length, 256]);
    expectClose(await y.toArray(), timestepEmbeddingRef(t0, 256), TOL, 'embedding');
  });

  it('handles [sin | cos] order, a frequency shift and an odd dim (trailing zero)', async () => {
    const e = await getEngine();
    const t0 = Float64Array.from([3, 250, 1000]);
    for (const [dim, opts] of [
      [7, { flipSinToCos: false, downscaleFreqShift: 1 }],
      [10, { flipSinToCos: false }],
      [1, {}],
    ] as const) {
      const y = timestepEmbedding(e.fromArray(t0, [3]), dim, opts);
      expectClose(await y.toArray(), timestepEmbeddingRef(t0, dim, opts), TOL, `dim ${dim}`);
    }
  });

  it("the reference matches diffusers' get_timestep_embedding (float32 torch semantics)", () => {
    // Golden values: get_timestep_embedding([0, 1.5, 999, 1000], 256, flip_sin_to_cos=True,
    // downscale_freq_shift=0) with float32 frequencies and arguments (numpy 2.4 mimic of torch). numpy's (and
    // torch's) float32 exp is within 1 ulp but not correctly rounded; the reference rounds correctly. One ulp of
    // a frequency moves the argument by up to t·6e-8 = 6e-5 at t = 1000, hence the tolerance: this checks the
    // formula and the layout, the GPU test above checks the last digits.
    const ref = timestepEmbeddingRef([0, 1.5, 999, 1000], 256);
    const GOLDEN: Array<[number, number, number]> = [
      [0, 0, 1.0],
      [0, 128, 0.0],
      [1, 1, 0.17404735738187915],
      [1, 129, 0.9847372834357316],
      [2, 0, 0.9996498529808264],
      [2, 128, -0.026460752737064126],
      [2, 5, 0.9551126260287324],
      [2, 133, -0.29624292666745455],
      [3, 100, 0.7317610622113073],
      [3, 228, 0.6815612575780545],
      [3, 255, 0.10725404873141858],
      [2, 127, 0.9942431673204398],
    ];
    expectClose(
      GOLDEN.map(([b, j]) => ref[b * 256 + j]),
      GOLDEN.map(([, , v]) => v),
      { atol: 1e-4, rtol: 0 },
      'diffusers',
    );
    expect(ref[1 * 256 + 1]).toBeCloseTo(0.17404735738187915, 12); // small t: no ulp amplification
    const odd = timestepEmbeddingRef([1000], 7, { flipSinToCos: false, downscaleFreqShift: 1 });
    expectClose(odd, [0.8268795405320025, -0.5440203106881555, 0.09983340330278244, 0.5623790762907029, -0.8390720478950319, 0.9950041666168962, 0], { atol: 1e-4, rtol: 0 }, 'dim 7');
    expect(timestepFrequencies(256)[0]).toBe(1);
    expect(timestepFrequencies(256)[127]).toBe(Math.fround(Math.exp(Math.fround(Math.fround(Math.fround(-Math.log(10000)) * 127) / 128))));
  });

  it('records no gradient: refuses a t that requires grad, works on a detached one', async () => {
    const e = await getEngine();
    const sigma = e.parameter([0.5, 0.25], [2], 'sigma');
    expect(() => timestepEmbedding(sigma)).toThrow(/timestepEmbedding: t sigma\[2\] requires grad, but the op has no backward/);
    const y = timestepEmbedding(sigma.detach());
    expect(y.requiresGrad).toBe(false);
    expect(() => timestepEmbedding(e.zeros([2, 1], 't'))).toThrow(/timestepEmbedding: t t\[2, 1\] must be 1-D \[B\]/);
  });
});
