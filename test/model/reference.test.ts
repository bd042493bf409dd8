// The golden check of the model: the GPU MMDiT against the float64 reference composed from the kernels'
// references — forward, every LoRA gradient sampled and base-weight gradients sampled against finite
// differences — on `tiny` and on a miniature with SD3.5-Medium's structure (RMS q/k norm, dual attention).
import { describe, expect, it } from 'vitest';
import { PRESETS, type SD3Config } from '../../src/model/config';
import { MMDiT } from '../../src/model/mmdit';
import { LoraSet } from '../../src/model/lora';
import { mmditForwardRef, type RefAdapters, type RefInputs } from '../../src/model/reference';
import { loadStateDict, saveStateDict } from '../../src/model/weights';
import { backward } from '../../src/tensor/autograd';
import { expectClose, getEngine, rand } from '../tensor/harness';
import { MINI_SD35, randomizeSignalPaths } from './fixtures';


async function setup(config: SD3Config, B: number, T: number, seed: number) {
  const e = await getEngine();
  const model = MMDiT.init(e, config, seed);
  await randomizeSignalPaths(model, seed);
  const H = config.sample_size;
  const ref: RefInputs = {
    B, H, W: H, T,
    x: Float64Array.from(Float32Array.from(rand(B * config.in_channels * H * H, seed + 1))),
    timestep: Float64Array.from({ length: B }, (_, i) => 250 + 500 * i),
    context: Float64Array.from(Float32Array.from(rand(B * T * config.joint_attention_dim, seed + 2))),
    pooled: Float64Array.from(Float32Array.from(rand(B * config.pooled_projection_dim, seed + 3))),
  };
  const gpuInputs = {
    x: e.fromArray(ref.x, [B, config.in_channels, H, H], 'x'),
    timestep: e.fromArray(ref.timestep, [B], 't'),
    context: e.fromArray(ref.context, [B, T, config.joint_attention_dim], 'ctx'),
    pooled: e.fromArray(ref.pooled, [B, config.pooled_projection_dim], 'pooled'),
  };
  const weights64 = new Map<string, Float64Array>();
  for (const [name, w] of model.weights) weights64.set(name, Float64Array.from(await w.toArray()));
  return { e, model, ref, gpuInputs, weights64 };
}

async function loraRef(lora: LoraSet): Promise<RefAdapters> {
  const out: RefAdapters = new Map();
  for (const m of lora.modules.values()) {
    out.set(m.name, [{ A: Float64Array.from(await m.A.toArray()), B: Float64Array.from(await m.B.toArray()), rank: lora.config.rank, scale: lora.scale }]);
  }
  return out;
}

/** Loss = Σ w·v with fixed random w, so dLoss/dv = w. */
function lossRef(config: SD3Config, weights: Map<string, Float64Array>, ref: RefInputs, adapters: RefAdapters, w: Float64Array): number {
  const v = mmditForwardRef(config, weights, ref, adapters);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * w[i];
  return s;
}

/** Central difference of the reference loss in one entry of one tensor (float64, eps 1e-5). */
function fdEntry(arr: Float64Array, i: number, f: () => number, eps = 1e-5): number {
  const v = arr[i];
  arr[i] = v + eps;
  const fp = f();
  arr[i] = v - eps;
  const fm = f();
  arr[i] = v;
  return (fp - fm) / (2 * eps);
}

