import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import type { Engine } from '../../src/tensor/engine';
import { attention, attentionFlops, attentionForward } from '../../src/tensor/ops/attention';
import { ATTENTION_VARIANTS, type AttentionVariant } from '../../src/tensor/kernels';
import { attentionBackward as refBackward, attentionForward as refForward, type AttentionDims } from '../../src/tensor/reference/attention';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand, type Tolerance } from './harness';

interface Case extends AttentionDims {
  scale?: number;
}

// Every B ∈ {1, 2}, H ∈ {1, 2, 3}, Dh ∈ {4, 8, 16, 64}, T ∈ {1, 5, 17, 70} appears, always with Tq ≠ Tk. The
// kernels' tiles are 64 owned rows × 32 (forward) or 16 (backward) staged rows, so 70 crosses both kinds of
// tile boundary and 1, 5, 17 leave most of a tile empty. Dh = 6 is not a multiple of the vec4 width.
const CASES: Case[] = [
  { batch: 1, heads: 1, dh: 4, tq: 1, tk: 5 },
  { batch: 2, heads: 2, dh: 8, tq: 17, tk: 5 },
  { batch: 1, heads: 3, dh: 16, tq: 5, tk: 70 },
  { batch: 2, heads: 1, dh: 64, tq: 70, tk: 17 },
  { batch: 1, heads: 2, dh: 64, tq: 1, tk: 70 },
  { batch: 2, heads: 3, dh: 4, tq: 70, tk: 1 },
  { batch: 1, heads: 3, dh: 8, tq: 17, tk: 70, scale: 0.9 },
  { batch: 2, heads: 2, dh: 6, tq: 5, tk: 17 },
];

const name = (c: Case) => `B${c.batch} H${c.heads} Dh${c.dh} Tq${c.tq} Tk${c.tk}${c.scale ? ` scale ${c.scale}` : ''}`;

function inputs(c: Case, seed: number, gain = 1) {
  const nq = c.batch * c.tq * c.heads * c.dh;
  const nk = c.batch * c.tk * c.heads * c.dh;
  const g = (n: number, s: number) => f32(rand(n, s).map((x) => x * gain));
  return { q: g(nq, seed), k: g(nk, seed + 1), v: g(nk, seed + 2), w: f32(rand(nq, seed + 3)) };
}

/** Runs attention forward + backward on the GPU and checks O, L, dQ, dK, dV against the float64 reference. */
async function checkAgainstReference(variant: AttentionVariant, e: Engine, c: Case, seed: number, gain = 1, tol?: { fwd: Tolerance; grad: Tolerance }) {
  const { q, k, v, w } = inputs(c, seed, gain);
  const label = `${variant} ${name(c)}${gain !== 1 ? ` ×${gain}` : ''}`;
  const ref = refForward(q, k, v, c, c.scale);
  const grads = refBackward(q, k, v, w, c, c.scale);
  // Engine.scope is synchronous: GPU work inside it, reads after it, then explicit releases.
  const r = e.scope(() => {
    const qt = e.fromArray(q, [c.batch, c.tq, c.heads * c.dh], 'q');
    const kt = e.fromArray(k, [c.batch, c.tk, c.heads * c.dh], 'k');
    const vt = e.fromArray(v, [c.batch, c.tk, c.heads * c.dh], 'v');
    for (const t of [qt, kt, vt]) t.requiresGrad = true;
    const lse = e.noGrad(() => {
      const f = attentionForward(qt, kt, vt, c.heads, { scale: c.scale });
      f.out.release();
      return f.lse;
    });
    const out = attention(qt, kt, vt, c.heads, { scale: c.scale, variant });
    backward(out, e.fromArray(w, out.shape, 'w'));
    return { qt, kt, vt, lse, out };
  });
  const got = await r.out.toArray();
  expect(got.every(Number.isFinite), `${label}: O has non-finite values`).toBe(true);
  expectClose(got, ref.out, tol?.fwd ?? FWD, `${label} O`);
  expectClose(await r.lse.toArray(), ref.lse, tol?.fwd ?? FWD, `${label} L`);
  expectClose(await r.qt.grad!.toArray(), grads.dq, tol?.grad ?? GRAD, `${label} dQ`);
  expectClose(await r.kt.grad!.toArray(), grads.dk, tol?.grad ?? GRAD, `${label} dK`);
  expectClose(await r.vt.grad!.toArray(), grads.dv, tol?.grad ?? GRAD, `${label} dV`);
  for (const t of Object.values(r)) t.release(); // a leaf's release frees its .grad too
}

