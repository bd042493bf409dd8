// LayerNorm, RMSNorm and the fused adaLN norm: GPU vs float64 reference (forward and every gradient), the
// reference's gradients vs finite differences, numerical stability, and shape errors.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import type { Engine } from '../../src/tensor/engine';
import { layerNorm, layerNormModulate, lanesFor, normBytes, normFlags, rmsNorm } from '../../src/tensor/ops/norm';
import { modulate } from '../../src/tensor/ops/modulate';
import type { Tensor } from '../../src/tensor/tensor';
import { normBackward, normForward, type NormSpec } from '../../src/tensor/reference/norm';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand } from './harness';

type Kind = 'layerNorm' | 'rmsNorm' | 'layerNormModulate';

interface Case {
  kind: Kind;
  shape: number[];
  weight?: boolean; // layerNorm / rmsNorm affine weight; always on for layerNormModulate (scale)
  bias?: boolean; // layerNorm bias; always on for layerNormModulate (shift)
  frozen?: boolean; // weight/bias as constants (no grad): LoRA training freezes the base model's norms
  mean?: number; // added to every x: rows with a large mean and a small spread
  spread?: number;
  seed: number;
}

const EPS = 1e-6;

/** Runs the op on the GPU with loss Σ w·y and checks y and every gradient against the float64 reference. */
async function check(e: Engine, c: Case): Promise<void> {
  const d = c.shape[c.shape.length - 1];
  const rows = c.shape.reduce((a, b) => a * b, 1) / d;
  const adaln = c.kind === 'layerNormModulate';
  const groups = adaln ? c.shape[0] : 1;
  const spread = c.spread ?? 1;
  const x = f32(rand(rows * d, c.seed, (c.mean ?? 0) - spread, (c.mean ?? 0) + spread));
  const w = c.weight || adaln ? f32(rand(groups * d, c.seed + 1, -1.5, 1.5)) : null;
  const b = c.bias || adaln ? f32(rand(groups * d, c.seed + 2)) : null;
  const wy = f32(rand(rows * d, c.seed + 3));
  const spec: NormSpec = { rows, d, center: c.kind !== 'rmsNorm', eps: EPS, weight: w, bias: b, onePlus: adaln, groups };
  const label = `${c.kind} ${JSON.stringify(c.shape)}${w ? ' w' : ''}${b ? ' b' : ''}${c.frozen ? ' frozen' : ''}${c.mean ? ` mean ${c.mean}` : ''}`;

  const before = e.gpu.pool.bytesInUse;
  const vecShape = adaln ? [groups, d] : [d];
  const xt = e.parameter(x, c.shape, 'x');
  const param = (data: Float64Array | null, name: string): Tensor | null =>
    data ? (c.frozen ? e.keep(e.fromArray(data, vecShape, name)) : e.parameter(data, vecShape, name)) : null;
  const wt = param(w, 'w');
  const bt = param(b, 'b');
  const y = e.scope(() => {
    const y =
      c.kind === 'layerNorm' ? layerNorm(xt, wt, bt, EPS)
      : c.kind === 'rmsNorm' ? rmsNorm(xt, wt, EPS)
      : layerNormModulate(xt, bt!, wt!, EPS);
    backward(y, e.fromArray(wy, y.shape));
    return y;
  });
  const ref = normForward(x, spec);
  const grads = normBackward(wy, x, spec);
  expectClose(await y.toArray(), ref.y, FWD, `${label}: y`);
  expectClose(await xt.grad!.toArray(), grads.dx, GRAD, `${label}: dx`);
  if (wt && !c.frozen) expectClose(await wt.grad!.toArray(), grads.dweight!, GRAD, `${label}: d${adaln ? 'scale' : 'weight'}`);
  if (bt && !c.frozen) expectClose(await bt.grad!.toArray(), grads.dbias!, GRAD, `${label}: d${adaln ? 'shift' : 'bias'}`);
  if (c.frozen) expect(wt?.grad ?? bt?.grad ?? null).toBe(null);
  for (const t of [y, xt, wt, bt]) t?.release();
  expect(e.gpu.pool.bytesInUse, `${label}: GPU memory leaked`).toBe(before);
}

