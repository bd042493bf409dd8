// The base of extract-lora read by range like the fine-tune: a diffusers pipeline folder (config.json, F16 shards +
// index), a single diffusers .safetensors (config from the shapes) and the studio's bundle give the very same LoRA
// as the base held in memory; only the base's headers, its targeted weights and its 1-D tensors (for the hash)
// are read, never the rest; a base and fine-tune that differ in a tensor, or a base that differs from its own
// config, are refused naming the tensor.
import { describe, expect, it } from 'vitest';
import { writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { ChunkedSafetensors, type ByteSource } from '../../src/codec/safetensors-chunked';
import { f16ToF32, f32ToF16 } from '../../src/codec/half';
import { builtinVocabulary } from '../../src/encode/builtin-vocab';
import { BASE_MODEL_FORMAT, ContentHash, contentHash } from '../../src/io/base-model';
import { randomBase } from '../../src/io/base-runtime';
import { openExtractionBase } from '../../src/io/extraction-base';
import { openTunedTransformer, TunedInputError, type TunedFile } from '../../src/io/tuned-transformer';
import { extractLoraFromFiles, extractLoraFromTuned } from '../../src/io/tuned-to-lora';
import { PRESETS } from '../../src/model/config';
import { ATTENTION_TARGETS, loraModuleNames, type LoraSet } from '../../src/model/lora';
import { parameterSpecs } from '../../src/model/params';
import type { Engine } from '../../src/tensor/engine';
import { getEngine } from '../tensor/harness';
import { asTunedFiles, lowRankDelta, shardedFiles, tunedTensors } from './tuned-fixtures';

const CONFIG = PRESETS.tiny.config;
const ATTN = [...ATTENTION_TARGETS];
const ID = 'tiny-random-3';

/** The tiny base's weights, rounded to F16 so that a base stored in F16 holds exactly the same values. */
async function tinyBase(engine: Engine): Promise<Map<string, TensorToWrite>> {
  const base = randomBase(engine, 'tiny', builtinVocabulary(8), 3);
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of base.model.weights) tensors.set(name, { shape: t.shape, data: Float32Array.from(await t.toArray(), (x) => f16ToF32(f32ToF16(x))) });
  base.model.release();
  return tensors;
}

/** The studio's bundle as tunedFilesAt lists its folder (the text encoder is not read by the extraction). */
function bundleFiles(tensors: Map<string, TensorToWrite>, hash?: string): Map<string, Uint8Array> {
  const transformer = writeSafetensors(tensors);
  const files = { transformer: 'transformer.safetensors', text_encoder: 'text_encoder.safetensors' };
  const manifest = { format: BASE_MODEL_FORMAT, id: ID, preset: 'tiny', config: CONFIG, meta: PRESETS.tiny.meta, files, transformer_hash: hash ?? contentHash(transformer) };
  return new Map([
    ['model.json', new TextEncoder().encode(JSON.stringify(manifest))],
    ['transformer.safetensors', transformer],
    ['text_encoder.safetensors', new Uint8Array(16)],
  ]);
}

/** A diffusers pipeline folder: model_index.json, transformer/config.json and F16 shards + index (and a stray single-file checkpoint at the top, as the Hub's SD3.5 repos have). */
function pipelineFiles(tensors: Map<string, TensorToWrite>, shards = 2, config: Record<string, unknown> = {}): Map<string, Uint8Array> {
  const text = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  return new Map([
    ['model_index.json', text({ _class_name: 'StableDiffusion3Pipeline' })],
    ['sd3_tiny.safetensors', writeSafetensors(new Map([['x', { shape: [1], data: [0] }]]))],
    ['transformer/config.json', text({ _class_name: 'SD3Transformer2DModel', _diffusers_version: '0.31.0', _name_or_path: 'test/tiny-sd3', ...CONFIG, ...config })],
    ...shardedFiles(tensors, shards, 'transformer', 'F16'),
  ]);
}

/** Byte sources that log every range read. */
function logged(files: Map<string, Uint8Array>): { files: TunedFile[]; reads: Array<{ path: string; begin: number; end: number }> } {
  const reads: Array<{ path: string; begin: number; end: number }> = [];
  const list = asTunedFiles(files).map((f): TunedFile => {
    const source: ByteSource = {
      name: f.source.name,
      size: f.source.size,
      read: (begin, end) => {
        reads.push({ path: f.path, begin, end });
        return f.source.read(begin, end);
      },
    };
    return { path: f.path, source };
  });
  return { files: list, reads };
}

async function factors(set: LoraSet): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [name, m] of set.modules) out.set(name, [...(await m.A.toArray()), ...(await m.B.toArray())]);
  return out;
}

/** A fine-tune of the tiny base: rank-2 changes on every attention projection, 3 F32 shards. */
function tunedFolder(tensors: Map<string, TensorToWrite>): Map<string, Uint8Array> {
  const modules = loraModuleNames(CONFIG, ATTN);
  return shardedFiles(tunedTensors(tensors, new Map(modules.map((m, k) => [`${m.name}.weight`, lowRankDelta(m.out, m.in, 2, 20 + k)]))), 3, 'out/transformer');
}

