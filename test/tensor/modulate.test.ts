// adaLN modulation, gates and chunk: GPU vs float64 reference (forward and every gradient), the reference's
// gradients vs finite differences, an SD3 adaLN-Zero residual pair end to end, and shape errors.
import { beforeEach, describe, expect, it } from 'vitest';
import { REDUCTION_VARIANTS } from '../../src/tensor/kernels';
import { backward } from '../../src/tensor/autograd';
import type { Engine } from '../../src/tensor/engine';
import { chunk, chunkBytes, gate, gatedResidual, modulate, modulateBytes } from '../../src/tensor/ops/modulate';
import { layerNormModulate } from '../../src/tensor/ops/norm';
import type { Tensor } from '../../src/tensor/tensor';
import * as ref from '../../src/tensor/reference/modulate';
import { normBackward, normForward } from '../../src/tensor/reference/norm';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand } from './harness';

type Op = 'modulate' | 'gate' | 'gatedResidual';

/** Loss Σ w·y on the GPU; y and every input's gradient against the reference. `frozen` inputs need no grad. */
async function check(e: Engine, op: Op, [bs, t, d]: number[], seed: number, frozen: string[] = []): Promise<void> {
  const s = { b: bs, t, d };
  const act = bs * t * d;
  const data: Record<string, Float64Array> = {
    x: f32(rand(act, seed)),
    h: f32(rand(act, seed + 1)),
    v1: f32(rand(bs * d, seed + 2, -2, 2)),
    v2: f32(rand(bs * d, seed + 3, -2, 2)),
  };
  const wy = f32(rand(act, seed + 4));
  const names = op === 'modulate' ? ['x', 'v1', 'v2'] : op === 'gate' ? ['x', 'v1'] : ['h', 'x', 'v1'];
  const before = e.gpu.pool.bytesInUse;
  const inputs: Record<string, Tensor> = {};
  for (const n of names) {
    const shape = n.startsWith('v') ? [bs, d] : [bs, t, d];
    inputs[n] = frozen.includes(n) ? e.keep(e.fromArray(data[n], shape, n)) : e.parameter(data[n], shape, n);
  }
  const { x, h, v1, v2 } = inputs;
  const y = e.scope(() => {
    const y = op === 'modulate' ? modulate(x, v1, v2) : op === 'gate' ? gate(x, v1) : gatedResidual(h, x, v1);
    backward(y, e.fromArray(wy, y.shape));
    return y;
  });
  let expected: { y: Float64Array; grads: Record<string, Float64Array> };
  if (op === 'modulate') {
    const g = ref.modulateBackward(s, wy, data.x, data.v2);
    expected = { y: ref.modulate(s, data.x, data.v1, data.v2), grads: { x: g.dx, v1: g.dshift, v2: g.dscale } };
  } else if (op === 'gate') {
    const g = ref.gateBackward(s, wy, data.x, data.v1);
    expected = { y: ref.gate(s, data.x, data.v1), grads: { x: g.dx, v1: g.dg } };
  } else {
    const g = ref.gatedResidualBackward(s, wy, data.x, data.v1);
    expected = { y: ref.gatedResidual(s, data.h, data.x, data.v1), grads: { h: g.dh, x: g.dx, v1: g.dg } };
  }
  const label = `${op} [${bs}, ${t}, ${d}]${frozen.length ? ` frozen ${frozen}` : ''}`;
  expectClose(await y.toArray(), expected.y, FWD, `${label}: y`);
  for (const n of names) {
    if (frozen.includes(n)) expect(inputs[n].grad).toBe(null);
    else expectClose(await inputs[n].grad!.toArray(), expected.grads[n], GRAD, `${label}: d${n}`);
  }
  for (const v of [y, ...Object.values(inputs)]) v.release();
  expect(e.gpu.pool.bytesInUse, `${label}: GPU memory leaked`).toBe(before);
}

const SHAPES = [1, 3, 64, 130, 1536].flatMap((d, i) => [1, 5].map((t) => [1 + ((i + t) % 3), t, d]));