describe.each([
  ['tiny', PRESETS.tiny.config, 2, 5],
  ['SD3.5-Medium miniature (qk RMS norm, dual attention)', MINI_SD35, 1, 3],
])('MMDiT %s vs the float64 reference', (_name, config, B, T) => {
  it('forward matches', async () => {
    const { e, model, ref, gpuInputs, weights64 } = await setup(config, B, T, 3);
    const v = e.scope(() => model.forward(gpuInputs).detach());
    const expected = mmditForwardRef(config, weights64, ref);
    expectClose(await v.toArray(), expected, { atol: 2e-4, rtol: 2e-3 }, 'velocity');
    model.release();
  });

  it('LoRA and base-weight gradients match finite differences of the reference', async () => {
    const { e, model, ref, gpuInputs, weights64 } = await setup(config, B, T, 5);
    const lora = LoraSet.create(e, 'soar', config, { rank: 2, alpha: 4, targets: ['attn.to_q', 'attn.to_v', 'attn.add_k_proj', 'attn.to_out.0', 'ff.net.0.proj'] }, 9);
    let k = 500;
    for (const m of lora.modules.values()) e.gpu.write(m.B.buffer, Float32Array.from(rand(m.B.size, k++, -0.2, 0.2)));
    model.adapters = [lora];
    model.setTrainable(true);
    const outSize = B * config.out_channels * config.sample_size ** 2;
    const w = rand(outSize, 77);
    e.scope(() => {
      const v = model.forward(gpuInputs);
      backward(v, e.fromArray(w, v.shape));
    });
    const adapters = await loraRef(lora);
    const f = () => lossRef(config, weights64, ref, adapters, w);
    const checks: Array<[string, number, number]> = [];
    // Every LoRA tensor: 2 entries each. Base weights: one entry of a spread of tensors.
    for (const m of lora.modules.values()) {
      const a64 = adapters.get(m.name)![0];
      const gA = await m.A.grad!.toArray();
      const gB = await m.B.grad!.toArray();
      for (const i of [0, m.A.size - 1]) checks.push([`${m.name}.lora_A[${i}]`, gA[i], fdEntry(a64.A, i, f)]);
      for (const i of [1, m.B.size - 2]) checks.push([`${m.name}.lora_B[${i}]`, gB[i], fdEntry(a64.B, i, f)]);
    }
    const names = [...model.weights.keys()].filter((n) => model.weights.get(n)!.requiresGrad);
    for (const name of names.filter((_, j) => j % 7 === 0)) {
      const t = model.weights.get(name)!;
      const g = await t.grad!.toArray();
      const i = Math.floor(t.size / 2);
      checks.push([name + `[${i}]`, g[i], fdEntry(weights64.get(name)!, i, f)]);
    }
    const bad = checks.filter(([, gpu, fd]) => !(Math.abs(gpu - fd) <= 2e-3 + 2e-2 * Math.abs(fd)));
    expect(bad.map(([n, g, fd]) => `${n}: gpu ${g} vs fd ${fd}`)).toEqual([]);
    expect(checks.length).toBeGreaterThan(20);
    lora.release();
    model.release();
  });

  // Pretraining trains the text encoder through these gradients: a wrong one scrambles the encoder every
  // step and the denoiser learns to ignore its caption.
  it('gradients reaching the context and pooled inputs match finite differences of the reference', async () => {
    const { e, model, ref, gpuInputs, weights64 } = await setup(config, B, T, 13);
    gpuInputs.context.requiresGrad = true;
    gpuInputs.pooled.requiresGrad = true;
    const w = rand(B * config.out_channels * config.sample_size ** 2, 78);
    e.scope(() => {
      const v = model.forward(gpuInputs);
      backward(v, e.fromArray(w, v.shape));
    });
    const f = () => lossRef(config, weights64, ref, new Map(), w);
    const checks: Array<[string, number, number]> = [];
    for (const [name, input, host] of [['context', gpuInputs.context, ref.context], ['pooled', gpuInputs.pooled, ref.pooled]] as const) {
      const g = await input.grad!.toArray();
      for (const i of [0, 1, Math.floor(host.length / 2), host.length - 1]) checks.push([`${name}[${i}]`, g[i], fdEntry(host, i, f)]);
    }
    const bad = checks.filter(([, gpu, fd]) => !(Math.abs(gpu - fd) <= 2e-3 + 2e-2 * Math.abs(fd)));
    expect(bad.map(([n, g, fd]) => `${n}: gpu ${g} vs fd ${fd}`)).toEqual([]);
    expect(checks.some(([, , fd]) => Math.abs(fd) > 1e-3)).toBe(true); // the checks are not all trivially zero
    model.release();
  });
});

describe('state dict by diffusers names', () => {
  it('save → load → forward is identical; mismatched weights are refused with the first keys named', async () => {
    const { e, model, gpuInputs } = await setup(MINI_SD35, 1, 3, 11);
    const bytes = await saveStateDict(model.weights, { model: 'mini-sd3.5' });
    const loaded = new MMDiT(e, MINI_SD35, loadStateDict(e, MINI_SD35, bytes).weights);
    const a = e.scope(() => model.forward(gpuInputs).detach());
    const b = e.scope(() => loaded.forward(gpuInputs).detach());
    expectClose(await b.toArray(), await a.toArray(), { atol: 0, rtol: 0 }, 'reloaded');
    expect(() => loadStateDict(e, { ...MINI_SD35, num_layers: 4 }, bytes)).toThrow(/shape mismatch: transformer_blocks\.2\.norm1_context.*missing: transformer_blocks\.2\.attn\.to_add_out\.weight.* and 27 more/);
    expect(() => loadStateDict(e, { ...MINI_SD35, qk_norm: null }, bytes)).toThrow(/unexpected keys: .*norm_q/);
    expect(() => loadStateDict(e, { ...MINI_SD35, joint_attention_dim: 13 }, bytes)).toThrow(/context_embedder.weight is \[16, 12\], the config needs \[16, 13\]/);
    model.release();
    loaded.release();
  });
});
