// LoRA export/import: round trips in both namings and in F16 keep the effective update scale·B·A; the PEFT file
// read by an independent reader has exactly the expected keys, shapes and folded values; refusals name the keys.
import { describe, expect, it } from 'vitest';
import { PRESETS, type SD3Config } from '../../src/model/config';
import { ATTENTION_TARGETS, LoraSet, MLP_TARGETS, type LoraConfig } from '../../src/model/lora';
import { parameterSpecs } from '../../src/model/params';
import { exportLora, importLora, LORA_FORMAT, LoraImportError, type LoraExportInfo } from '../../src/io/lora-format';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { expectClose, getEngine, rand } from '../tensor/harness';
import { MINI_SD35 } from '../model/fixtures';

const TINY = PRESETS.tiny.config;
const BASE = { config: TINY, id: 'tiny', hash: 'sha256:tiny-base' };
const INFO: LoraExportInfo = {
  baseModelId: 'tiny',
  baseModelHash: 'sha256:tiny-base',
  method: 'soar',
  config: { learning_rate: 1e-3, rank: 4, lora_alpha: 8, lambda_aux: 1 },
  steps: 120,
};


/** A LoRA with random A and B (a fresh one has B = 0, which would hide a wrong scale). */
async function trainedSet(config: SD3Config, lora: LoraConfig, seed: number, strength = 1): Promise<LoraSet> {
  const e = await getEngine();
  const set = LoraSet.create(e, 'trained', config, lora, seed);
  let k = seed * 1000;
  for (const m of set.modules.values()) {
    m.B.release();
    m.B = e.parameter(Float32Array.from(rand(m.B.size, k++, -0.5, 0.5)), m.B.shape, `${m.name}.lora_B`);
  }
  set.strength = strength;
  return set;
}

/** scale·B·A of every module, in float64. */
async function deltas(set: LoraSet): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  for (const m of set.modules.values()) {
    const A = await m.A.toArray();
    const B = await m.B.toArray();
    const [r, n] = m.A.shape;
    const o = m.B.shape[0];
    const d = new Float64Array(o * n);
    for (let i = 0; i < o; i++) for (let k = 0; k < r; k++) for (let j = 0; j < n; j++) d[i * n + j] += set.scale * B[i * r + k] * A[k * n + j];
    out.set(m.name, d);
  }
  return out;
}

async function expectSameDeltas(a: LoraSet, b: LoraSet, tol: { atol: number; rtol: number }): Promise<void> {
  const da = await deltas(a);
  const db = await deltas(b);
  expect([...db.keys()].sort()).toEqual([...da.keys()].sort());
  for (const [name, d] of da) expectClose(db.get(name)!, d, tol, name);
}

// ---------------------------------------------------------------- an independent reader (no shared code)