// Both thread layouts (see normFlags): 'gpu' (LANES threads per row, tree reductions) is what real GPUs run;
// 'cpu' (one thread per row) is what SwiftShader runs by default.
for (const lanes of ['gpu', 'cpu'] as const) {
  describe(`row norms, ${lanes} lanes`, () => {
    beforeEach(() => {
      normFlags.lanes = lanes;
    });
    afterAll(() => {
      normFlags.lanes = 'auto';
    });

    describe('layerNorm', () => {
      it('without affine (SD3 norm1/norm2): D in {1, 3, 64, 130, 1536} x rows in {1, 7, 33}', async () => {
        const e = await getEngine();
        let seed = 10;
        for (const d of [1, 3, 64, 130, 1536]) for (const rows of [1, 7, 33]) await check(e, { kind: 'layerNorm', shape: [rows, d], seed: seed++ });
      });

      it('with affine, weight only, bias only, frozen affine; rows > 64 (two-pass weight gradient)', async () => {
        const e = await getEngine();
        await check(e, { kind: 'layerNorm', shape: [2, 3, 130], weight: true, bias: true, seed: 30 });
        await check(e, { kind: 'layerNorm', shape: [33, 64], weight: true, bias: true, seed: 31 });
        await check(e, { kind: 'layerNorm', shape: [7, 1536], weight: true, bias: true, seed: 32 });
        await check(e, { kind: 'layerNorm', shape: [130, 3], weight: true, bias: true, seed: 33 });
        await check(e, { kind: 'layerNorm', shape: [1, 1], weight: true, bias: true, seed: 34 });
        await check(e, { kind: 'layerNorm', shape: [5, 64], weight: true, seed: 35 });
        await check(e, { kind: 'layerNorm', shape: [5, 7], bias: true, seed: 36 });
        await check(e, { kind: 'layerNorm', shape: [7, 64], weight: true, bias: true, frozen: true, seed: 37 });
      });

      it('is stable for rows with a large mean and a small spread (the naive E[x²] − E[x]² is not)', async () => {
        const e = await getEngine();
        for (const [d, mean, spread] of [[64, 300, 0.5], [1536, 300, 0.5], [130, -2000, 1], [1536, 1e4, 4]]) {
          await check(e, { kind: 'layerNorm', shape: [3, d], weight: true, bias: true, mean, spread, seed: 40 + d });
        }
      });
    });

    describe('rmsNorm', () => {
      it('over the last dim, with and without weight (SD3.5 q/k norm: [B, T, H, Dh], weight [Dh])', async () => {
        const e = await getEngine();
        await check(e, { kind: 'rmsNorm', shape: [2, 5, 3, 64], weight: true, seed: 50 });
        await check(e, { kind: 'rmsNorm', shape: [1, 1, 2, 64], weight: true, frozen: true, seed: 51 });
        await check(e, { kind: 'rmsNorm', shape: [33, 130], weight: true, seed: 52 });
        await check(e, { kind: 'rmsNorm', shape: [70, 3], weight: true, seed: 53 });
        await check(e, { kind: 'rmsNorm', shape: [7, 1536], seed: 54 });
        await check(e, { kind: 'rmsNorm', shape: [4, 1], weight: true, seed: 55 });
        await check(e, { kind: 'rmsNorm', shape: [3, 64], weight: true, mean: 1e4, spread: 1, seed: 56 });
      });
    });

    describe('layerNormModulate (AdaLayerNormZero)', () => {
      it('matches the reference on [B, T, D]', async () => {
        const e = await getEngine();
        await check(e, { kind: 'layerNormModulate', shape: [2, 5, 64], seed: 60 });
        await check(e, { kind: 'layerNormModulate', shape: [1, 1, 3], seed: 61 });
        await check(e, { kind: 'layerNormModulate', shape: [3, 5, 130], seed: 62 });
        await check(e, { kind: 'layerNormModulate', shape: [2, 70, 3], seed: 63 });
        await check(e, { kind: 'layerNormModulate', shape: [2, 5, 1536], seed: 64 });
        await check(e, { kind: 'layerNormModulate', shape: [2, 5, 64], frozen: true, seed: 65 });
      });

      it('equals modulate(layerNorm(x), shift, scale) on the GPU, forward and gradients', async () => {
        const e = await getEngine();
        const [bs, t, d] = [2, 5, 130];
        const data = { x: rand(bs * t * d, 70), shift: rand(bs * d, 71), scale: rand(bs * d, 72), w: rand(bs * t * d, 73) };
        const run = async (fused: boolean) => {
          const x = e.parameter(data.x, [bs, t, d], 'x');
          const shift = e.parameter(data.shift, [bs, d], 'shift');
          const scale = e.parameter(data.scale, [bs, d], 'scale');
          const y = e.scope(() => {
            const y = fused ? layerNormModulate(x, shift, scale) : modulate(layerNorm(x), shift, scale);
            backward(y, e.fromArray(data.w, y.shape));
            return y;
          });
          const out = await Promise.all([y, x.grad!, shift.grad!, scale.grad!].map((v) => v.toArray()));
          for (const v of [y, x, shift, scale]) v.release();
          return out;
        };
        const fused = await run(true);
        const composed = await run(false);
        ['y', 'dx', 'dshift', 'dscale'].forEach((name, i) => expectClose(fused[i], composed[i], i === 0 ? FWD : GRAD, `fused vs composed ${name}`));
      });
    });
  });
}

