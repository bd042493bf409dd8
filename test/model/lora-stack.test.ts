// Stacked LoRAs: one adapter of the summed rank that the model applies exactly as it applies the parts together
// (a run started from another run's LoRA exports this way), with different ranks, scales and target sets.
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/model/config';
import { ATTENTION_TARGETS, LoraSet, MLP_TARGETS } from '../../src/model/lora';
import { stackLoras } from '../../src/model/lora-stack';
import { MMDiT } from '../../src/model/mmdit';
import { expectClose, FWD, getEngine, rand } from '../tensor/harness';
import { randomizeSignalPaths } from './fixtures';

describe('stackLoras', () => {
  it('applies as its parts applied together', async () => {
    const e = await getEngine();
    const c = PRESETS.tiny.config;
    const model = MMDiT.init(e, c, 4);
    await randomizeSignalPaths(model, 4);
    const a = LoraSet.create(e, 'soar', c, { rank: 2, alpha: 4, targets: [...ATTENTION_TARGETS] }, 1);
    const b = LoraSet.create(e, 'grpo', c, { rank: 3, alpha: 1.5, targets: ['attn.to_q', ...MLP_TARGETS] }, 2);
    let k = 50;
    for (const s of [a, b]) for (const m of s.modules.values()) e.gpu.write(m.B.buffer, Float32Array.from(rand(m.B.size, k++, -0.5, 0.5)));
    const stacked = await stackLoras(e, 'grpo', [a, b]);
    expect(stacked.config).toMatchObject({ rank: 5, alpha: 5 });
    expect(stacked.modules.size).toBe(new Set([...a.modules.keys(), ...b.modules.keys()]).size);
    const H = c.sample_size;
    const inputs = {
      x: e.fromArray(rand(2 * c.in_channels * H * H, 7), [2, c.in_channels, H, H]),
      timestep: e.fromArray([300, 800], [2]),
      context: e.fromArray(rand(2 * 5 * c.joint_attention_dim, 8), [2, 5, c.joint_attention_dim]),
      pooled: e.fromArray(rand(2 * c.pooled_projection_dim, 9), [2, c.pooled_projection_dim]),
    };
    const both = await e.scope(() => model.forward(inputs, [a, b])).toArray();
    const one = await e.scope(() => model.forward(inputs, [stacked])).toArray();
    const base = await e.scope(() => model.forward(inputs, [])).toArray();
    expectClose(one, both, FWD, 'stacked vs both');
    expect(Math.max(...both.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-3); // the adapters do something
    for (const s of [a, b, stacked]) s.release();
    model.release();
  });
});