// Both reduction variants of the column sums behind the gradients (src/tensor/kernels.ts): 'tree' (4 row lanes
// added in workgroup memory) and 'serial' (one lane, no barrier).
for (const reduction of REDUCTION_VARIANTS) {
describe(`modulate, gate, gatedResidual (${reduction} column sums)`, () => {
  beforeEach(async () => {
    const e = await getEngine();
    e.kernels = { ...e.kernels, reduction };
  });

  it('modulate: x·(1 + scale) + shift over D in {1, 3, 64, 130, 1536}, T in {1, 5}', async () => {
    const e = await getEngine();
    for (const [i, shape] of SHAPES.entries()) await check(e, 'modulate', shape, 100 + i);
  });

  it('gate: g·x', async () => {
    const e = await getEngine();
    for (const [i, shape] of SHAPES.entries()) await check(e, 'gate', shape, 200 + i);
  });

  it('gatedResidual: h + g·x', async () => {
    const e = await getEngine();
    for (const [i, shape] of SHAPES.entries()) await check(e, 'gatedResidual', shape, 300 + i);
  });

  it('T > 64 (two-pass sums over T) and frozen inputs', async () => {
    const e = await getEngine();
    await check(e, 'modulate', [2, 130, 3], 400);
    await check(e, 'gate', [3, 70, 64], 401);
    await check(e, 'gatedResidual', [1, 200, 5], 402);
    await check(e, 'gate', [1, 20000, 2], 407); // > 256 parts of 64 rows: longer parts (colsumChunking)
    await check(e, 'modulate', [2, 5, 8], 403, ['x']);
    await check(e, 'modulate', [2, 5, 8], 404, ['v1']);
    await check(e, 'gatedResidual', [2, 5, 7], 405, ['h', 'v1']);
    await check(e, 'gate', [2, 5, 7], 406, ['x']);
  });
});
}

describe('chunk', () => {
  it('takes each of the 6 modulation vectors out of [B, 6·D]; gradients land in their columns', async () => {
    const e = await getEngine();
    for (const [bs, d, shape] of [[2, 3, [2, 18]], [3, 64, [3, 1, 384]]] as Array<[number, number, number[]]>) {
      const emb = f32(rand(bs * 6 * d, d));
      const ws = Array.from({ length: 6 }, (_, i) => f32(rand(bs * d, 10 + i)));
      const before = e.gpu.pool.bytesInUse;
      const p = e.parameter(emb, shape, 'emb');
      const outs = e.scope(() => {
        const outs = ws.map((_, i) => chunk(p, 6, i));
        expect(outs[0].shape).toEqual([...shape.slice(0, -1), d]);
        for (const [i, o] of outs.entries()) backward(o, e.fromArray(ws[i], o.shape));
        return outs;
      });
      const grad = new Float64Array(emb.length);
      for (const [i, o] of outs.entries()) {
        expectClose(await o.toArray(), ref.chunk(emb, bs, d, 6, i), { atol: 0, rtol: 0 }, `chunk ${i}`);
        ref.chunkBackward(ws[i], bs, d, 6, i).forEach((v, k) => (grad[k] += v));
      }
      expectClose(await p.grad!.toArray(), grad, { atol: 0, rtol: 0 }, 'chunk grad');
      for (const t of [...outs, p]) t.release();
      expect(e.gpu.pool.bytesInUse).toBe(before);
    }
  });

  it('drives an SD3 adaLN-Zero residual pair: x + g_msa·LN(x)(1 + s_msa) + sh_msa, then the mlp half', async () => {
    // Stand-ins for attention and the MLP are the identity, so the whole pair is norms, gates and chunks:
    //   a = x + gate_msa·(LN(x)·(1 + scale_msa) + shift_msa);   out = a + gate_mlp·(LN(a)·(1 + scale_mlp) + shift_mlp)
    const e = await getEngine();
    const [bs, t, d] = [2, 5, 12];
    const s = { b: bs, t, d };
    const x = f32(rand(bs * t * d, 1));
    const emb = f32(rand(bs * 6 * d, 2, -0.5, 0.5));
    const wy = f32(rand(bs * t * d, 3));
    const xt = e.parameter(x, [bs, t, d], 'x');
    const et = e.parameter(emb, [bs, 6 * d], 'emb');
    const y = e.scope(() => {
      const [shMsa, scMsa, gMsa, shMlp, scMlp, gMlp] = [0, 1, 2, 3, 4, 5].map((i) => chunk(et, 6, i));
      const a = gatedResidual(xt, layerNormModulate(xt, shMsa, scMsa), gMsa);
      const out = gatedResidual(a, layerNormModulate(a, shMlp, scMlp), gMlp);
      backward(out, e.fromArray(wy, out.shape));
      return out;
    });

    // float64: forward, then the chain rule by hand through the same references.
    const c = [0, 1, 2, 3, 4, 5].map((i) => ref.chunk(emb, bs, d, 6, i));
    const norm = (sh: Float64Array, sc: Float64Array) => ({ rows: bs * t, d, center: true, eps: 1e-6, weight: sc, bias: sh, onePlus: true, groups: bs });
    const n1 = normForward(x, norm(c[0], c[1])).y;
    const a = ref.gatedResidual(s, x, n1, c[2]);
    const n2 = normForward(a, norm(c[3], c[4])).y;
    const out = ref.gatedResidual(s, a, n2, c[5]);
    const g2 = ref.gatedResidualBackward(s, wy, n2, c[5]); // dh → a, dx → n2, dg → gate_mlp
    const gn2 = normBackward(g2.dx, a, norm(c[3], c[4]));
    const da = g2.dh.map((v, i) => v + gn2.dx[i]);
    const g1 = ref.gatedResidualBackward(s, da, n1, c[2]);
    const gn1 = normBackward(g1.dx, x, norm(c[0], c[1]));
    const dx = g1.dh.map((v, i) => v + gn1.dx[i]);
    const demb = new Float64Array(emb.length);
    [gn1.dbias!, gn1.dweight!, g1.dg, gn2.dbias!, gn2.dweight!, g2.dg].forEach((g, i) =>
      ref.chunkBackward(g, bs, d, 6, i).forEach((v, k) => (demb[k] += v)),
    );
    expectClose(await y.toArray(), out, FWD, 'adaLN pair: out');
    expectClose(await xt.grad!.toArray(), dx, GRAD, 'adaLN pair: dx');
    expectClose(await et.grad!.toArray(), demb, GRAD, 'adaLN pair: demb');
    for (const v of [y, xt, et]) v.release();
  });
});