describe('the base of extract-lora, read by range', () => {
  it('a diffusers pipeline folder (F16 shards), a single diffusers file and the bundle give the LoRA of the base in memory', { timeout: 60_000 }, async () => {
    const engine = await getEngine();
    const tensors = await tinyBase(engine);
    const tuned = tunedFolder(tensors);
    const opts = { rank: 2, targets: ATTN, name: 'x' };

    const held = await extractLoraFromTuned(engine, CONFIG, await openTunedTransformer(asTunedFiles(tuned)), ID, { ...opts, baseWeight: async (n) => Float32Array.from(tensors.get(n)!.data) });
    const expected = await factors(held.set);
    held.set.release();

    const bundle = await openExtractionBase(asTunedFiles(bundleFiles(tensors)), 'base');
    expect([bundle.kind, bundle.id, bundle.hash]).toEqual(['bundle', ID, contentHash(bundleFiles(tensors).get('transformer.safetensors')!)]);
    const pipeline = await openExtractionBase(asTunedFiles(pipelineFiles(tensors)), 'sd3-tiny');
    expect([pipeline.kind, pipeline.id, pipeline.config]).toEqual(['diffusers', 'test/tiny-sd3', CONFIG]);
    expect(pipeline.weights.description).toBe('transformer/diffusion_pytorch_model.safetensors.index.json (2 shards)');
    expect(pipeline.hash).toMatch(/^fnv1a64-header-vectors:[0-9a-f]{16}$/);
    // A single file has no config.json: the config is read off the shapes (the parameters, and so the LoRA, are the same).
    const single = await openExtractionBase(asTunedFiles(new Map([['sd3-tiny.safetensors', writeSafetensors(tensors, {}, 'F16')]])), 'sd3-tiny.safetensors');
    expect(single.id).toBe('sd3-tiny.safetensors');
    expect(parameterSpecs(single.config).map((s) => [s.name, s.shape])).toEqual(parameterSpecs(CONFIG).map((s) => [s.name, s.shape]));

    for (const base of [bundle, pipeline, single]) {
      const { set, modules } = await extractLoraFromFiles(engine, base, await openTunedTransformer(asTunedFiles(tuned)), opts);
      for (const e of modules) expect(e.energyKept, `${base.kind} ${e.module}`).toBeGreaterThan(1 - 1e-9);
      const got = await factors(set);
      expect([...got.keys()]).toEqual([...expected.keys()]);
      for (const [name, v] of expected) expect(got.get(name), `${base.id}: ${name}`).toEqual(v);
      set.release();
    }
  });

  it('the diffusers base hash: the same for the same weights however sharded, another for a changed bias; the config read off studio-s shapes is its own', async () => {
    const zeros = (shape: number[]) => new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7919) % 13) / 13);
    const tensors = new Map(parameterSpecs(CONFIG).map((s) => [s.name, { shape: s.shape, data: zeros(s.shape) }]));
    const hash = async (files: Map<string, Uint8Array>) => (await openExtractionBase(asTunedFiles(files), 'b')).hash;
    const h2 = await hash(pipelineFiles(tensors, 2));
    expect(await hash(pipelineFiles(tensors, 3))).toBe(h2);
    const bias = 'transformer_blocks.1.ff.net.2.bias';
    const tunedBias = new Map(tensors).set(bias, { shape: tensors.get(bias)!.shape, data: tensors.get(bias)!.data.map((x) => x + 0.5) });
    expect(await hash(pipelineFiles(tunedBias, 2))).not.toBe(h2);
    // Without _name_or_path (or with a local absolute path there) the id is the picked folder's name.
    expect((await openExtractionBase(asTunedFiles(pipelineFiles(tensors, 2, { _name_or_path: '/home/me/models/sd3' })), 'sd3-tiny')).id).toBe('sd3-tiny');

    // A bundle's hash, checked by range: the digest fed in pieces is the whole file's.
    const bytes = writeSafetensors(tensors);
    expect(new ContentHash().update(bytes.subarray(0, 1001)).update(bytes.subarray(1001, 1001)).update(bytes.subarray(1001)).digest()).toBe(contentHash(bytes));

    const studio = PRESETS['studio-s'].config; // q/k norms: the head width comes from their shape
    const s = new Map(parameterSpecs(studio).map((p) => [p.name, { shape: p.shape, data: zeros(p.shape) }]));
    expect((await openExtractionBase(asTunedFiles(new Map([['studio.safetensors', writeSafetensors(s, {}, 'F16')]])), 'x')).config).toEqual(studio);
  });

  it('reads the base by range: its headers, each targeted weight once and its 1-D tensors, never the other weights', { timeout: 60_000 }, async () => {
    const engine = await getEngine();
    const tensors = await tinyBase(engine);
    const files = pipelineFiles(tensors);
    const { files: picked, reads } = logged(files);
    const base = await openExtractionBase(picked, 'b');
    const { set } = await extractLoraFromFiles(engine, base, await openTunedTransformer(asTunedFiles(tunedFolder(tensors))), { rank: 2, targets: ['attn.to_q', 'attn.to_v'], name: 'x' });
    set.release();
    const targets = new Set(loraModuleNames(CONFIG, ['attn.to_q', 'attn.to_v']).map((m) => `${m.name}.weight`));
    let total = 0;
    let read = 0;
    for (const [path, bytes] of files) {
      if (!path.endsWith('-of-00002.safetensors')) continue;
      total += bytes.length;
      const mine = reads.filter((r) => r.path === path);
      read += mine.reduce((n, r) => n + r.end - r.begin, 0);
      const st = await ChunkedSafetensors.open({ name: path, size: bytes.length, read: async (b, e) => bytes.subarray(b, e) });
      for (const name of st.names()) {
        const e = st.entry(name)!;
        const touching = mine.filter((r) => r.begin < e.end && r.end > e.begin && e.end > e.begin).length;
        expect(touching, name).toBe(targets.has(name) || e.shape.length === 1 ? 1 : 0);
      }
    }
    expect(read / total).toBeLessThan(0.5);
    expect(reads.some((r) => r.path === 'sd3_tiny.safetensors')).toBe(false);
  });

  it('refuses a fine-tune that differs from the base in a tensor, and a base that differs from its config, naming the tensor', { timeout: 60_000 }, async () => {
    const engine = await getEngine();
    const tensors = await tinyBase(engine);
    const base = await openExtractionBase(asTunedFiles(pipelineFiles(tensors)), 'b');
    const refusal = async (run: () => Promise<unknown>): Promise<TunedInputError> => {
      const err = await run().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TunedInputError);
      return err as TunedInputError;
    };
    const extract = (tuned: Map<string, TensorToWrite>) => async () =>
      extractLoraFromFiles(engine, base, await openTunedTransformer(asTunedFiles(shardedFiles(tuned, 2, 'out/transformer'))), { rank: 2, targets: ATTN, name: 'x' });
    const where = 'in the base test/tiny-sd3 (transformer/diffusion_pytorch_model.safetensors.index.json (2 shards))';
    const tunedDesc = 'the fine-tune (out/transformer/diffusion_pytorch_model.safetensors.index.json (2 shards))';

    const missing = new Map([...tensors].filter(([n]) => n !== 'transformer_blocks.1.ff.net.2.bias'));
    const e1 = await refusal(extract(missing));
    expect(e1.message).toBe(`transformer_blocks.1.ff.net.2.bias is ${where} but not in ${tunedDesc}: the two are not the same architecture`);
    expect(e1.advice).toMatch(/Pick the fine-tune of this base, or the base it started from/);

    const ctx = tensors.get('context_embedder.weight')!;
    const wider = new Map(tensors).set('context_embedder.weight', { shape: [ctx.shape[0], 48], data: new Float32Array(ctx.shape[0] * 48) });
    expect((await refusal(extract(wider))).message).toBe(`context_embedder.weight is [64, 48] in ${tunedDesc} and [64, 32] ${where}: the fine-tune is of another model`);

    const extra = new Map(tensors).set('transformer_blocks.2.attn.to_q.weight', { shape: [64, 64], data: new Float32Array(64 * 64) });
    expect((await refusal(extract(extra))).message).toBe(`transformer_blocks.2.attn.to_q.weight is in ${tunedDesc} but not ${where}: the two are not the same architecture`);

    // The base against its own config.json, and a config of another model.
    const e4 = await refusal(() => openExtractionBase(asTunedFiles(pipelineFiles(tensors, 2, { num_layers: 3 })), 'b'));
    // Block 1 is no longer the last: its context modulation would be 6 chunks wide, not 2.
    expect(e4.message).toBe('transformer_blocks.1.norm1_context.linear.weight is [128, 64] in the base transformer/diffusion_pytorch_model.safetensors.index.json (2 shards), but transformer/config.json implies [384, 64]');
    expect(e4.advice).toMatch(/with its config\.json/);
    expect((await refusal(() => openExtractionBase(asTunedFiles(pipelineFiles(tensors, 2, { _class_name: 'FluxTransformer2DModel' })), 'b'))).message).toBe(
      'transformer/config.json is the config of a "FluxTransformer2DModel", not of an SD3Transformer2DModel',
    );
    // A bundle whose transformer is not the one model.json records.
    const e6 = await refusal(() => openExtractionBase(asTunedFiles(bundleFiles(tensors, '0123456789abcdef')), 'b'));
    expect(e6.message).toMatch(/^transformer\.safetensors does not match model\.json \(hash [0-9a-f]{16}, expected 0123456789abcdef\)/);
  });
});
