// The analytic FLOP count (src/model/flops.ts) against (1) a direct sum over the linear layers, (2) the GEMM and
// attention work the engine actually dispatches for a forward, a LoRA training pass and a full training pass
// (read from every dispatch's kernel and shape), and the parameter count against SD3.5-Medium's real one.
import { describe, expect, it } from 'vitest';
import type { Dispatch } from '../../src/gpu/runtime';
import { PRESETS, type SD3Config } from '../../src/model/config';
import { linearLayers, mmditForwardFlops, trainingPassFlops, type ForwardShape, type TrainMode } from '../../src/model/flops';
import { trainStepFlops } from '../../src/train/methods';
import { ATTENTION_TARGETS, LoraSet } from '../../src/model/lora';
import { MMDiT } from '../../src/model/mmdit';
import { parameterCount, parameterSpecs } from '../../src/model/params';
import { DEFAULT_TRAIN } from '../../src/train/config';
import { backward } from '../../src/tensor/autograd';
import { getEngine, rand } from '../tensor/harness';
import { MINI_SD35 } from './fixtures';

const tiny = PRESETS.tiny.config;

/** Rows a linear layer sees: image tokens, text tokens, or one conditioning vector per sample. */
function rowsOf(module: string, s: ForwardShape, c: SD3Config): number {
  const N = (s.height / c.patch_size) * (s.width / c.patch_size);
  if (/^time_text_embed|norm1\.linear|norm1_context\.linear|^norm_out/.test(module)) return s.batch;
  if (/^context_embedder|add_[qkv]_proj|to_add_out|ff_context/.test(module)) return s.batch * s.tokens;
  return s.batch * N;
}

/** GEMM and attention FLOPs of the dispatches recorded while `fn` runs, from their kernels and shapes. */
async function dispatched(fn: () => void): Promise<{ gemm: number; attention: number }> {
  const e = await getEngine();
  const counts = { gemm: 0, attention: 0 };
  const original = e.gpu.dispatch.bind(e.gpu);
  e.gpu.dispatch = (d: Dispatch) => {
    const name = d.kernel.name;
    if (name.startsWith('matmul_naive') || name.startsWith('matmul_tiled')) {
      // detail: "<variant> [<batch>[(sum)]x]MxNxK[ tA][ tB]" (ops/matmul.ts gemm)
      const m = /^\w+ (?:(\d+)(?:\(sum\))?x)?(\d+)x(\d+)x(\d+)/.exec(d.detail ?? '');
      if (!m) throw new Error(`unparsed matmul detail ${d.detail}`);
      counts.gemm += 2 * Number(m[1] ?? 1) * Number(m[2]) * Number(m[3]) * Number(m[4]);
    } else if (name.startsWith('attention_')) {
      // detail: "q[B, Tq, C] k[B, Tk, C] heads H" (ops/attention.ts); per entry point, see src/model/flops.ts.
      const m = /^q\[(\d+), (\d+), (\d+)\] k\[\d+, (\d+), \d+\]/.exec(d.detail ?? '');
      if (!m) throw new Error(`unparsed attention detail ${d.detail}`);
      const [B, tq, C, tk] = [1, 2, 3, 4].map((i) => Number(m[i]));
      const perScore = { main: 4, dq: 6, dkdv: 8 }[d.kernel.entryPoint ?? 'main' as string];
      counts.attention += d.kernel.entryPoint === 'rowdot' ? 2 * B * tq * C : perScore! * B * tq * tk * C;
    }
    original(d);
  };
  try {
    fn();
    await e.gpu.sync();
  } finally {
    delete (e.gpu as Partial<Pick<typeof e.gpu, 'dispatch'>>).dispatch; // back to the prototype's method
  }
  return counts;
}

async function inputs(c: SD3Config, s: ForwardShape) {
  const e = await getEngine();
  return {
    x: e.fromArray(rand(s.batch * c.in_channels * s.height * s.width, 1), [s.batch, c.in_channels, s.height, s.width], 'x'),
    timestep: e.fromArray(Array.from({ length: s.batch }, (_, i) => 100 + 300 * i), [s.batch], 't'),
    context: e.fromArray(rand(s.batch * s.tokens * c.joint_attention_dim, 2), [s.batch, s.tokens, c.joint_attention_dim], 'ctx'),
    pooled: e.fromArray(rand(s.batch * c.pooled_projection_dim, 3), [s.batch, c.pooled_projection_dim], 'pooled'),
  };
}