describe('modulate reference', () => {
  it('gradients match finite differences', () => {
    const s = { b: 2, t: 3, d: 4 };
    const [x, h, v1, v2, wy] = [24, 24, 8, 8, 24].map((n, i) => rand(n, 500 + i));
    const tol = { atol: 1e-7, rtol: 1e-6 };
    const fd = (f: (v: Float64Array) => Float64Array, at: Float64Array) => finiteDiff((v) => dot(f(v), wy), at);
    const m = ref.modulateBackward(s, wy, x, v2);
    expectClose(m.dx, fd((v) => ref.modulate(s, v, v1, v2), x), tol, 'modulate dx');
    expectClose(m.dshift, fd((v) => ref.modulate(s, x, v, v2), v1), tol, 'modulate dshift');
    expectClose(m.dscale, fd((v) => ref.modulate(s, x, v1, v), v2), tol, 'modulate dscale');
    const g = ref.gatedResidualBackward(s, wy, x, v1);
    expectClose(g.dh, fd((v) => ref.gatedResidual(s, v, x, v1), h), tol, 'gatedResidual dh');
    expectClose(g.dx, fd((v) => ref.gatedResidual(s, h, v, v1), x), tol, 'gatedResidual dx');
    expectClose(g.dg, fd((v) => ref.gatedResidual(s, h, x, v), v1), tol, 'gatedResidual dg');
    const gg = ref.gateBackward(s, wy, x, v1);
    expectClose(gg.dx, fd((v) => ref.gate(s, v, v1), x), tol, 'gate dx');
    expectClose(gg.dg, fd((v) => ref.gate(s, x, v), v1), tol, 'gate dg');
    const emb = rand(2 * 3 * 4, 510);
    const cw = rand(2 * 4, 511);
    expectClose(ref.chunkBackward(cw, 2, 4, 3, 1), finiteDiff((v) => dot(ref.chunk(v, 2, 4, 3, 1), cw), emb), tol, 'chunk');
  });
});

describe('modulate ops', () => {
  it('reject mismatched shapes, naming the op and the shapes', async () => {
    const e = await getEngine();
    e.scope(() => {
      const x = e.zeros([2, 3, 8]);
      const v = e.zeros([2, 8]);
      expect(() => modulate(x, e.zeros([8]), v)).toThrow('modulate: shift [8] does not match x [2, 3, 8]: expected [2, 8]');
      expect(() => modulate(e.zeros([6, 8]), v, v)).toThrow('modulate: x [6, 8] must be [B, T, D]');
      expect(() => gate(x, e.zeros([1, 8]))).toThrow('gate: g [1, 8] does not match x [2, 3, 8]');
      expect(() => gatedResidual(e.zeros([2, 4, 8]), x, v)).toThrow('gatedResidual: h [2, 4, 8] does not match x [2, 3, 8]');
      expect(() => chunk(e.zeros([2, 10]), 6, 0)).toThrow('chunk: emb [2, 10] does not split into 6 chunks');
      expect(() => chunk(e.zeros([2, 12]), 6, 6)).toThrow('chunk: index 6 out of [0, 6)');
    });
  });

  it('count bytes', () => {
    // SD3-medium joint block, image stream: B 2, T 4096, D 1536.
    expect(modulateBytes([2, 4096, 1536], 'modulate').forward).toBe(4 * (2 * 2 * 4096 * 1536 + 2 * 2 * 1536));
    expect(modulateBytes([2, 4096, 1536], 'gatedResidual').forward).toBe(4 * (3 * 2 * 4096 * 1536 + 2 * 1536));
    expect(chunkBytes(2, 1536, 6)).toEqual({ forward: 4 * 2 * 2 * 1536, backward: 4 * (2 * 1536 + 2 * 6 * 1536) });
  });
});