describe('norm reference', () => {
  it('would catch single-pass float32 statistics: E[x²] − E[x]² on a large-mean row misses the tolerance', () => {
    // The data of the stability test above through single-pass float32 statistics: far outside the tolerance.
    const d = 1536;
    const x = f32(rand(3 * d, 40 + d, 299.5, 300.5));
    const ref = normForward(x, { rows: 3, d, center: true, eps: EPS });
    const f = Math.fround;
    let s = 0;
    let s2 = 0;
    for (let j = 0; j < d; j++) {
      s = f(s + x[j]);
      s2 = f(s2 + f(x[j] * x[j]));
    }
    const mean = f(s / d);
    const rstd = 1 / Math.sqrt(Math.max(f(f(s2 / d) - f(mean * mean)), 0) + EPS);
    const naive = Array.from(x.subarray(0, d), (v) => (v - mean) * rstd);
    expect(() => expectClose(naive, ref.y.subarray(0, d), FWD, 'naive')).toThrow(/outside/);
  });

  it('gradients match finite differences', () => {
    const specs: Array<[string, NormSpec]> = [
      ['layerNorm', { rows: 3, d: 5, center: true, eps: EPS }],
      ['layerNorm affine', { rows: 3, d: 5, center: true, eps: EPS, weight: rand(5, 1), bias: rand(5, 2) }],
      ['rmsNorm', { rows: 2, d: 4, center: false, eps: EPS, weight: rand(4, 3) }],
      ['adaLN', { rows: 4, d: 3, center: true, eps: EPS, weight: rand(6, 4), bias: rand(6, 5), onePlus: true, groups: 2 }],
    ];
    for (const [name, s] of specs) {
      const x = rand(s.rows * s.d, 6);
      const wy = rand(s.rows * s.d, 7);
      const g = normBackward(wy, x, s);
      const tol = { atol: 1e-7, rtol: 1e-6 };
      expectClose(g.dx, finiteDiff((v) => dot(normForward(v, s).y, wy), x), tol, `${name} dx`);
      if (s.weight) expectClose(g.dweight!, finiteDiff((v) => dot(normForward(x, { ...s, weight: v }).y, wy), s.weight), tol, `${name} dweight`);
      if (s.bias) expectClose(g.dbias!, finiteDiff((v) => dot(normForward(x, { ...s, bias: v }).y, wy), s.bias), tol, `${name} dbias`);
    }
  });
});

describe('norm ops', () => {
  it('reject mismatched shapes, naming the op and the shapes', async () => {
    const e = await getEngine();
    e.scope(() => {
      const x = e.zeros([2, 3, 8]);
      expect(() => layerNorm(x, e.zeros([7]))).toThrow('layerNorm: weight [7] does not match x [2, 3, 8]: expected [8]');
      expect(() => layerNorm(x, null, e.zeros([2, 8]))).toThrow('layerNorm: bias [2, 8] does not match x [2, 3, 8]');
      expect(() => rmsNorm(x, e.zeros([3]))).toThrow('rmsNorm: weight [3] does not match x [2, 3, 8]');
      expect(() => layerNormModulate(x, e.zeros([2, 8]), e.zeros([3, 8]))).toThrow('layerNormModulate: scale [3, 8] does not match x [2, 3, 8]: expected [2, 8]');
      expect(() => layerNormModulate(e.zeros([6, 8]), e.zeros([2, 8]), e.zeros([2, 8]))).toThrow('layerNormModulate: x [6, 8] must be [B, T, D]');
      expect(() => layerNorm(e.zeros([4, 0]))).toThrow('layerNorm: x [4, 0] has no last dim');
    });
  });

  it('run without grad (no tape) and on empty batches, leaking nothing', async () => {
    const e = await getEngine();
    const before = e.gpu.pool.bytesInUse;
    const out = e.scope(() => {
      const p = e.fromArray(rand(24, 1), [3, 8], 'p');
      p.requiresGrad = true;
      expect(layerNorm(e.zeros([0, 8])).size).toBe(0);
      return e.noGrad(() => layerNorm(p));
    });
    expect(out.requiresGrad).toBe(false);
    expectClose(await out.toArray(), normForward(f32(rand(24, 1)), { rows: 3, d: 8, center: true, eps: EPS }).y, FWD, 'noGrad');
    out.release();
    expect(e.gpu.pool.bytesInUse).toBe(before);
  });

  it('count bytes and pick lanes', () => {
    expect(normBytes([2, 4096, 1536], 0).forward).toBe(4 * (2 * 2 * 4096 * 1536 + 4 * 2 * 4096));
    expect(normBytes([2, 4096, 1536], 2, 2).forward).toBe(4 * (2 * 2 * 4096 * 1536 + 2 * 2 * 1536 + 4 * 2 * 4096));
    expect([1, 3, 16, 33, 384, 5000].map(lanesFor)).toEqual([1, 1, 4, 16, 128, 256]);
  });
});
