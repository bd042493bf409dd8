// matmul: GPU (v1 naive and v2 tiled, forced) vs the float64 reference, forward and every gradient, on awkward
// shapes (size 1, K = 0, non-multiples of the 64x64x16 tile, multi-tile, vec4 and scalar load paths),
// transposes, bias, residual, alpha, each activation and batch broadcasting; the reference's gradients vs finite
// differences; shape errors.
// SwiftShader compiles a tiled pipeline in about a second (mostly Dawn's zero-init of its 8.5 KiB of workgroup
// memory), so the shapes are chosen to share pipelines (same transposes, vec4 flags and epilogue) where that
// loses no path: the tiled cases compile 13 pipelines covering every transpose pair with vec4 and scalar loads
// (forward and backward), and each epilogue (bias, residual + alpha, gelu, silu, stored pre-activation).
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import { matmul, matmulCost, matmulWith, pickVariant, type MatmulVariant } from '../../src/tensor/ops/matmul';
import { MATMUL_VARIANTS } from '../../src/tensor/kernels';
import type { Activation } from '../../src/tensor/reference/activation';
import { matmulRef, matmulRefBackward, matmulRefDims, type MatmulRefOptions } from '../../src/tensor/reference/matmul';
import type { Tensor } from '../../src/tensor/tensor';
import { FWD, GRAD, dot, expectClose, f32, finiteDiff, getEngine, rand, type Tolerance } from './harness';

interface Case {
  name: string;
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  residual?: boolean;
  alpha?: number;
  act?: Activation;
  /** Which operands are frozen (requiresGrad false): their gradient must stay null. */
  frozen?: 'a' | 'b';
}

const CASES: Case[] = [
  { name: 'plain 67x33x19 (not multiples of the tile)', a: [67, 19], b: [19, 33] },
  { name: 'M = 1 with bias', a: [1, 20], b: [20, 33], bias: true },
  { name: 'K = 1, N = 1', a: [7, 1], b: [1, 1] },
  { name: 'K = 0 (bias only)', a: [3, 0], b: [0, 33], bias: true },
  { name: 'transA', a: [19, 67], b: [19, 33], transA: true },
  { name: 'transB, vec4 loads (K, N multiples of 4)', a: [67, 20], b: [36, 20], transB: true },
  { name: 'batched transA transB, bias, gelu', a: [2, 3, 12, 5], b: [2, 3, 7, 12], transA: true, transB: true, bias: true, act: 'gelu_tanh' },
  { name: 'broadcast weight (flattened), bias, silu', a: [2, 3, 17, 24], b: [24, 40], bias: true, act: 'silu' },
  { name: 'broadcast weight with transA (dB sums the batch in-kernel), frozen a', a: [3, 24, 17], b: [24, 33], transA: true, frozen: 'a' },
  { name: 'broadcast input (dA sums the batch in-kernel), frozen b', a: [17, 24], b: [3, 24, 40], frozen: 'b' },
  { name: 'residual, alpha, gelu', a: [33, 16], b: [16, 65], residual: true, alpha: 0.5, act: 'gelu_tanh' },
  { name: 'multi-tile 70x130x40 with bias', a: [70, 40], b: [40, 130], bias: true },
  { name: 'bias over 600 rows (multi-pass column sum)', a: [600, 8], b: [8, 5], bias: true },
  // Every edge a whole 4x8 block: v3's loads without bounds checks (EXACT), each transpose, batched and broadcast.
  { name: 'whole blocks 36x24x16, transB, bias', a: [36, 16], b: [24, 16], transB: true, bias: true },
  { name: 'whole blocks, batched transA', a: [2, 3, 12, 8], b: [2, 3, 12, 16], transA: true },
  { name: 'whole blocks, broadcast weight, gelu (dB sums the batch in-kernel)', a: [3, 8, 16], b: [16, 32], act: 'gelu_tanh' },
];

const size = (s: number[]) => s.reduce((x, y) => x * y, 1);

/** fp32 error grows like sqrt(length) of the sums; the harness tolerances hold for sums of about 16 terms. */
function scaled(tol: Tolerance, length: number): Tolerance {
  return { atol: tol.atol * Math.max(1, Math.sqrt(length / 16)), rtol: tol.rtol };
}