function halfToFloat(h: number): number {
  const e = (h >> 10) & 31;
  const f = h & 1023;
  const v = e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

function independentRead(bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  const tensors: Record<string, { dtype: string; shape: number[]; values: number[] }> = {};
  for (const [k, v] of Object.entries<any>(header)) {
    if (k === '__metadata__') continue;
    const [b, e] = v.data_offsets;
    const values: number[] = [];
    const w = v.dtype === 'F32' ? 4 : 2;
    for (let p = 8 + n + b; p < 8 + n + e; p += w) values.push(w === 4 ? dv.getFloat32(p, true) : halfToFloat(dv.getUint16(p, true)));
    tensors[k] = { dtype: v.dtype, shape: v.shape, values };
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as Record<string, string> };
}

/** Writes a BF16 safetensors file by hand (our writer has no BF16): truncation of the f32 bits. */
function bf16File(tensors: Record<string, { shape: number[]; data: ArrayLike<number> }>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let off = 0;
  for (const [k, t] of Object.entries(tensors)) {
    header[k] = { dtype: 'BF16', shape: t.shape, data_offsets: [off, off + 2 * t.data.length] };
    off += 2 * t.data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let p = 8 + json.length;
  for (const t of Object.values(tensors)) {
    for (let i = 0; i < t.data.length; i++, p += 2) {
      f[0] = t.data[i];
      dv.setUint16(p, u[0] >>> 16, true);
    }
  }
  return out;
}

const LORA8: LoraConfig = { rank: 4, alpha: 8, targets: [...ATTENTION_TARGETS] };

describe('LoRA export', () => {
  it('PEFT: exactly the expected keys and shapes, alpha/rank·strength folded into lora_B, read independently', async () => {
    const set = await trainedSet(TINY, LORA8, 1, 0.5);
    const bytes = await exportLora(set, INFO, { naming: 'peft', dtype: 'F32' });
    const { tensors, metadata } = independentRead(bytes);
    const D = 64;
    const expected: string[] = [];
    for (let i = 0; i < TINY.num_layers; i++) {
      for (const t of ATTENTION_TARGETS) {
        if (t === 'attn.to_add_out' && i === TINY.num_layers - 1) continue; // the last block has no context output
        expected.push(`transformer.transformer_blocks.${i}.${t}.lora_A.weight`, `transformer.transformer_blocks.${i}.${t}.lora_B.weight`);
      }
    }
    expect(Object.keys(tensors).sort()).toEqual(expected.sort());
    expect(expected).toHaveLength(2 * 15);
    expect(Object.keys(tensors).some((k) => k.includes('transformer_blocks.1.attn.to_add_out'))).toBe(false);
    for (const [k, t] of Object.entries(tensors)) {
      expect(t.dtype).toBe('F32');
      expect(t.shape).toEqual(k.endsWith('lora_A.weight') ? [4, D] : [D, 4]);
    }
    // scale = 8/4 · 0.5 = 1 would hide a missing fold, so compare against B·(alpha/rank·strength) explicitly.
    expect(set.scale).toBe(1);
    set.strength = 0.25;
    const bytes2 = await exportLora(set, INFO, { naming: 'peft', dtype: 'F32' });
    const m = set.modules.get('transformer_blocks.0.attn.to_q')!;
    const B = await m.B.toArray();
    const A = await m.A.toArray();
    const read = independentRead(bytes2).tensors;
    expectClose(read['transformer.transformer_blocks.0.attn.to_q.lora_B.weight'].values, Array.from(B, (v) => v * 0.5), { atol: 0, rtol: 1e-7 }, 'folded B');
    expect(read['transformer.transformer_blocks.0.attn.to_q.lora_A.weight'].values).toEqual(Array.from(A));
    expect(metadata.alpha_folded).toBe('true');
    set.release();
  });

  it('writes the metadata, all strings', async () => {
    const set = await trainedSet(TINY, LORA8, 2);
    const { metadata } = independentRead(await exportLora(set, INFO, { naming: 'peft', dtype: 'F16' }));
    expect(metadata).toEqual({
      format: LORA_FORMAT,
      lora_rank: '4',
      lora_alpha: '8',
      target_modules: JSON.stringify([...ATTENTION_TARGETS]),
      method: 'soar',
      base_model_id: 'tiny',
      base_model_hash: 'sha256:tiny-base',
      steps: '120',
      hyperparameters: JSON.stringify(INFO.config),
      naming: 'peft',
      alpha_folded: 'true',
    });
    const kohya = independentRead(await exportLora(set, { ...INFO, method: 'sft', config: undefined }, { naming: 'kohya', dtype: 'F32' })).metadata;
    expect(kohya).toMatchObject({ naming: 'kohya', alpha_folded: 'false', method: 'sft', hyperparameters: '{}', ss_network_dim: '4', ss_network_alpha: '8' });
    set.release();
  });

  it('kohya: sd-scripts (original MMDiT) names, fused qkv block-diagonal, alpha scaled with the fused rank', async () => {
    const set = await trainedSet(TINY, LORA8, 3);
    const { tensors } = independentRead(await exportLora(set, INFO, { naming: 'kohya', dtype: 'F32' }));
    const D = 64;
    const expected: Record<string, number[]> = {};
    const mod = (name: string, rows: number, outDim: number) => {
      expected[`${name}.lora_down.weight`] = [rows, D];
      expected[`${name}.lora_up.weight`] = [outDim, rows];
      expected[`${name}.alpha`] = [];
    };
    for (let i = 0; i < 2; i++) {
      mod(`lora_unet_joint_blocks_${i}_x_block_attn_qkv`, 12, 3 * D);
      mod(`lora_unet_joint_blocks_${i}_x_block_attn_proj`, 4, D);
      mod(`lora_unet_joint_blocks_${i}_context_block_attn_qkv`, 12, 3 * D);
    }
    mod('lora_unet_joint_blocks_0_context_block_attn_proj', 4, D); // the last block has no context output
    expect(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape]))).toEqual(expected);
    expect(tensors['lora_unet_joint_blocks_0_x_block_attn_qkv.alpha'].values).toEqual([24]);
    expect(tensors['lora_unet_joint_blocks_0_x_block_attn_proj.alpha'].values).toEqual([8]);
    // lora_up of the fused qkv: to_k's B sits in rows D..2D, columns 4..8; everything off the diagonal is 0.
    const up = tensors['lora_unet_joint_blocks_1_x_block_attn_qkv.lora_up.weight'].values;
    const Bk = await set.modules.get('transformer_blocks.1.attn.to_k')!.B.toArray();
    for (let r = 0; r < 3 * D; r++) {
      for (let c = 0; c < 12; c++) {
        const slot = Math.floor(r / D);
        if (slot !== Math.floor(c / 4)) expect(up[r * 12 + c]).toBe(0);
        else if (slot === 1) expect(up[r * 12 + c]).toBe(Bk[(r - D) * 4 + (c - 4)]);
      }
    }
    set.release();
  });
});

