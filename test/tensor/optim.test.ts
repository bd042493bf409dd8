import { describe, expect, it } from 'vitest';
import { REDUCTION_VARIANTS } from '../../src/tensor/kernels';
import type { Engine } from '../../src/tensor/engine';
import type { Tensor } from '../../src/tensor/tensor';
import { AdamW, CHUNK, arenaLayout, gradNorm, type AdamWHyper } from '../../src/tensor/ops/optim';
import { ADAMW_DEFAULTS, refAdamState, refAdamWStep, refClipCoef, refEma, refGradNorm, type RefAdamState } from '../../src/tensor/reference/optim';
import { expectClose, f32, getEngine, rand } from './harness';

// Awkward sizes: 1, not a multiple of 4, exactly one chunk, one float past 4 chunks.
const SHAPES: number[][] = [[1], [3], [10, 100], [4097], [CHUNK]];
const TOL = { atol: 2e-6, rtol: 2e-5 };

interface Setup {
  params: Tensor[];
  ref: Float64Array[];
  states: RefAdamState[];
}

function setup(e: Engine, seed: number): Setup {
  const params = SHAPES.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return e.parameter(Float32Array.from(rand(n, seed + k)), shape, `p${k}`);
  });
  return {
    params,
    ref: params.map((p, k) => f32(rand(p.size, seed + k))),
    states: params.map((p) => refAdamState(p.size)),
  };
}

/** Sets every parameter's .grad (null: no gradient this step), as float32 data the reference also uses. */
function setGrads(e: Engine, params: Tensor[], grads: Array<Float64Array | null>): void {
  params.forEach((p, k) => {
    p.grad?.release();
    const g = grads[k];
    p.grad = g ? e.keep(e.fromArray(Float32Array.from(g), p.shape, `${p.name}.grad`)) : null;
  });
}

function makeGrads(params: Tensor[], seed: number, scale: number): Float64Array[] {
  return params.map((p, k) => f32(rand(p.size, seed * 100 + k, -scale, scale)));
}

async function expectMatches(opt: AdamW, s: Setup, label: string): Promise<void> {
  const st = await opt.state();
  for (let k = 0; k < s.params.length; k++) {
    expectClose(await s.params[k].toArray(), s.ref[k], TOL, `${label}: param ${k}`);
    expectClose(st.m[k], s.states[k].m, TOL, `${label}: m ${k}`);
    expectClose(st.v[k], s.states[k].v, { atol: 1e-9, rtol: 2e-5 }, `${label}: v ${k}`);
    expect(st.steps[k], `${label}: step ${k}`).toBe(s.states[k].step);
  }
}

function release(s: Setup, opt: AdamW): void {
  opt.dispose();
  for (const p of s.params) p.release();
}

describe('multi-tensor kernels', () => {
  it('arena layout: chunk-aligned offsets and a (tensor, valid) table', () => {
    const l = arenaLayout([1, 0, 1025]);
    expect(l.offsets).toEqual([0, CHUNK, CHUNK]);
    expect(l.length).toBe(3 * CHUNK);
    expect(Array.from(l.chunks)).toEqual([0, 1, 2, CHUNK, 2, 1]);
  });

  it.each(REDUCTION_VARIANTS)('gradNorm (%s partial sums) matches the reference across tensors of awkward sizes (scratch arena poisoned with NaN)', async (reduction) => {
    const e = await getEngine();
    const kept = e.kernels;
    e.kernels = { ...kept, reduction };
    const data = SHAPES.map((s, k) => f32(rand(s.reduce((a, b) => a * b, 1), 50 + k, -3, 3)));
    const ts = data.map((d, k) => e.fromArray(Float32Array.from(d), SHAPES[k], `g${k}`));
    const before = e.gpu.stats.dispatches;
    const norm = gradNorm(ts, -0.5);
    const poison = e.poisonOutputs ? 2 : 0; // NaN fills of the scratch arena and of the output
    expect(e.gpu.stats.dispatches - before).toBe(2 + poison);
    expectClose([await norm.item()], [0.5 * refGradNorm(data)], { atol: 0, rtol: 1e-5 }, 'gradNorm');
    expectClose([await gradNorm([ts[0]]).item()], [Math.abs(data[0][0])], { atol: 0, rtol: 1e-6 }, 'gradNorm of one value');
    // Any NaN or Inf makes the norm NaN.
    const bad = e.fromArray([1, Number.POSITIVE_INFINITY, 2], [3]);
    expect(await gradNorm([ts[3], bad]).item()).toBeNaN();
    for (const t of [...ts, norm, bad]) t.release();
    e.kernels = kept;
  });
});