async function runCase(variant: MatmulVariant | 'auto', c: Case, seed: number): Promise<void> {
  const e = await getEngine();
  const d = matmulRefDims(c.a, c.b, c.transA, c.transB);
  const outSize = d.batch * d.M * d.N;
  const A = f32(rand(size(c.a), seed));
  const B = f32(rand(size(c.b), seed + 1));
  const bias = c.bias ? f32(rand(d.N, seed + 2)) : null;
  const residual = c.residual ? f32(rand(outSize, seed + 3)) : null;
  const W = f32(rand(outSize, seed + 4));
  const ropts: MatmulRefOptions = { transA: c.transA, transB: c.transB, bias, residual, alpha: c.alpha, activation: c.act };

  const before = e.gpu.pool.bytesInUse;
  const a = c.frozen === 'a' ? e.keep(e.fromArray(A, c.a, 'a')) : e.parameter(A, c.a, 'a');
  const b = c.frozen === 'b' ? e.keep(e.fromArray(B, c.b, 'b')) : e.parameter(B, c.b, 'b');
  const tb = bias ? e.parameter(bias, [d.N], 'bias') : null;
  const tr = residual ? e.parameter(residual, d.outShape, 'residual') : null;
  const leaves: Tensor[] = [a, b, ...(tb ? [tb] : []), ...(tr ? [tr] : [])];

  const y = matmulWith(variant, a, b, { transA: c.transA, transB: c.transB, bias: tb, residual: tr, alpha: c.alpha, activation: c.act });
  expect(y.shape).toEqual(d.outShape);
  const ref = matmulRef(A, c.a, B, c.b, ropts);
  expectClose(await y.toArray(), ref.y, scaled(FWD, d.K), `${variant} ${c.name}: y`);

  const w = e.fromArray(W, y.shape, 'w');
  backward(y, w);
  for (const t of [y, w]) t.release();
  const g = matmulRefBackward(A, c.a, B, c.b, ropts, W);
  const check = async (t: Tensor, expected: Float64Array, length: number, what: string) => {
    expect(t.grad, `${what} has a gradient`).not.toBe(null);
    expectClose(await t.grad!.toArray(), expected, scaled(GRAD, length), `${variant} ${c.name}: ${what}`);
  };
  if (c.frozen === 'a') expect(a.grad).toBe(null);
  else await check(a, g.da, d.N * (d.aBatched ? 1 : d.batch), 'da');
  if (c.frozen === 'b') expect(b.grad).toBe(null);
  else await check(b, g.db, d.M * (d.bBatched ? 1 : d.batch), 'db');
  if (tb) await check(tb, g.dbias, d.M * d.batch, 'dbias');
  if (tr) await check(tr, g.dresidual, 1, 'dresidual');
  for (const t of leaves) t.release();
  // Every temporary (pre-activation, gradient of the pre-activation, partial sums, scratch) went back to the pool.
  expect(e.gpu.pool.bytesInUse).toBe(before);
}

for (const variant of MATMUL_VARIANTS) {
  describe(`matmul ${variant} vs float64 reference (forward and gradients)`, () => {
    CASES.forEach((c, i) => it(c.name, () => runCase(variant, c, 100 * i + 1)));
  });
}

describe('matmul variant choice and cost', () => {
  it('auto picks naive for tiny problems and tiled otherwise, with the same results', async () => {
    expect(pickVariant(8, 8, 8)).toBe('naive');
    expect(pickVariant(67, 33, 19)).toBe('tiled');
    expect(pickVariant(4096, 16, 1536)).toBe('tiled'); // LoRA's rank-16 product
    await runCase('auto', CASES[0], 7);
    await runCase('auto', CASES[2], 8);
  });

  it('matmulCost counts 2·M·N·K·batch FLOPs and the compulsory bytes', () => {
    const c = matmulCost([2, 3, 17, 24], [24, 40], { bias: true });
    expect(c.flops).toBe(2 * 6 * 17 * 40 * 24);
    expect(c.bytes).toBe(4 * (6 * 17 * 24 + 24 * 40 + 6 * 17 * 40 + 40));
    expect(matmulCost([5, 7], [9, 7], { transB: true, residual: true, storePre: true }).bytes).toBe(4 * (35 + 63 + 3 * 45));
  });

  it('without grad: no tape node, no pre-activation kept, same values', async () => {
    const e = await getEngine();
    const A = f32(rand(5 * 6, 11));
    const B = f32(rand(6 * 4, 12));
    const a = e.parameter(A, [5, 6], 'a');
    const b = e.parameter(B, [6, 4], 'b');
    const before = e.gpu.pool.bytesInUse;
    const y = e.noGrad(() => matmul(a, b, { activation: 'silu' }));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBe(null);
    expect(e.gpu.pool.bytesInUse - before).toBe(y.store.buffer.bytes); // just the output
    expectClose(await y.toArray(), matmulRef(A, [5, 6], B, [6, 4], { activation: 'silu' }).y, FWD, 'noGrad y');
    for (const t of [y, a, b]) t.release();
  });
});