describe('LoRA round trip', () => {
  const cases: Array<[string, 'peft' | 'kohya', 'F32' | 'F16', { atol: number; rtol: number }]> = [
    ['PEFT F32', 'peft', 'F32', { atol: 1e-6, rtol: 1e-5 }],
    ['kohya F32', 'kohya', 'F32', { atol: 1e-6, rtol: 1e-5 }],
    ['PEFT F16', 'peft', 'F16', { atol: 5e-4, rtol: 5e-3 }],
    ['kohya F16', 'kohya', 'F16', { atol: 5e-4, rtol: 5e-3 }],
  ];
  for (const [label, naming, dtype, tol] of cases) {
    it(`${label}: same scale·B·A, rank, alpha and targets`, async () => {
      const e = await getEngine();
      const set = await trainedSet(TINY, LORA8, 10, 0.75);
      const bytes = await exportLora(set, INFO, { naming, dtype });
      const back = importLora(bytes, BASE, e, 'imported');
      expect(back.naming).toBe(naming);
      expect(back.warnings).toEqual([]);
      expect(back.set.config).toEqual({ rank: 4, alpha: 8, targets: [...ATTENTION_TARGETS] });
      expect(back.set.strength).toBe(1); // strength is folded into the weights
      expect(back.metadata.base_model_hash).toBe(INFO.baseModelHash);
      expect(back.set.modules.get('transformer_blocks.0.attn.to_q')!.A.requiresGrad).toBe(true);
      await expectSameDeltas(set, back.set, tol);
      set.release();
      back.set.release();
    });
  }

  it('kohya on an SD3.5-style model: attn2, MLPs and both adaLN projections (last one with swapped halves)', async () => {
    const e = await getEngine();
    const targets = [...ATTENTION_TARGETS, 'attn2.to_q', 'attn2.to_k', 'attn2.to_v', 'attn2.to_out.0', ...MLP_TARGETS, 'norm1.linear', 'norm1_context.linear'];
    // A subset of q/k/v in attn2 exercises a fused module with an empty slot.
    const lora: LoraConfig = { rank: 2, alpha: 3, targets: targets.filter((t) => t !== 'attn2.to_k') };
    const set = await trainedSet(MINI_SD35, lora, 20);
    const base = { config: MINI_SD35, id: 'mini', hash: 'h' };
    const bytes = await exportLora(set, { ...INFO, baseModelHash: 'h' }, { naming: 'kohya', dtype: 'F32' });
    const file = readSafetensors(bytes);
    expect(file.tensors.get('lora_unet_joint_blocks_0_x_block_attn2_qkv.lora_down.weight')!.shape).toEqual([4, 16]);
    expect(file.tensors.get('lora_unet_joint_blocks_0_x_block_attn2_qkv.lora_up.weight')!.shape).toEqual([48, 4]);
    expect(file.tensors.has('lora_unet_joint_blocks_2_x_block_attn2_qkv.lora_down.weight')).toBe(false); // block 2 is not dual
    expect(file.tensors.get('lora_unet_joint_blocks_1_x_block_mlp_fc1.lora_up.weight')!.shape).toEqual([64, 2]);
    // The pre-only block's norm1_context: diffusers (scale, shift) rows become SAI's (shift, scale).
    const up = file.tensors.get('lora_unet_joint_blocks_2_context_block_adaLN_modulation_1.lora_up.weight')!;
    expect(up.shape).toEqual([32, 2]);
    const B = await set.modules.get('transformer_blocks.2.norm1_context.linear')!.B.toArray();
    expect(Array.from(up.data.subarray(0, 32))).toEqual(Array.from(B.subarray(32, 64)));
    expect(Array.from(up.data.subarray(32))).toEqual(Array.from(B.subarray(0, 32)));
    const back = importLora(bytes, base, e, 'imported');
    expect(back.set.config.targets).toEqual(lora.targets);
    await expectSameDeltas(set, back.set, { atol: 1e-6, rtol: 1e-5 });
    set.release();
    back.set.release();
  });
});

