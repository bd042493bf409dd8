// A full fine-tune of the tiny base back as a LoRA (the code behind extract-lora and the studio's import): deltas of
// rank ≤ the chosen rank come back exactly, a full-rank delta keeps the share its top singular values hold (checked
// against an independent float64 SVD), BF16 and sharded inputs work, and fine-tunes of anything else are refused
// from their headers, naming the tensor.
import { describe, expect, it } from 'vitest';
import { writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { bytesSource } from '../../src/codec/safetensors-chunked';
import { builtinVocabulary } from '../../src/encode/builtin-vocab';
import { randomBase } from '../../src/io/base-runtime';
import { openTunedTransformer, TunedInputError, type TensorReader } from '../../src/io/tuned-transformer';
import { extractLoraFromTuned, summarizeEnergy } from '../../src/io/tuned-to-lora';
import { PRESETS } from '../../src/model/config';
import { ATTENTION_TARGETS, loraModuleNames, type LoraSet } from '../../src/model/lora';
import { orthonormalise } from '../../src/model/lora-extract';
import { parameterSpecs } from '../../src/model/params';
import type { Engine } from '../../src/tensor/engine';
import { getEngine, rand } from '../tensor/harness';
import { asTunedFiles, bf16File, lowRankDelta, shardedFiles, tunedTensors } from './tuned-fixtures';

const CONFIG = PRESETS.tiny.config;
const ATTN = [...ATTENTION_TARGETS];

async function tinyBase(engine: Engine) {
  const base = randomBase(engine, 'tiny', builtinVocabulary(8), 3);
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of base.model.weights) tensors.set(name, { shape: t.shape, data: await t.toArray() });
  return { base, tensors };
}

function single(bytes: Uint8Array, name = 'tuned.safetensors'): Promise<TensorReader> {
  return openTunedTransformer([{ path: name, source: bytesSource(bytes, name) }]);
}

function extract(engine: Engine, tuned: TensorReader, tensors: Map<string, TensorToWrite>, rank: number, targets = ATTN) {
  return extractLoraFromTuned(engine, CONFIG, tuned, 'tiny-random-3', { rank, targets, name: 'extracted', baseWeight: async (n) => Float32Array.from(tensors.get(n)!.data) });
}

/** scale·B·A of one module, in float64. */
async function product(set: LoraSet, module: string): Promise<Float64Array> {
  const m = set.modules.get(module)!;
  const [A, B] = [await m.A.toArray(), await m.B.toArray()];
  const [r, inF] = m.A.shape;
  const out = m.B.shape[0];
  const W = new Float64Array(out * inF);
  for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) for (let i = 0; i < inF; i++) W[o * inF + i] += set.scale * B[o * r + j] * A[j * inF + i];
  return W;
}

/** Singular values of W [m, n] (m ≥ n) in float64 by one-sided Jacobi: independent of the code under test. */
function singularValues(W: Float64Array, m: number, n: number): number[] {
  const a = Float64Array.from(W);
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        let [alpha, beta, gamma] = [0, 0, 0];
        for (let i = 0; i < m; i++) {
          alpha += a[i * n + p] ** 2;
          beta += a[i * n + q] ** 2;
          gamma += a[i * n + p] * a[i * n + q];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const [x, y] = [a[i * n + p], a[i * n + q]];
          a[i * n + p] = c * x - s * y;
          a[i * n + q] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const sv: number[] = [];
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += a[i * n + j] ** 2;
    sv.push(Math.sqrt(s));
  }
  return sv.sort((x, y) => y - x);
}

/** Random orthonormal columns Q [m, k]: uniform noise, orthonormalised. */
function orthonormal(m: number, k: number, seed: number): Float64Array {
  const Q = rand(m * k, seed);
  orthonormalise(Q, m, k);
  return Q;
}