describe('matmul reference gradients vs finite differences', () => {
  const configs: Array<{ name: string; a: number[]; b: number[]; opts: Omit<MatmulRefOptions, 'bias' | 'residual'>; bias?: boolean; residual?: boolean }> = [
    { name: 'plain', a: [3, 4], b: [4, 2], opts: {} },
    { name: 'transA transB, batched, bias, gelu, alpha', a: [2, 4, 3], b: [2, 2, 4], opts: { transA: true, transB: true, alpha: 0.7, activation: 'gelu_tanh' }, bias: true },
    { name: 'broadcast weight, residual, silu', a: [2, 3, 4], b: [4, 5], opts: { activation: 'silu' }, residual: true },
    { name: 'broadcast input, transB', a: [3, 4], b: [2, 5, 4], opts: { transB: true } },
  ];
  for (const cfg of configs) {
    it(cfg.name, () => {
      const d = matmulRefDims(cfg.a, cfg.b, cfg.opts.transA, cfg.opts.transB);
      const out = d.batch * d.M * d.N;
      const A = rand(size(cfg.a), 21);
      const B = rand(size(cfg.b), 22);
      const bias = cfg.bias ? rand(d.N, 23) : null;
      const residual = cfg.residual ? rand(out, 24) : null;
      const W = rand(out, 25);
      const loss = (a: Float64Array, b: Float64Array, bi: Float64Array | null, r: Float64Array | null) =>
        dot(matmulRef(a, cfg.a, b, cfg.b, { ...cfg.opts, bias: bi, residual: r }).y, W);
      const g = matmulRefBackward(A, cfg.a, B, cfg.b, { ...cfg.opts, bias, residual }, W);
      const tol = { atol: 1e-7, rtol: 1e-6 };
      expectClose(g.da, finiteDiff((a) => loss(a, B, bias, residual), A), tol, `${cfg.name}: da`);
      expectClose(g.db, finiteDiff((b) => loss(A, b, bias, residual), B), tol, `${cfg.name}: db`);
      if (bias) expectClose(g.dbias, finiteDiff((bi) => loss(A, B, bi, residual), bias), tol, `${cfg.name}: dbias`);
      if (residual) expectClose(g.dresidual, finiteDiff((r) => loss(A, B, bias, r), residual), tol, `${cfg.name}: dresidual`);
    });
  }
});

describe('matmul shape errors', () => {
  it('name the op, both shapes and the mismatch', async () => {
    const e = await getEngine();
    const t = (shape: number[]) => e.zeros(shape);
    e.scope(() => {
      expect(() => matmul(t([2, 3]), t([4, 5]))).toThrow('matmul: a [2, 3] and b [4, 5]: inner dimensions 3 and 4 differ');
      expect(() => matmul(t([2, 3]), t([5, 4]), { transB: true })).toThrow('matmul: a [2, 3] and b [5, 4] (transB): inner dimensions 3 and 4 differ');
      expect(() => matmul(t([3, 2]), t([4, 5]), { transA: true })).toThrow('matmul: a [3, 2] (transA) and b [4, 5]: inner dimensions 3 and 4 differ');
      expect(() => matmul(t([3]), t([3, 2]))).toThrow('matmul: a [3] and b [3, 2]: both need at least 2 dimensions');
      expect(() => matmul(t([2, 2, 3]), t([5, 3, 4]))).toThrow(
        'matmul: a [2, 2, 3] and b [5, 3, 4]: batch dimensions [2] and [5] differ (they must be equal, or one side must have none)',
      );
      expect(() => matmul(t([2, 3]), t([3, 4]), { bias: t([3]) })).toThrow('matmul: a [2, 3] and b [3, 4]: bias [3] must be [4]');
      expect(() => matmul(t([2, 3]), t([3, 4]), { residual: t([4, 2]) })).toThrow('matmul: a [2, 3] and b [3, 4]: residual [4, 2] must match the output [2, 4]');
      expect(() => matmul(t([2, 3]), t([3, 4]), { activation: 'relu' as Activation })).toThrow("unknown activation 'relu'");
    });
  });
});