describe('LoRA import of other writers', () => {
  it('external PEFT: keys without the transformer. prefix, .alpha tensors, BF16, text-encoder keys skipped', async () => {
    const e = await getEngine();
    const D = 64;
    const tensors: Record<string, { shape: number[]; data: Float64Array | number[] }> = {};
    const host = new Map<string, { A: Float64Array; B: Float64Array }>();
    let seed = 500;
    for (let i = 0; i < 2; i++) {
      for (const t of ['attn.to_q', 'attn.to_v']) {
        const m = `transformer_blocks.${i}.${t}`;
        const A = rand(2 * D, seed++, -0.25, 0.25);
        const B = rand(D * 2, seed++, -0.25, 0.25);
        host.set(m, { A, B });
        tensors[`${m}.lora_A.weight`] = { shape: [2, D], data: A };
        tensors[`${m}.lora_B.weight`] = { shape: [D, 2], data: B };
        tensors[`${m}.alpha`] = { shape: [], data: [4] }; // alpha 4 at rank 2: scale 2
      }
    }
    tensors['text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight'] = { shape: [2, 8], data: new Float64Array(16) };
    const back = importLora(bf16File(tensors), BASE, e, 'ext');
    expect(back.naming).toBe('peft');
    expect(back.set.config).toEqual({ rank: 2, alpha: 4, targets: ['attn.to_q', 'attn.to_v'] });
    expect(back.warnings.join('\n')).toMatch(/ignored 1 text-encoder tensor/);
    expect(back.warnings.join('\n')).toMatch(/does not record its base model/);
    const got = await deltas(back.set);
    for (const [m, { A, B }] of host) {
      const bf = (x: number) => {
        const f = new Float32Array([x]);
        const u = new Uint32Array(f.buffer);
        u[0] &= 0xffff0000;
        return f[0];
      };
      const want = new Float64Array(D * D);
      for (let o = 0; o < D; o++) for (let k = 0; k < 2; k++) for (let j = 0; j < D; j++) want[o * D + j] += 2 * bf(B[o * 2 + k]) * bf(A[k * D + j]);
      expectClose(got.get(m)!, want, { atol: 1e-6, rtol: 1e-5 }, m);
    }
    back.set.release();
  });

  it('external PEFT without alpha: scale 1 (alpha = rank)', async () => {
    const e = await getEngine();
    const D = 64;
    const A = Float32Array.from(rand(3 * D, 1, -1, 1));
    const B = Float32Array.from(rand(3 * D, 2, -1, 1));
    const bytes = writeSafetensors({
      'transformer.transformer_blocks.0.attn.to_k.lora_A.weight': { shape: [3, D], data: A },
      'transformer.transformer_blocks.0.attn.to_k.lora_B.weight': { shape: [D, 3], data: B },
    });
    const back = importLora(bytes, BASE, e, 'ext');
    expect(back.set.config.rank).toBe(3);
    expect(back.set.config.alpha).toBe(3);
    expect(back.set.scale).toBe(1);
    expect(Array.from(await back.set.modules.get('transformer_blocks.0.attn.to_k')!.B.toArray())).toEqual(Array.from(B));
    back.set.release();
    // A network alpha in the metadata (as some trainers write) applies as alpha/rank.
    const withAlpha = importLora(writeSafetensors(readSafetensors(bytes).tensors, { lora_alpha: '6' }), BASE, e, 'ext');
    expect(withAlpha.set.config.alpha).toBe(6);
    expect(Array.from(await withAlpha.set.modules.get('transformer_blocks.0.attn.to_k')!.B.toArray())).toEqual(Array.from(B));
    withAlpha.set.release();
  });

  it('external kohya: sd-scripts fused qkv (one shared lora_down) and OneTrainer names, different scales', async () => {
    const e = await getEngine();
    const D = 64;
    const down = Float32Array.from(rand(2 * D, 7));
    const up = Float32Array.from(rand(3 * D * 2, 8));
    const otDown = Float32Array.from(rand(2 * D, 9));
    const otUp = Float32Array.from(rand(D * 2, 10));
    const bytes = writeSafetensors({
      'lora_unet_joint_blocks_0_x_block_attn_qkv.lora_down.weight': { shape: [2, D], data: down },
      'lora_unet_joint_blocks_0_x_block_attn_qkv.lora_up.weight': { shape: [3 * D, 2], data: up },
      'lora_unet_joint_blocks_0_x_block_attn_qkv.alpha': { shape: [], data: [1] }, // scale 1/2
      // No alpha: kohya loaders use scale 1.
      'lora_transformer_transformer_blocks_1_attn_to_out_0.lora_down.weight': { shape: [2, D], data: otDown },
      'lora_transformer_transformer_blocks_1_attn_to_out_0.lora_up.weight': { shape: [D, 2], data: otUp },
    });
    const back = importLora(bytes, BASE, e, 'ext');
    expect(back.naming).toBe('kohya');
    // Scales differ between modules, so alpha = rank and each module's scale is folded into its B.
    expect(back.set.config).toEqual({ rank: 2, alpha: 2, targets: ['attn.to_q', 'attn.to_k', 'attn.to_v', 'attn.to_out.0'] });
    const got = await deltas(back.set);
    const product = (u: Float32Array, uRow0: number, d: Float32Array, k: number) => {
      const out = new Float64Array(D * D);
      for (let o = 0; o < D; o++) for (let r = 0; r < 2; r++) for (let j = 0; j < D; j++) out[o * D + j] += k * u[(uRow0 + o) * 2 + r] * d[r * D + j];
      return out;
    };
    ['attn.to_q', 'attn.to_k', 'attn.to_v'].forEach((t, s) => {
      expectClose(got.get(`transformer_blocks.0.${t}`)!, product(up, s * D, down, 0.5), { atol: 1e-6, rtol: 1e-5 }, t);
    });
    expectClose(got.get('transformer_blocks.1.attn.to_out.0')!, product(otUp, 0, otDown, 1), { atol: 1e-6, rtol: 1e-5 }, 'to_out.0');
    // Block 1's q, k, v and block 0's to_out.0 are selected by the targets but absent from the file.
    expect(back.warnings.join('\n')).toMatch(/no adapter for 4 module/);
    back.set.release();
  });
});

