// The composite check of the engine: a 2-layer pre-LN transformer block stack (LayerNorm → multi-head
// attention → residual → LayerNorm → GELU MLP → residual) trained for several AdamW steps on the GPU, against
// the same model in float64 with a hand-chained backward built from the kernels' reference backwards and the
// reference AdamW. The losses must agree step by step.
import { describe, expect, it } from 'vitest';
import { geluTanh, geluTanhGrad } from '../../src/tensor/reference/activation';
import { attentionBackward, attentionForward } from '../../src/tensor/reference/attention';
import { linearLoraRef, linearLoraRefBackward } from '../../src/tensor/reference/matmul';
import { normBackward, normForward } from '../../src/tensor/reference/norm';
import { refAdamState, refAdamWStep } from '../../src/tensor/reference/optim';
import { backward } from '../../src/tensor/autograd';
import { attention } from '../../src/tensor/ops/attention';
import { add, gelu } from '../../src/tensor/ops/elementwise';
import { linear } from '../../src/tensor/ops/linear';
import { layerNorm } from '../../src/tensor/ops/norm';
import { AdamW } from '../../src/tensor/ops/optim';
import { mean, perSampleMse } from '../../src/tensor/ops/reduce';
import type { Tensor } from '../../src/tensor/tensor';
import { getEngine, rand } from './harness';

const B = 2, T = 5, D = 12, HEADS = 2, LAYERS = 2, STEPS = 5;
const HP = { lr: 3e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, maxGradNorm: 1 };

type Params = Record<string, { shape: number[]; data: Float64Array }>;

function makeParams(): Params {
  const p: Params = {};
  let seed = 1;
  const put = (name: string, shape: number[], lo: number, hi: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    p[name] = { shape, data: Float64Array.from(Float32Array.from(rand(n, seed++, lo, hi))) };
  };
  for (let l = 0; l < LAYERS; l++) {
    put(`${l}.ln1.w`, [D], 0.8, 1.2);
    put(`${l}.ln1.b`, [D], -0.1, 0.1);
    for (const n of ['q', 'k', 'v', 'o']) {
      put(`${l}.${n}.w`, [D, D], -0.4, 0.4);
      put(`${l}.${n}.b`, [D], -0.1, 0.1);
    }
    put(`${l}.ln2.w`, [D], 0.8, 1.2);
    put(`${l}.ln2.b`, [D], -0.1, 0.1);
    put(`${l}.fc1.w`, [4 * D, D], -0.3, 0.3);
    put(`${l}.fc1.b`, [4 * D], -0.1, 0.1);
    put(`${l}.fc2.w`, [D, 4 * D], -0.2, 0.2);
    put(`${l}.fc2.b`, [D], -0.1, 0.1);
  }
  return p;
}

// --------------------------------------------------------------------------------- float64 model + backward

const lin = (x: Float64Array, w: Float64Array, b: Float64Array, outF: number, inF: number) => linearLoraRef(x, [x.length / inF, inF], w, [outF, inF], b).y;

function refLossAndGrads(p: Params, x0: Float64Array, target: Float64Array): { loss: number; grads: Record<string, Float64Array> } {
  const P = (n: string) => p[n].data;
  const rows = B * T;
  const dims = { batch: B, heads: HEADS, tq: T, tk: T, dh: D / HEADS };
  const tape: Array<Record<string, Float64Array>> = [];
  let h = x0;
  for (let l = 0; l < LAYERS; l++) {
    const n1 = normForward(h, { rows, d: D, center: true, eps: 1e-6, weight: P(`${l}.ln1.w`), bias: P(`${l}.ln1.b`) }).y;
    const q = lin(n1, P(`${l}.q.w`), P(`${l}.q.b`), D, D);
    const k = lin(n1, P(`${l}.k.w`), P(`${l}.k.b`), D, D);
    const v = lin(n1, P(`${l}.v.w`), P(`${l}.v.b`), D, D);
    const a = attentionForward(q, k, v, dims).out;
    const o = lin(a, P(`${l}.o.w`), P(`${l}.o.b`), D, D);
    const h1 = h.map((x, i) => x + o[i]);
    const n2 = normForward(h1, { rows, d: D, center: true, eps: 1e-6, weight: P(`${l}.ln2.w`), bias: P(`${l}.ln2.b`) }).y;
    const f1 = lin(n2, P(`${l}.fc1.w`), P(`${l}.fc1.b`), 4 * D, D);
    const g1 = f1.map(geluTanh);
    const f2 = lin(g1, P(`${l}.fc2.w`), P(`${l}.fc2.b`), D, 4 * D);
    tape.push({ h, n1, q, k, v, a, h1, n2, f1, g1 });
    h = h1.map((x, i) => x + f2[i]);
  }
  // loss = mean_b mean_i (h − target)²
  const per = B ? (h.length / B) : 1;
  let loss = 0;
  for (let i = 0; i < h.length; i++) loss += (h[i] - target[i]) ** 2;
  loss /= h.length;
  let dh = h.map((x, i) => (2 * (x - target[i])) / (B * per));
  const grads: Record<string, Float64Array> = {};
  const linBack = (x: Float64Array, wName: string, outF: number, inF: number, gy: Float64Array) => {
    const r = linearLoraRefBackward(x, [x.length / inF, inF], P(`${wName}.w`), [outF, inF], [], gy);
    grads[`${wName}.w`] = r.dw;
    grads[`${wName}.b`] = r.dbias;
    return r.dx;
  };
  for (let l = LAYERS - 1; l >= 0; l--) {
    const s = tape[l];
    const dg1 = linBack(s.g1, `${l}.fc2`, D, 4 * D, dh);
    const df1 = dg1.map((g, i) => g * geluTanhGrad(s.f1[i]));
    const dn2 = linBack(s.n2, `${l}.fc1`, 4 * D, D, df1);
    const nb2 = normBackward(dn2, s.h1, { rows, d: D, center: true, eps: 1e-6, weight: P(`${l}.ln2.w`), bias: P(`${l}.ln2.b`) });
    grads[`${l}.ln2.w`] = nb2.dweight!;
    grads[`${l}.ln2.b`] = nb2.dbias!;
    const dh1 = dh.map((g, i) => g + nb2.dx[i]);
    const da = linBack(s.a, `${l}.o`, D, D, dh1);
    const ab = attentionBackward(s.q, s.k, s.v, da, dims);
    const dn1q = linBack(s.n1, `${l}.q`, D, D, ab.dq);
    const dn1k = linBack(s.n1, `${l}.k`, D, D, ab.dk);
    const dn1v = linBack(s.n1, `${l}.v`, D, D, ab.dv);
    const dn1 = dn1q.map((g, i) => g + dn1k[i] + dn1v[i]);
    const nb1 = normBackward(dn1, s.h, { rows, d: D, center: true, eps: 1e-6, weight: P(`${l}.ln1.w`), bias: P(`${l}.ln1.b`) });
    grads[`${l}.ln1.w`] = nb1.dweight!;
    grads[`${l}.ln1.b`] = nb1.dbias!;
    dh = dh1.map((g, i) => g + nb1.dx[i]);
  }
  return { loss, grads };
}

