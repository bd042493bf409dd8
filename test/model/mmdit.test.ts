import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/config';
import { MMDiT } from '../../src/model/mmdit';
import { LoraSet, DEFAULT_LORA } from '../../src/model/lora';
import { parameterCount } from '../../src/model/params';
import { backward } from '../../src/tensor/autograd';
import { sum } from '../../src/tensor/ops/reduce';
import { FWD, expectClose, getEngine, rand } from '../tensor/harness';

const tiny = PRESETS.tiny.config;

async function inputs(B: number, seed = 1) {
  const e = await getEngine();
  const c = tiny;
  const H = c.sample_size;
  return {
    x: e.fromArray(rand(B * c.in_channels * H * H, seed), [B, c.in_channels, H, H], 'x'),
    timestep: e.fromArray(Array.from({ length: B }, (_, i) => 100 + 300 * i), [B], 't'),
    context: e.fromArray(rand(B * 5 * c.joint_attention_dim, seed + 1), [B, 5, c.joint_attention_dim], 'ctx'),
    pooled: e.fromArray(rand(B * c.pooled_projection_dim, seed + 2), [B, c.pooled_projection_dim], 'pooled'),
  };
}

/** adaLN-Zero and the zero output layer make a fresh model trivial; random values make every path matter. */
async function perturb(model: MMDiT, scale: number, seed = 99) {
  model.writeZeroInitLayers((n, i) => rand(n, seed + i, -scale, scale));
}

describe('MMDiT', () => {
  it('tiny forward produces a finite velocity of the input shape, and backward reaches every trainable weight', async () => {
    const e = await getEngine();
    const model = MMDiT.init(e, tiny, 7);
    // adaLN-Zero starts every block as identity and proj_out at zero: perturb so gradients are non-trivial.
    await perturb(model, 0.1);
    model.setTrainable(true);
    const inp = await inputs(2);
    const v = e.scope(() => {
      const out = model.forward(inp);
      backward(sum(out));
      return out.detach();
    });
    expect(v.shape).toEqual([2, 3, 8, 8]);
    const vals = await v.toArray();
    expect(vals.every(Number.isFinite)).toBe(true);
    const missing = model.parameters().filter((p) => !p.grad).map((p) => p.name);
    expect(missing).toEqual([]);
    expect(parameterCount(tiny)).toBeGreaterThan(0);
  });

  it('a LoRA with B = 0 equals the base; merged equals unmerged; several adapters add', async () => {
    const e = await getEngine();
    const model = MMDiT.init(e, tiny, 3);
    await perturb(model, 0.3);
    const inp = await inputs(1, 5);
    const run = () => e.scope(() => model.forward(inp).detach());
    const base = await run().toArray();
    const lora = LoraSet.create(e, 'sft', tiny, { ...DEFAULT_LORA, rank: 2, alpha: 2 }, 11);
    model.adapters = [lora];
    expectClose(await run().toArray(), base, { atol: 0, rtol: 0 }, 'B = 0');
    for (const m of lora.modules.values()) e.fill(m.B, 0.5);
    const withLora = await run().toArray();
    expect(Math.max(...withLora.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-2);
    model.adapters = [];
    lora.mergeInto(model.weights, 1);
    expectClose(await run().toArray(), withLora, FWD, 'merged vs unmerged');
    lora.mergeInto(model.weights, -1);
    expectClose(await run().toArray(), base, FWD, 'unmerged back to base');
  });

  it('rejects wrong inputs with errors that name the tensor', async () => {
    const e = await getEngine();
    const model = MMDiT.init(e, tiny, 1);
    const inp = await inputs(1);
    const bad = e.zeros([1, 4, 8, 8]);
    expect(() => model.forward({ ...inp, x: bad })).toThrow(/x \[1, 4, 8, 8\] has 4 channels, the model takes 3/);
    const ctx = e.zeros([1, 5, 7]);
    expect(() => model.forward({ ...inp, context: ctx })).toThrow(/context \[1, 5, 7\] must be \[1, tokens, 32\]/);
    const w = model.weights;
    const copy = new Map(w);
    copy.delete('transformer_blocks.1.attn.to_q.weight');
    expect(() => new MMDiT(e, tiny, copy)).toThrow(/missing weights transformer_blocks.1.attn.to_q.weight/);
  });
});