describe('MMDiT FLOPs', () => {
  it('forward linear FLOPs equal the direct sum over the linear layers; dW is all of it (full) or skipped (LoRA)', () => {
    for (const [c, s] of [
      [tiny, { batch: 3, height: 8, width: 8, tokens: 5 }],
      [MINI_SD35, { batch: 2, height: 8, width: 4, tokens: 3 }],
      [PRESETS['sd3.5-medium'].config, { batch: 1, height: 128, width: 128, tokens: 333 }],
    ] as const) {
      const direct = linearLayers(c).reduce((sum, l) => sum + 2 * rowsOf(l.module, s, c) * l.in * l.out, 0);
      expect(mmditForwardFlops(c, s).linear).toBe(direct);
      const full = trainingPassFlops(c, s, 'full');
      expect([full.linearDw, full.skippedDw]).toEqual([direct, 0]);
      const lora = trainingPassFlops(c, s, { rank: 4, targets: [...ATTENTION_TARGETS] });
      expect([lora.linearDw, lora.skippedDw]).toEqual([0, direct]);
      expect(lora.linearDx).toBe(lora.backward.linear);
      expect(lora.linearDx).toBeLessThan(direct); // no dX for layers fed by data or the conditioning path
    }
  });

  it('full training ≈ 3× a forward; LoRA training ≈ 2× minus the skipped dW GEMMs', () => {
    const c = PRESETS['studio-s'].config;
    const s = { batch: 4, height: 32, width: 32, tokens: 16 };
    const fwd = mmditForwardFlops(c, s).total;
    const full = trainingPassFlops(c, s, 'full');
    const lora = trainingPassFlops(c, s, { rank: 4, targets: [...ATTENTION_TARGETS] });
    expect(full.total / fwd).toBeGreaterThan(2.9);
    expect(full.total / fwd).toBeLessThan(3.4); // above 3 by the attention recompute
    // Without the second S and dP, the attention backward is attentionFlops' 2.5× (+ the small rowdot).
    const attnModel = (full.backward.attention - full.attentionRecompute) / full.forward.attention;
    expect(attnModel).toBeGreaterThan(2.5);
    expect(attnModel).toBeLessThan(2.52);
    // What LoRA saves (the frozen weights' dW) minus what it adds (its own A/B GEMMs, ~2r/width of a target).
    expect(lora.total).toBeLessThan(full.total - lora.skippedDw + lora.forward.lora + lora.backward.lora + 1);
    expect(lora.total).toBeLessThan(full.total);
    expect((lora.total - lora.forward.total) / fwd).toBeLessThan(2);
    // A SOAR step is the SFT pass plus a no-grad forward and K aux passes per sample.
    const sft = trainStepFlops(c, s, { ...DEFAULT_TRAIN, method: 'sft' });
    const soar = trainStepFlops(c, s, { ...DEFAULT_TRAIN, trajectory_length: 2 });
    expect(sft.passes.map((p) => p.batch)).toEqual([4]);
    expect(soar.passes.map((p) => [p.batch, p.backward])).toEqual([[4, true], [4, false], [8, true]]);
    expect(soar.total).toBeCloseTo(sft.total + mmditForwardFlops(c, s, { rank: 4, targets: DEFAULT_TRAIN.lora_targets }).total + trainStepFlops(c, { ...s, batch: 8 }, { ...DEFAULT_TRAIN, method: 'sft' }).total, -3);
  });

  describe.each([
    ['tiny', tiny, { batch: 2, height: 8, width: 8, tokens: 5 }],
    ['SD3.5-Medium miniature', MINI_SD35, { batch: 1, height: 8, width: 8, tokens: 3 }],
  ] as const)('%s: the count equals the GEMM and attention work the engine dispatches', (_n, c, s) => {
    const cases: Array<[string, TrainMode]> = [
      ['inference', 'none'],
      ['LoRA (attention targets)', { rank: 2, targets: [...ATTENTION_TARGETS] }],
      ['LoRA (MLP and attn2 targets)', { rank: 3, targets: ['ff.net.2', 'ff_context.net.0.proj', 'attn2.to_k', 'attn.add_v_proj'] }],
      ['full', 'full'],
    ];
    it.each(cases)('%s', async (_m, mode) => {
      const e = await getEngine();
      const model = MMDiT.init(e, c, 4);
      const inp = await inputs(c, s);
      const lora = typeof mode === 'object' ? LoraSet.create(e, 'l', c, { rank: mode.rank, alpha: 1, targets: [...mode.targets] }, 5) : null;
      if (lora) model.adapters = [lora];
      model.setTrainable(mode === 'full');
      const counted = await dispatched(() =>
        e.scope(() => {
          if (mode === 'none') return void e.noGrad(() => model.forward(inp));
          const v = model.forward(inp);
          backward(v, e.fromArray(rand(v.size, 6), v.shape));
        }),
      );
      const f = trainingPassFlops(c, s, mode);
      expect(counted.gemm).toBe(f.forward.linear + f.forward.lora + f.backward.linear + f.backward.lora);
      expect(counted.attention).toBe(f.forward.attention + f.backward.attention);
      lora?.release();
      model.release();
      for (const t of Object.values(inp)) t.release();
    });
  });
});

describe('parameter count', () => {
  it('tiny: every trainable parameter belongs to a linear layer (weight + bias)', () => {
    expect(parameterCount(tiny)).toBe(linearLayers(tiny).reduce((n, l) => n + l.out * l.in + l.out, 0));
    expect(parameterCount(tiny, false) - parameterCount(tiny)).toBe(tiny.pos_embed_max_size ** 2 * 64); // the position table
  });

  it("SD3.5-Medium: 2,469,663,936 values in 909 tensors, as the real transformer's safetensors", () => {
    // 2.47e9 including the 384²·1536 sin-cos table stored as pos_embed.pos_embed (a buffer, not trained).
    const c = PRESETS['sd3.5-medium'].config;
    expect(parameterSpecs(c).length).toBe(909);
    expect(parameterCount(c, false)).toBe(2_469_663_936);
    expect(parameterCount(c)).toBe(2_469_663_936 - 384 * 384 * 1536);
  });
});