describe('LoRA import refusals', () => {
  /** Our PEFT export as a mutable map, to break in one place per case. */
  async function ourPeft(): Promise<{ tensors: Map<string, TensorToWrite>; metadata: Record<string, string> }> {
    const set = await trainedSet(TINY, LORA8, 30);
    const file = readSafetensors(await exportLora(set, INFO, { naming: 'peft', dtype: 'F32' }));
    set.release();
    return { tensors: new Map([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), metadata: file.metadata };
  }
  const key = (m: string, p: 'A' | 'B') => `transformer.transformer_blocks.${m}.lora_${p}.weight`;
  const D = 64;

  const cases: Array<[string, (f: Awaited<ReturnType<typeof ourPeft>>) => Uint8Array, RegExp]> = [
    [
      'a layer the base does not have',
      (f) => {
        f.tensors.set(key('30.attn.to_q', 'A'), { shape: [4, D], data: new Float32Array(4 * D) });
        f.tensors.set(key('30.attn.to_q', 'B'), { shape: [D, 4], data: new Float32Array(4 * D) });
        return writeSafetensors(f.tensors, f.metadata);
      },
      /transformer\.transformer_blocks\.30\.attn\.to_q\.lora_A\.weight: the base has no transformer_blocks\.30\.attn\.to_q: block 30, but "tiny" has 2 blocks/,
    ],
    [
      'an in-dim that does not fit',
      (f) => {
        f.tensors.set(key('0.attn.to_k', 'A'), { shape: [4, 32], data: new Float32Array(4 * 32) });
        return writeSafetensors(f.tensors, f.metadata);
      },
      /transformer_blocks\.0\.attn\.to_k\.lora_A\.weight \[4, 32\] and .*lora_B\.weight \[64, 4\] do not fit the base's transformer_blocks\.0\.attn\.to_k\.weight \[64, 64\]/,
    ],
    [
      'a lora_A without its lora_B',
      (f) => {
        f.tensors.delete(key('1.attn.add_v_proj', 'B'));
        return writeSafetensors(f.tensors, f.metadata);
      },
      /transformer\.transformer_blocks\.1\.attn\.add_v_proj\.lora_A\.weight has no matching lora_B/,
    ],
    [
      'ranks of A and B that differ',
      (f) => {
        f.tensors.set(key('0.attn.to_v', 'B'), { shape: [D, 8], data: new Float32Array(8 * D) });
        return writeSafetensors(f.tensors, f.metadata);
      },
      /rank mismatch: transformer\.transformer_blocks\.0\.attn\.to_v\.lora_A\.weight \[4, 64\] has rank 4, .*lora_B\.weight \[64, 8\] has rank 8/,
    ],
    [
      'ranks that differ between modules',
      (f) => {
        f.tensors.set(key('0.attn.to_v', 'A'), { shape: [8, D], data: new Float32Array(8 * D) });
        f.tensors.set(key('0.attn.to_v', 'B'), { shape: [D, 8], data: new Float32Array(8 * D) });
        return writeSafetensors(f.tensors, f.metadata);
      },
      /inconsistent ranks across modules: rank 4 \(14 module\(s\), e\.g\. transformer_blocks\.0\.attn\.\w+\), rank 8 \(1 module\(s\), e\.g\. transformer_blocks\.0\.attn\.to_v\)/,
    ],
    [
      'another base model',
      (f) => writeSafetensors(f.tensors, { ...f.metadata, base_model_id: 'studio-s', base_model_hash: 'sha256:other' }),
      /trained on base "studio-s" \(hash sha256:other\), but the base loaded is "tiny" \(hash sha256:tiny-base\): load that base model, or import with allowOtherBase/,
    ],
    ['bytes that are not safetensors', () => new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]), /not a safetensors file: header length/],
    [
      'a safetensors file with no LoRA in it',
      () => writeSafetensors({ 'embeddings.token': { shape: [2, 2], data: [1, 2, 3, 4] } }),
      /no LoRA weights found: expected keys ending in \.lora_A\.weight.*the file has 1 tensors \(embeddings\.token\)/,
    ],
    [
      'a full model checkpoint',
      () => {
        const t = new Map<string, TensorToWrite>();
        for (const s of parameterSpecs(TINY)) t.set(s.name, { shape: s.shape, data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)) });
        return writeSafetensors(t);
      },
      /full model checkpoint \(\d+ tensors, e\.g\. transformer_blocks\.0\.[\w.]+\.weight.*load it as a base model instead/,
    ],
    [
      'a kohya module in a block the base lacks',
      () =>
        writeSafetensors({
          'lora_unet_joint_blocks_5_x_block_attn_proj.lora_down.weight': { shape: [2, D], data: new Float32Array(2 * D) },
          'lora_unet_joint_blocks_5_x_block_attn_proj.lora_up.weight': { shape: [D, 2], data: new Float32Array(2 * D) },
        }),
      /lora_unet_joint_blocks_5_x_block_attn_proj\.lora_down\.weight: the base has no block 5: it has 2 blocks/,
    ],
    [
      'a weight with NaN',
      (f) => {
        const t = f.tensors.get(key('0.attn.to_q', 'B'))!;
        const data = Float32Array.from(t.data);
        data[5] = Number.NaN;
        f.tensors.set(key('0.attn.to_q', 'B'), { shape: t.shape, data });
        return writeSafetensors(f.tensors, f.metadata);
      },
      /LoRA file: tensor "transformer\.transformer_blocks\.0\.attn\.to_q\.lora_B\.weight" has NaN or infinite values \(the first at index 5\); the file is damaged: export it again/,
    ],
    [
      'a weight with Inf in F16',
      (f) => {
        const t = f.tensors.get(key('1.attn.to_k', 'A'))!;
        const data = Float32Array.from(t.data);
        data[0] = Number.POSITIVE_INFINITY;
        f.tensors.set(key('1.attn.to_k', 'A'), { shape: t.shape, data });
        return writeSafetensors(f.tensors, f.metadata, 'F16');
      },
      /tensor "transformer\.transformer_blocks\.1\.attn\.to_k\.lora_A\.weight" has NaN or infinite values \(the first at index 0\)/,
    ],
    ['target_modules []', (f) => writeSafetensors(f.tensors, { ...f.metadata, target_modules: '[]' }), /metadata target_modules is an empty list/],
    [
      'target_modules that do not cover the adapters',
      (f) => writeSafetensors(f.tensors, { ...f.metadata, target_modules: '["attn.to_q"]' }),
      /adapts transformer_blocks\.0\.attn\.\w+, but the metadata's target_modules \["attn\.to_q"\] do not include it: the file's metadata and weights disagree/,
    ],
    [
      'a kohya alpha that is not a scalar, alone in its group',
      () => writeSafetensors({ 'lora_unet_joint_blocks_0_x_block_attn_proj.alpha': { shape: [2], data: [1, 2] }, 'lora_unet_joint_blocks_0_x_block_attn_qkv.lora_down.weight': { shape: [2, D], data: new Float32Array(2 * D) } }),
      /lora_unet_joint_blocks_0_x_block_attn_proj\.alpha should be a scalar, has shape \[2\]/,
    ],
    [
      'a deeply nested shape in the header (stack overflow in an error message before)',
      () => {
        const header = `{"a.lora_A.weight":{"dtype":"F32","shape":${'['.repeat(5000)}${']'.repeat(5000)},"data_offsets":[0,0]}}`;
        const json = new TextEncoder().encode(header);
        const out = new Uint8Array(8 + json.length);
        new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
        out.set(json, 8);
        return out;
      },
      /not a safetensors file: header: nested more than 64 levels deep/,
    ],
    [
      'a header that names a tensor twice',
      (f) => {
        const bytes = writeSafetensors(f.tensors, f.metadata);
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
        const k = key('0.attn.to_q', 'A');
        const entry = JSON.stringify(JSON.parse(text)[k]);
        const json = new TextEncoder().encode(`{${JSON.stringify(k)}:${entry},${text.trimEnd().slice(1)}`);
        const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
        new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
        out.set(json, 8);
        out.set(bytes.subarray(8 + n), 8 + json.length);
        return out;
      },
      /not a safetensors file: header: key "transformer\.transformer_blocks\.0\.attn\.to_q\.lora_A\.weight" appears twice/,
    ],
  ];

  for (const [label, make, message] of cases) {
    it(`refuses ${label}`, async () => {
      const e = await getEngine();
      const bytes = make(await ourPeft());
      let err: unknown;
      try {
        importLora(bytes, BASE, e, 'bad').set.release();
      } catch (x) {
        err = x;
      }
      expect(err).toBeInstanceOf(LoraImportError);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('reads a diffusers lora_adapter_metadata that is JSON null as no alpha', async () => {
    const e = await getEngine();
    const bytes = writeSafetensors(
      { 'transformer_blocks.0.attn.to_k.lora_A.weight': { shape: [2, D], data: new Float32Array(2 * D) }, 'transformer_blocks.0.attn.to_k.lora_B.weight': { shape: [D, 2], data: new Float32Array(2 * D) } },
      { lora_adapter_metadata: 'null' },
    );
    const back = importLora(bytes, BASE, e, 'ext');
    expect(back.set.scale).toBe(1);
    back.set.release();
  });

  it('lists the first problems and counts the rest', async () => {
    const e = await getEngine();
    const f = await ourPeft();
    for (const k of [...f.tensors.keys()].filter((k) => k.endsWith('lora_B.weight'))) f.tensors.delete(k);
    const err = (() => {
      try {
        importLora(writeSafetensors(f.tensors, f.metadata), BASE, e, 'bad');
      } catch (x) {
        return x as LoraImportError;
      }
    })()!;
    expect(err.problems).toHaveLength(15);
    expect(err.message).toMatch(/15 problem\(s\):/);
    expect(err.message).toMatch(/… and 7 more/);
  });

  it('imports onto another base with allowOtherBase, with a warning', async () => {
    const e = await getEngine();
    const f = await ourPeft();
    const bytes = writeSafetensors(f.tensors, { ...f.metadata, base_model_id: 'studio-s', base_model_hash: 'sha256:other' });
    const back = importLora(bytes, BASE, e, 'other', { allowOtherBase: true });
    expect(back.warnings.join('\n')).toMatch(/trained on base "studio-s".*applied anyway/);
    back.set.release();
  });
});