for (const variant of ATTENTION_VARIANTS) {
  describe(`attention ${variant}`, () => {
    it.each(CASES)('O, L, dQ, dK, dV match the float64 reference: %o', async (c) => {
      await checkAgainstReference(variant, await getEngine(), c, 100 + c.tq * 7 + c.tk + c.dh);
    });

    it('is stable for large logits (inputs ×30: no NaN, matches the reference)', async () => {
      // Scores reach ~±900·Dh/√Dh: exp would overflow without the running max. The fp32 score error grows with
      // the score magnitude (~1e-4 here) and P is near one-hot, so the tolerance is looser than for unit inputs.
      const loose = { atol: 2e-3, rtol: 2e-3 };
      await checkAgainstReference(variant, await getEngine(), { batch: 1, heads: 2, dh: 16, tq: 17, tk: 70 }, 900, 30, { fwd: loose, grad: loose });
    });

    it('computes only the gradients asked for (q alone, then k alone)', async () => {
      const e = await getEngine();
      const c: Case = { batch: 1, heads: 2, dh: 8, tq: 5, tk: 17 };
      const { q, k, v, w } = inputs(c, 55);
      const ref = refBackward(q, k, v, w, c);
      for (const which of ['q', 'k'] as const) {
        const leaf = e.scope(() => {
          const qt = e.fromArray(q, [1, 5, 16], 'q');
          const kt = e.fromArray(k, [1, 17, 16], 'k');
          const vt = e.fromArray(v, [1, 17, 16], 'v');
          const l = which === 'q' ? qt : kt;
          l.requiresGrad = true;
          backward(attention(qt, kt, vt, 2, { variant }), e.fromArray(w, [1, 5, 16], 'w'));
          expect(vt.grad).toBe(null);
          return l;
        });
        expectClose(await leaf.grad!.toArray(), which === 'q' ? ref.dq : ref.dk, GRAD, `${variant} d${which} alone`);
        leaf.release();
      }
    });

    it('without grad records nothing and leaks no buffer (the logsumexp is released)', async () => {
      const e = await getEngine();
      const before = e.gpu.pool.bytesInUse;
      const c: Case = { batch: 1, heads: 1, dh: 4, tq: 5, tk: 17 };
      const { q, k, v } = inputs(c, 3);
      const out = e.scope(() => attention(e.fromArray(q, [1, 5, 4]), e.fromArray(k, [1, 17, 4]), e.fromArray(v, [1, 17, 4]), 1, { variant }));
      expect(out.requiresGrad).toBe(false);
      expectClose(await out.toArray(), refForward(q, k, v, c).out, FWD, `${variant} no-grad O`);
      out.release();
      expect(e.gpu.pool.bytesInUse).toBe(before);
    });
  });
}

describe('attention', () => {

  it('reference gradients match finite differences of the reference forward', () => {
    const c: AttentionDims = { batch: 2, heads: 2, dh: 3, tq: 3, tk: 4 };
    const { q, k, v, w } = inputs(c, 7);
    const g = refBackward(q, k, v, w, c, 0.7);
    const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) => dot(refForward(qq, kk, vv, c, 0.7).out, w);
    const tol = { atol: 1e-8, rtol: 1e-6 };
    expectClose(g.dq, finiteDiff((x) => loss(x, k, v), q), tol, 'reference dQ');
    expectClose(g.dk, finiteDiff((x) => loss(q, x, v), k), tol, 'reference dK');
    expectClose(g.dv, finiteDiff((x) => loss(q, k, x), v), tol, 'reference dV');
  });

  it('rejects mismatched shapes with errors that name the op and the shapes', async () => {
    const e = await getEngine();
    e.scope(() => {
      const q = e.zeros([2, 5, 8], 'q');
      const k = e.zeros([2, 7, 8], 'k');
      expect(() => attention(q, e.zeros([2, 7, 6]), e.zeros([2, 7, 6]), 2)).toThrow(/attention: q and k\/v channel counts differ; got q \[2, 5, 8\], k \[2, 7, 6\]/);
      expect(() => attention(q, k, e.zeros([2, 6, 8]), 2)).toThrow(/attention: k and v shapes differ; got .*v \[2, 6, 8\]/);
      expect(() => attention(q, e.zeros([1, 7, 8]), e.zeros([1, 7, 8]), 2)).toThrow(/attention: batch sizes differ; got q \[2, 5, 8\], k \[1, 7, 8\]/);
      expect(() => attention(q, k, k, 3)).toThrow(/attention: channels are not a multiple of heads; got .*heads 3/);
      expect(() => attention(e.zeros([10, 8]), k, k, 2)).toThrow(/attention: q, k and v must be \[B, T, H·Dh\]; got q \[10, 8\]/);
      expect(() => attention(e.zeros([1, 2, 129]), e.zeros([1, 2, 129]), e.zeros([1, 2, 129]), 1)).toThrow(/attention: head dim 129 outside 1\.\.128/);
      expect(() => attention(q, e.zeros([2, 0, 8]), e.zeros([2, 0, 8]), 2)).toThrow(/attention: no keys to attend to/);
    });
  });

  it('reports FLOPs: forward 4·B·H·Tq·Tk·Dh, backward 2.5× that', () => {
    expect(attentionFlops(2, 24, 1100, 1100, 64)).toEqual({ forward: 4 * 2 * 24 * 1100 * 1100 * 64, backward: 10 * 2 * 24 * 1100 * 1100 * 64 });
  });
});