describe('AdamW on the GPU vs torch.optim.AdamW semantics (float64 reference)', () => {
  // [name, hyper-parameters, gradScale, gradient magnitude, per-parameter lr scales (parameter groups)]
  const cases: Array<[string, Partial<AdamWHyper>, number, number, ((n: number) => number[])?]> = [
    ['plain Adam (no decay, no clipping)', { lr: 0.01, weightDecay: 0 }, 1, 2],
    ['weight decay 0.1', { lr: 0.02, weightDecay: 0.1, beta1: 0.8, beta2: 0.99 }, 1, 2],
    ['clipping active (norm > max) and gradScale', { lr: 0.01, weightDecay: 0.05, maxGradNorm: 1.5, eps: 1e-6 }, 0.25, 2],
    // eps comparable to sqrt(v̂): tells eps outside the sqrt (PyTorch) from inside; a clip threshold that is not hit
    ['large eps, tiny gradients, clipping inactive', { lr: 0.01, weightDecay: 0.01, eps: 1e-3, maxGradNorm: 10 }, 1, 0.003],
    // A slower group, a frozen-by-lr one (scale 0: no update, no decay) and a faster one, with decay and clipping.
    ['per-parameter lr scales (groups), decay scaled with lr', { lr: 0.01, weightDecay: 0.2, maxGradNorm: 1.5 }, 1, 2, (n) => Array.from({ length: n }, (_, k) => [0.1, 1, 0, 3][k % 4])],
  ];
  for (const [name, hp, gradScale, mag, scalesOf] of cases) {
    it(name, async () => {
      const e = await getEngine();
      const s = setup(e, 7);
      const scales = scalesOf?.(s.params.length);
      const opt = new AdamW(s.params, hp, scales);
      const full = { ...ADAMW_DEFAULTS, ...hp };
      let pipelines = 0;
      for (let step = 1; step <= 4; step++) {
        // An LR schedule: hyper-parameters are uniforms, so changing them compiles nothing.
        opt.hp.lr = full.lr = (hp.lr ?? 1e-3) * (1 - 0.2 * (step - 1));
        const grads = makeGrads(s.params, step, mag);
        setGrads(e, s.params, grads);
        const report = opt.step(gradScale);
        if (step === 1) pipelines = e.gpu.getStats().pipelines;
        else expect(e.gpu.getStats().pipelines).toBe(pipelines);
        const want = refAdamWStep(s.ref, grads, s.states, full, gradScale, scales);
        const got = await report.read();
        expect(got.skipped).toBe(false);
        expectClose([got.norm], [want.norm], { atol: 0, rtol: 1e-5 }, `step ${step} norm`);
        if (hp.maxGradNorm === 1.5) expect(refClipCoef(want.norm, full.maxGradNorm)).toBeLessThan(1); // clipping really happens
        if (hp.maxGradNorm === 10) expect(refClipCoef(want.norm, full.maxGradNorm)).toBe(1);
        report.norm.release();
        report.skipped.release();
      }
      await expectMatches(opt, s, name);
      release(s, opt);
    });
  }

  it('dispatch count does not grow with the number of tensors; a parameter without grad is skipped', async () => {
    const e = await getEngine();
    const s = setup(e, 11);
    const hp = { lr: 0.01, weightDecay: 0.1 };
    const full = { ...ADAMW_DEFAULTS, ...hp };
    const few = new AdamW(s.params.slice(0, 1), hp);
    const many = new AdamW(s.params, hp);
    const grads = makeGrads(s.params, 3, 1);
    const counts: number[] = [];
    for (const opt of [few, many]) {
      setGrads(e, s.params, grads);
      const before = e.gpu.stats.dispatches;
      e.scope(() => opt.step());
      counts.push(e.gpu.stats.dispatches - before);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[1]).toBe(4 + (e.poisonOutputs ? 2 : 0)); // norm partial + finish, prepare, update (+ NaN fills)
    few.dispose();

    // Replay on the reference what `many` saw, then a step where p1 and p3 have no gradient: they keep their
    // values and step counts, and their next update uses their own t (PyTorch's per-parameter state['step']).
    refAdamWStep(s.ref.slice(0, 1), grads.slice(0, 1), [refAdamState(1)], full); // `few` on p0 (its own moments)
    refAdamWStep(s.ref, grads, s.states, full); // `many` on all
    const g2: Array<Float64Array | null> = makeGrads(s.params, 4, 1);
    g2[1] = null;
    g2[3] = null;
    setGrads(e, s.params, g2);
    e.scope(() => many.step());
    refAdamWStep(s.ref, g2, s.states, full);
    const g3 = makeGrads(s.params, 5, 1);
    setGrads(e, s.params, g3);
    e.scope(() => many.step());
    refAdamWStep(s.ref, g3, s.states, full);
    expect(s.states.map((st) => st.step)).toEqual([3, 2, 3, 2, 3]);
    await expectMatches(many, s, 'skip without grad');
    release(s, many);
  });

  it('a NaN or Inf gradient refuses the step: params, moments and steps untouched, reported', async () => {
    const e = await getEngine();
    const s = setup(e, 13);
    const hp = { lr: 0.01, weightDecay: 0.1, maxGradNorm: 1 };
    const full = { ...ADAMW_DEFAULTS, ...hp };
    const opt = new AdamW(s.params, hp);
    const g1 = makeGrads(s.params, 1, 1);
    setGrads(e, s.params, g1);
    e.scope(() => opt.step());
    refAdamWStep(s.ref, g1, s.states, full);

    for (const badValue of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const g = makeGrads(s.params, 2, 1);
      g[3][4096] = badValue; // the last element of the 4097-sized tensor: a partial vec4 of its last chunk
      setGrads(e, s.params, g);
      const report = opt.step();
      const got = await report.read();
      expect(got.skipped).toBe(true);
      expect(Number.isFinite(got.norm)).toBe(false);
      expect(refAdamWStep(s.ref, g, s.states, full).skipped).toBe(true);
      await expectMatches(opt, s, `after a ${badValue} gradient`);
      report.norm.release();
      report.skipped.release();
    }
    // And training continues from where it was (step 2, not 4).
    const g3 = makeGrads(s.params, 3, 1);
    setGrads(e, s.params, g3);
    const report = opt.step();
    expect((await report.read()).skipped).toBe(false);
    refAdamWStep(s.ref, g3, s.states, full);
    await expectMatches(opt, s, 'after recovery');
    report.norm.release();
    report.skipped.release();
    release(s, opt);
  });

  it('state() / load() round trip continues identically', async () => {
    const e = await getEngine();
    const hp = { lr: 0.01, weightDecay: 0.1, maxGradNorm: 2 };
    const a = setup(e, 17);
    const optA = new AdamW(a.params, hp);
    for (let step = 1; step <= 2; step++) {
      setGrads(e, a.params, makeGrads(a.params, step, 1));
      e.scope(() => optA.step());
    }
    const saved = await optA.state();
    // A fresh optimiser over copies of the current parameters, loaded from the checkpoint.
    const bParams = await Promise.all(a.params.map(async (p) => e.parameter(await p.toArray(), p.shape, `${p.name}.copy`)));
    const optB = new AdamW(bParams, hp);
    optB.load(saved);
    expect(() => optB.load({ ...saved, steps: [1] })).toThrow(/state for 1 parameters/);
    for (let step = 3; step <= 4; step++) {
      const g = makeGrads(a.params, step, 1);
      setGrads(e, a.params, g);
      setGrads(e, bParams, g);
      e.scope(() => {
        optA.step();
        optB.step();
      });
    }
    const [sa, sb] = [await optA.state(), await optB.state()];
    expect(sb.steps).toEqual([4, 4, 4, 4, 4]);
    for (let k = 0; k < a.params.length; k++) {
      expect(await bParams[k].toArray()).toEqual(await a.params[k].toArray());
      expect(sb.m[k]).toEqual(sa.m[k]);
      expect(sb.v[k]).toEqual(sa.v[k]);
    }
    release(a, optA);
    optB.dispose();
    for (const p of bParams) p.release();
  });

  it('keeps a moving average of the parameters: matches the reference, skips refused steps and absent grads, and round-trips', async () => {
    const e = await getEngine();
    const hp = { lr: 0.05, weightDecay: 0.1, maxGradNorm: 1 };
    const full = { ...ADAMW_DEFAULTS, ...hp };
    const decay = 0.9;
    const s = setup(e, 31);
    const opt = new AdamW(s.params, hp, undefined, decay);
    const ema = s.ref.map((p) => Float64Array.from(p));
    const step = (grads: Array<Float64Array | null>) => {
      setGrads(e, s.params, grads);
      e.scope(() => opt.step());
      const r = refAdamWStep(s.ref, grads, s.states, full);
      if (!r.skipped) s.ref.forEach((p, k) => grads[k] && refEma(ema[k], p, decay));
    };
    step(makeGrads(s.params, 1, 1));
    const g2: Array<Float64Array | null> = makeGrads(s.params, 2, 1);
    g2[2] = null; // no gradient: its average stays
    step(g2);
    const bad: Array<Float64Array | null> = makeGrads(s.params, 3, 1);
    bad[0] = Float64Array.from([Number.NaN]); // refused step: nothing moves, the average neither
    step(bad);
    step(makeGrads(s.params, 4, 1));
    const st = await opt.state();
    ema.forEach((m, k) => expectClose(st.ema![k], m, TOL, `ema ${k}`));
    // Round trip: a fresh optimiser loaded from the state continues the same average.
    const copies = await Promise.all(s.params.map(async (p) => e.parameter(await p.toArray(), p.shape, `${p.name}.copy`)));
    const again = new AdamW(copies, hp, undefined, decay);
    again.load(st);
    const plain = new AdamW(copies, hp); // an optimiser without an average ignores a state's
    expect(() => plain.load(st)).not.toThrow();
    plain.dispose();
    expect(() => again.load({ ...st, ema: undefined })).toThrow(/keeps a moving average/);
    const g5 = makeGrads(s.params, 5, 1);
    setGrads(e, s.params, g5);
    setGrads(e, copies, g5);
    e.scope(() => {
      opt.step();
      again.step();
    });
    const [a, b] = [await opt.state(), await again.state()];
    for (let k = 0; k < copies.length; k++) expect(b.ema![k]).toEqual(a.ema![k]);
    expect(() => new AdamW(copies, hp, undefined, 1)).toThrow(/emaDecay must be in \[0, 1\)/);
    release(s, opt);
    again.dispose();
    for (const p of copies) p.release();
  });
});