// --------------------------------------------------------------------------------- GPU model

function gpuLoss(t: Record<string, Tensor>, x0: Tensor, target: Tensor): Tensor {
  let h = x0;
  for (let l = 0; l < LAYERS; l++) {
    const n1 = layerNorm(h, t[`${l}.ln1.w`], t[`${l}.ln1.b`]);
    const q = linear(n1, t[`${l}.q.w`], t[`${l}.q.b`]);
    const k = linear(n1, t[`${l}.k.w`], t[`${l}.k.b`]);
    const v = linear(n1, t[`${l}.v.w`], t[`${l}.v.b`]);
    const h1 = add(h, linear(attention(q, k, v, HEADS), t[`${l}.o.w`], t[`${l}.o.b`]));
    const n2 = layerNorm(h1, t[`${l}.ln2.w`], t[`${l}.ln2.b`]);
    h = add(h1, linear(gelu(linear(n2, t[`${l}.fc1.w`], t[`${l}.fc1.b`])), t[`${l}.fc2.w`], t[`${l}.fc2.b`]));
  }
  return mean(perSampleMse(h, target));
}

describe('composite: a 2-layer attention + MLP stack trained with AdamW', () => {
  it('GPU losses match the float64 reference step by step', async () => {
    const e = await getEngine();
    const params = makeParams();
    const names = Object.keys(params);
    const x0 = Float64Array.from(Float32Array.from(rand(B * T * D, 900)));
    const target = Float64Array.from(Float32Array.from(rand(B * T * D, 901, -0.5, 0.5)));

    const tensors: Record<string, Tensor> = {};
    for (const n of names) tensors[n] = e.parameter(params[n].data, params[n].shape, n);
    const opt = new AdamW(names.map((n) => tensors[n]), HP);
    const xT = e.keep(e.fromArray(x0, [B, T, D], 'x0'));
    const tT = e.keep(e.fromArray(target, [B, T, D], 'target'));

    const refParams = names.map((n) => params[n].data);
    const states = refParams.map((p) => refAdamState(p.length));
    const gpuLosses: number[] = [];
    const refLosses: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      const loss = e.scope(() => {
        const l = gpuLoss(tensors, xT, tT);
        backward(l);
        return l.detach();
      });
      opt.step();
      for (const n of names) tensors[n].grad?.release(), (tensors[n].grad = null);
      gpuLosses.push(await loss.item());
      loss.release();

      const { loss: rl, grads } = refLossAndGrads(params, x0, target);
      refLosses.push(rl);
      refAdamWStep(refParams, names.map((n) => grads[n]), states, HP);
    }
    const report = gpuLosses.map((g, i) => `step ${i}: gpu ${g.toFixed(7)} ref ${refLosses[i].toFixed(7)}`).join('\n');
    for (let i = 0; i < STEPS; i++) expect(Math.abs(gpuLosses[i] - refLosses[i]), report).toBeLessThan(1e-4 + 1e-3 * refLosses[i]);
    expect(refLosses[STEPS - 1], 'the loss goes down').toBeLessThan(refLosses[0]);
    for (const n of names) tensors[n].release();
    opt.dispose();
    xT.release();
    tT.release();
  });
});