/** U·diag(sigma)·Vᵀ [out, in] with random orthonormal U, V: singular values known in advance. */
function withSpectrum(out: number, inF: number, sigma: number[], seed: number): Float64Array {
  const k = sigma.length;
  const [U, V] = [orthonormal(out, k, seed), orthonormal(inF, k, seed + 1)];
  const W = new Float64Array(out * inF);
  for (let o = 0; o < out; o++) for (let j = 0; j < k; j++) for (let i = 0; i < inF; i++) W[o * inF + i] += U[o * k + j] * sigma[j] * V[i * k + j];
  return W;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('a full fine-tune as a LoRA', () => {
  it('deltas of rank 2 and 4 come back exactly at rank 4 (every module, 2 shards): energy kept 1, B·A = ΔW', { timeout: 60_000 }, async () => {
    const engine = await getEngine();
    const { base, tensors } = await tinyBase(engine);
    const modules = loraModuleNames(CONFIG, ATTN);
    const deltas = new Map(modules.map((m, k) => [`${m.name}.weight`, lowRankDelta(m.out, m.in, k % 2 ? 4 : 2, 10 + k)]));
    const tuned = tunedTensors(tensors, deltas);
    const reader = await openTunedTransformer(asTunedFiles(shardedFiles(tuned, 2)));
    const progress: string[] = [];
    const { set, modules: energy } = await extractLoraFromTuned(engine, CONFIG, reader, 'tiny-random-3', {
      rank: 4,
      targets: ATTN,
      name: 'x',
      baseWeight: (n) => base.model.weights.get(n)!.toArray(),
      onModule: (done, total, module) => void progress.push(`${done}/${total} ${module}`),
    });
    expect(energy.map((e) => e.module)).toEqual(modules.map((m) => m.name));
    expect(progress).toHaveLength(modules.length);
    expect(progress[0]).toBe(`1/${modules.length} ${modules[0].name}`);
    for (const e of energy) expect(e.energyKept, e.module).toBeGreaterThan(1 - 1e-9);
    for (const m of modules) expect(maxAbs(await product(set, m.name), deltas.get(`${m.name}.weight`)!), m.name).toBeLessThan(1e-5);
    const summary = summarizeEnergy(energy, 4);
    expect(summary).toMatchObject({ rank: 4, modules: modules.length });
    expect(summary.min).toBeGreaterThan(1 - 1e-9);
    set.release();
    base.model.release();
  });

  it('a full-rank delta: the energy reported is what the LoRA keeps, near the float64 SVD optimum; exact on a decaying spectrum', { timeout: 60_000 }, async () => {
    const engine = await getEngine();
    const { tensors } = await tinyBase(engine);
    const name = 'transformer_blocks.0.attn.to_q';
    const { out, in: inF } = loraModuleNames(CONFIG, ['attn.to_q'])[0];
    // A flat spectrum (uniform noise: the randomized SVD's hardest case) and a known decaying one, U·diag(0.7^i)·Vᵀ.
    const sigma = Array.from({ length: inF }, (_, i) => 0.3 * 0.7 ** i);
    const cases = [
      { label: 'flat', delta: rand(out * inF, 77, -0.05, 0.05), within: 0.05 },
      { label: 'decaying', delta: withSpectrum(out, inF, sigma, 91), within: 1e-6 },
    ];
    for (const { label, delta: intended, within } of cases) {
      const tuned = tunedTensors(tensors, new Map([[`${name}.weight`, intended]]));
      // The delta as the extraction sees it: float32 tuned minus float32 base.
      const t = tuned.get(`${name}.weight`)!.data;
      const w = tensors.get(`${name}.weight`)!.data;
      const delta = Float64Array.from({ length: out * inF }, (_, i) => t[i] - w[i]);
      const sv = singularValues(delta, out, inF);
      if (label === 'decaying') sv.slice(0, 10).forEach((x, i) => expect(x / sigma[i]).toBeCloseTo(1, 4)); // the reference SVD itself (up to float32 rounding)
      const total = sv.reduce((s, x) => s + x * x, 0);
      for (const rank of [4, 16]) {
        const what = `${label}, rank ${rank}`;
        const { set, modules } = await extract(engine, await single(writeSafetensors(tuned)), tensors, rank, ['attn.to_q']);
        const optimum = sv.slice(0, rank).reduce((s, x) => s + x * x, 0) / total;
        const kept = modules.find((m) => m.module === name)!.energyKept;
        // The share reported is exactly the share the LoRA's B·A holds: 1 − its residual.
        const back = await product(set, name);
        const residual = delta.reduce((s, v, i) => s + (v - back[i]) ** 2, 0) / total;
        expect(Math.abs(kept - (1 - residual)), what).toBeLessThan(1e-5);
        expect(kept, what).toBeLessThanOrEqual(optimum + 1e-9); // no rank-r approximation keeps more (Eckart–Young)
        expect(Math.abs(kept - optimum) / optimum, `${what}: kept ${kept}, optimum ${optimum}`).toBeLessThan(within);
        // Modules left as the base: nothing to keep, zero factors.
        expect(modules.find((m) => m.module === 'transformer_blocks.1.attn.to_q')!.energyKept).toBe(1);
        expect((await set.modules.get('transformer_blocks.1.attn.to_q')!.B.toArray()).every((x) => x === 0)).toBe(true);
        set.release();
      }
    }
  });

  it('a BF16 fine-tune: the delta comes back up to BF16 rounding', { timeout: 60_000 }, async () => {
    const engine = await getEngine();
    const { tensors } = await tinyBase(engine);
    const name = 'transformer_blocks.1.attn.to_v';
    const { out, in: inF } = loraModuleNames(CONFIG, ['attn.to_v'])[0];
    const d = lowRankDelta(out, inF, 2, 5, 0.2);
    const { set, modules } = await extract(engine, await single(bf16File(tunedTensors(tensors, new Map([[`${name}.weight`, d]])))), tensors, 2, ['attn.to_v']);
    // BF16 rounds the base's untouched weights too (8-bit mantissa): a small full-rank change the rank drops.
    const kept = modules.find((m) => m.module === name)!.energyKept;
    expect(kept).toBeGreaterThan(0.99);
    expect(kept).toBeLessThan(1);
    const scale = Math.max(...Array.from(d, Math.abs));
    expect(maxAbs(await product(set, name), d)).toBeLessThan(0.02 * scale);
    set.release();
  });

  it('refuses another architecture, a missing module, a non-float dtype and NaN, saying what was wrong', { timeout: 60_000 }, async () => {
    const engine = await getEngine();
    const { tensors } = await tinyBase(engine);
    const refusal = async (bytes: Uint8Array, targets = ATTN): Promise<TunedInputError> => {
      const err = await extract(engine, await single(bytes), tensors, 4, targets).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TunedInputError);
      return err as TunedInputError;
    };
    // The built-in studio-s base's shapes: a fine-tune of another model.
    const other = new Map(parameterSpecs(PRESETS['studio-s'].config).map((s) => [s.name, { shape: s.shape, data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)) }]));
    const e1 = await refusal(writeSafetensors(other));
    expect(e1.message).toMatch(/^\S+ is \[[\d, ]+\] in tuned\.safetensors and \[[\d, ]+\] in the base tiny-random-3: the fine-tune is of another model/);
    expect(e1.advice).toMatch(/Pick a fine-tune of the base loaded now \(tiny-random-3\)/);

    const extraBlock = new Map(tensors).set('transformer_blocks.5.attn.to_q.weight', { shape: [1], data: [0] });
    expect((await refusal(writeSafetensors(extraBlock))).message).toMatch(/has 6 transformer blocks and the base tiny-random-3 2/);

    const partial = new Map([...tensors].filter(([n]) => !n.includes('attn.to_k')));
    const count = loraModuleNames(CONFIG, ATTN).length; // the last block has no to_add_out (context_pre_only)
    expect((await refusal(writeSafetensors(partial))).message).toContain(`has no transformer_blocks.0.attn.to_k.weight (and 1 more of the ${count} weights to extract)`);

    const nan = new Map(tensors).set('transformer_blocks.0.attn.to_v.weight', { ...tensors.get('transformer_blocks.0.attn.to_v.weight')!, data: Float32Array.from(tensors.get('transformer_blocks.0.attn.to_v.weight')!.data, (x, i) => (i === 7 ? Number.NaN : x)) });
    const e4 = await refusal(writeSafetensors(nan));
    expect(e4.message).toMatch(/transformer_blocks\.0\.attn\.to_v\.weight holds NaN at index 7 in tuned\.safetensors/);
    expect(e4.advice).toMatch(/diverged or the file is damaged/);

    // An integer weight: named, refused before anything is computed.
    const ints = writeSafetensors(tensors);
    const text = new TextDecoder().decode(ints);
    const at = text.indexOf('"transformer_blocks.0.attn.to_q.weight":{"dtype":"F32"') + '"transformer_blocks.0.attn.to_q.weight":{"dtype":"'.length;
    ints.set(new TextEncoder().encode('I32'), at);
    expect((await refusal(ints)).message).toMatch(/transformer_blocks\.0\.attn\.to_q\.weight is I32 in tuned\.safetensors; F32, F16 and BF16 weights are read/);
  });
});
