// Fuzzing every entry point that reads a user's model files: safetensors, LoRA import (PEFT, kohya and
// OneTrainer files through importLora, as the studio calls it), checkpoint files, project files and base bundles
// (model.json, the text encoder's config/vocabulary/weights, the transformer). Valid files are mutated (bytes,
// the header's JSON, the JSON inside metadata values, repeated keys), seeded so every run sees the same inputs.
// Validation is strict, so most mutants are refused; each test still requires a few accepted inputs, so the
// success path (and its memory bound) is exercised. Each input must parse to in-bounds data holding at most a fixed multiple of its size, or be refused with an
// Error of the project's own that has a message; never a TypeError, RangeError or SyntaxError.
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { textEncoderConfigFor } from '../../src/encode/config';
import { buildVocabulary, Tokenizer } from '../../src/encode/tokenizer';
import { initTextWeights, loadTextEncoder, saveTextEncoder } from '../../src/encode/weights';
import { parseManifest } from '../../src/io/base-model';
import { loadBase } from '../../src/io/base-runtime';
import { checkpointFromBytes, checkpointToBytes } from '../../src/io/checkpoint-file';
import { exportLora, importLora } from '../../src/io/lora-format';
import { PRESETS } from '../../src/model/config';
import { LoraSet } from '../../src/model/lora';
import { parameterSpecs } from '../../src/model/params';
import { projectFromBytes, projectToBytes } from '../../src/worker/project';
import { datasetFromBytes, datasetToBytes } from '../../src/worker/dataset-file';
import { getEngine, rand } from '../tensor/harness';
import { sampleCheckpoint, sampleRecord, sampleRoundCheckpoint } from '../io/fixtures';
import { FuzzRandom, fuzz, mutateBytesN, mutateJson } from './harness';
import { twoImageDataset } from '../worker/stored-dataset';

const TINY = PRESETS.tiny;
const BASE_REF = { config: TINY.config, id: 'tiny', hash: 'h-tiny' };
const utf8 = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// ------------------------------------------------------------------------------------------------ mutators

/** JSON text of any value, deep nesting included (JSON.stringify itself overflows near 5,000 levels). */
function toJson(v: unknown): string {
  let depth = 0;
  while (Array.isArray(v) && v.length === 1) {
    depth++;
    v = v[0];
  }
  let inner: string;
  if (Array.isArray(v)) inner = `[${v.map(toJson).join(',')}]`;
  else if (v && typeof v === 'object') inner = `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  else inner = JSON.stringify(v) ?? 'null';
  return '['.repeat(depth) + inner + ']'.repeat(depth);
}

function splitFile(bytes: Uint8Array): { header: string; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: text(bytes.subarray(8, 8 + n)), data: bytes.subarray(8 + n) };
}

function joinFile(header: string, data: Uint8Array): Uint8Array {
  const json = utf8.encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const EDGE_STRINGS = ['', 'null', '[]', '{}', 'abc', '-1', '0', '1e400', '{"a":', '[[[[', '0x10', 'NaN', '1.5', '"x"', 'true'];

/**
 * One mutated safetensors file: bytes of the header region (the whole file when small), the header's JSON, a
 * metadata value (its JSON when it is JSON), or a repeated key.
 */
function mutateSafetensors(seed: Uint8Array, r: FuzzRandom, metaKeys: readonly string[] = []): Uint8Array {
  const { header, data } = splitFile(seed);
  const mode = r.int(10);
  if (mode < 5) {
    // Large files: mutate the header and the first data bytes (where the structure is), keep the rest.
    const cut = Math.min(seed.length, 8 + utf8.encode(header).length + 256);
    const head = mutateBytesN(seed.subarray(0, cut), r);
    const out = new Uint8Array(head.length + seed.length - cut);
    out.set(head);
    out.set(seed.subarray(cut), head.length);
    return out;
  }
  const json = JSON.parse(header) as Record<string, unknown>;
  if (mode < 7) return joinFile(toJson(mutateJson(json, r)), data);
  if (mode === 7) {
    // A repeated key, with the same or another value.
    const keys = Object.keys(json);
    const k = r.pick(keys);
    const v = r.int(2) ? json[k] : json[r.pick(keys)];
    return joinFile(`{${JSON.stringify(k)}:${toJson(v)},${header.trimEnd().slice(1)}`, data);
  }
  const meta = { ...((json.__metadata__ as Record<string, string>) ?? {}) };
  const k = metaKeys.length && r.int(4) ? r.pick(metaKeys) : r.pick([...Object.keys(meta), 'format']);
  let parsed: unknown;
  try {
    parsed = JSON.parse(meta[k] ?? '');
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined && r.int(3)) meta[k] = toJson(mutateJson(parsed, r));
  else if (r.int(5)) meta[k] = r.pick(EDGE_STRINGS);
  else delete meta[k];
  return joinFile(toJson({ ...json, __metadata__: meta }), data);
}

function* inputs(n: number, seed: number, make: (r: FuzzRandom) => Uint8Array): Generator<Uint8Array> {
  const r = new FuzzRandom(seed);
  for (let i = 0; i < n; i++) yield make(r);
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ------------------------------------------------------------------------------------------------ seeds

function tensors(entries: Record<string, { shape: number[]; seed: number }>): Map<string, TensorToWrite> {
  return new Map(Object.entries(entries).map(([k, { shape, seed }]) => [k, { shape, data: Float32Array.from(rand(size(shape), seed, -0.5, 0.5)) }]));
}

async function loraSeeds(): Promise<Uint8Array[]> {
  const e = await getEngine();
  const set = LoraSet.create(e, 'seed', TINY.config, { rank: 2, alpha: 4, targets: ['attn.to_q', 'attn.to_k', 'attn.to_v', 'attn.to_out.0'] }, 3);
  const info = { baseModelId: 'tiny', baseModelHash: 'h-tiny', method: 'soar' as const, steps: 10 };
  const ours = [await exportLora(set, info, { naming: 'peft', dtype: 'F32' }), await exportLora(set, info, { naming: 'kohya', dtype: 'F16' })];
  set.release();
  const D = 64;
  const peft = writeSafetensors(
    tensors({
      'transformer_blocks.0.attn.to_q.lora_A.weight': { shape: [2, D], seed: 1 },
      'transformer_blocks.0.attn.to_q.lora_B.weight': { shape: [D, 2], seed: 2 },
      'transformer_blocks.1.attn.to_v.lora_A.weight': { shape: [2, D], seed: 3 },
      'transformer_blocks.1.attn.to_v.lora_B.weight': { shape: [D, 2], seed: 4 },
      'transformer_blocks.1.attn.to_v.alpha': { shape: [], seed: 5 },
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight': { shape: [2, 4], seed: 6 },
    }),
    { lora_adapter_metadata: '{"transformer.lora_alpha": 4, "r": 2}' },
    'F16',
  );
  const kohya = writeSafetensors(
    tensors({
      'lora_unet_joint_blocks_0_x_block_attn_qkv.lora_down.weight': { shape: [2, D], seed: 7 },
      'lora_unet_joint_blocks_0_x_block_attn_qkv.lora_up.weight': { shape: [3 * D, 2], seed: 8 },
      'lora_unet_joint_blocks_0_x_block_attn_qkv.alpha': { shape: [], seed: 9 },
      'lora_transformer_transformer_blocks_1_attn_to_out_0.lora_down.weight': { shape: [2, D], seed: 10 },
      'lora_transformer_transformer_blocks_1_attn_to_out_0.lora_up.weight': { shape: [D, 2], seed: 11 },
    }),
  );
  return [...ours, peft, kohya];
}

/** A text encoder for the tiny preset with a small vocabulary (a few kB: cheap to mutate). */
function smallTextEncoder(): Uint8Array {
  const vocab = buildVocabulary([['red', 'blue', 'circle', 'square']], { maxLength: TINY.meta.max_text_tokens, buckets: 4 });
  const c = textEncoderConfigFor(TINY, new Tokenizer(vocab).vocabSize);
  return saveTextEncoder(c, vocab, initTextWeights(c, 1));
}

function tinyTransformer(): Uint8Array {
  const t = new Map<string, TensorToWrite>();
  for (const s of parameterSpecs(TINY.config)) t.set(s.name, { shape: s.shape, data: new Float32Array(size(s.shape)).fill(0.01) });
  return writeSafetensors(t, {}, 'F16');
}

const MANIFEST = {
  format: 'soar-studio-base/1',
  id: 'tiny-fuzz',
  preset: 'tiny',
  config: TINY.config,
  meta: TINY.meta,
  files: { transformer: 'transformer.safetensors', text_encoder: 'text_encoder.safetensors' },
  transformer_hash: '',
  notes: 'seed',
};

function mutateText(seed: string, r: FuzzRandom): string {
  if (r.int(2)) return text(mutateBytesN(utf8.encode(seed), r));
  return toJson(mutateJson(JSON.parse(seed), r));
}

// ------------------------------------------------------------------------------------------------ the fuzz

describe('fuzzing untrusted model files', () => {
  it('safetensors: in-bounds tensors or a SafetensorsError', async () => {
    const seed = writeSafetensors(tensors({ a: { shape: [2, 3], seed: 1 }, b: { shape: [4], seed: 2 }, c: { shape: [0, 5], seed: 3 } }), { format: 'x', n: '[1, 2]' }, 'F16');
    const bf16 = joinFile(JSON.stringify({ y: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] }, z: { dtype: 'F32', shape: [1, 1], data_offsets: [4, 8] } }), new Uint8Array([0x80, 0x3f, 0x20, 0xc0, 0, 0, 0x80, 0x3f]));
    const seeds = [seed, bf16];
    const { accepted, refused } = await fuzz('safetensors', inputs(800, 101, (r) => mutateSafetensors(r.pick(seeds), r)), readSafetensors, {
      maxBytesPerInputByte: 2, // F16 and BF16 widen to F32: at most twice the file
      accept: (value) => {
        for (const t of (value as ReturnType<typeof readSafetensors>).tensors.values()) expect(t.data.length).toBe(size(t.shape));
      },
    });
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(200);
  });

  it('LoRA import (ours in both namings, external PEFT, sd-scripts and OneTrainer kohya): a LoraSet or a LoraImportError', async () => {
    const e = await getEngine();
    const seeds = await loraSeeds();
    const before = e.gpu.getStats().bytesInUse;
    const metaKeys = ['target_modules', 'lora_rank', 'lora_alpha', 'format', 'lora_adapter_metadata', 'alpha_folded', 'base_model_hash'];
    const { accepted } = await fuzz(
      'LoRA import',
      inputs(700, 202, (r) => mutateSafetensors(r.pick(seeds), r, metaKeys)),
      (bytes) => {
        const result = importLora(bytes, BASE_REF, e, 'fuzz', { allowOtherBase: true });
        const parameters = result.set.parameterCount();
        result.set.release();
        return { parameters };
      },
      {
        // A shared kohya lora_down is copied for q, k and v: at most 3x the file's values, widened from F16.
        accept: (value, bytes) => expect((value as { parameters: number }).parameters * 4).toBeLessThanOrEqual(8 * bytes.length),
      },
    );
    expect(accepted).toBeGreaterThan(20);
    expect(e.gpu.getStats().bytesInUse).toBe(before); // nothing left on the GPU by a refusal
  });

  it('checkpoint files: a checked Checkpoint or an Error naming the field', async () => {
    const seed = checkpointToBytes(sampleCheckpoint());
    const keys = ['config', 'step', 'rng', 'order', 'adam_steps', 'history', 'validation', 'format'];
    const { accepted } = await fuzz('checkpoint', inputs(600, 303, (r) => mutateSafetensors(seed, r, keys)), checkpointFromBytes, {
      maxBytesPerInputByte: 1,
      accept: (value) => {
        const ck = value as ReturnType<typeof checkpointFromBytes>;
        expect(Number.isSafeInteger(ck.step)).toBe(true);
        expect(ck.adam.m.length).toBe(Object.keys(ck.tensors).length);
        expect(ck.adam.m.every((m, j) => m.length === ck.adam.v[j].length)).toBe(true);
      },
    });
    expect(accepted).toBeGreaterThanOrEqual(3);
  });

  it('checkpoint files in the middle of a sampling round: the round checked against the checkpoint, or an Error', async () => {
    const seed = checkpointToBytes(sampleRoundCheckpoint());
    const keys = ['round', 'round', 'round', 'step', 'format'];
    const { accepted } = await fuzz('checkpoint-round', inputs(600, 305, (r) => mutateSafetensors(seed, r, keys)), checkpointFromBytes, {
      maxBytesPerInputByte: 1,
      accept: (value) => {
        const ck = value as ReturnType<typeof checkpointFromBytes>;
        if (!ck.round) return;
        expect(ck.round.step).toBeLessThanOrEqual(ck.step);
        expect(Object.keys(ck.round.tensors).sort()).toEqual(Object.keys(ck.tensors).sort());
        for (const [name, t] of Object.entries(ck.round.tensors)) expect(t.data.length).toBe(ck.tensors[name].data.length);
      },
    });
    expect(accepted).toBeGreaterThanOrEqual(3);
  });

  it('project files: runs checked at import or an Error naming the run and field', async () => {
    const ck = sampleCheckpoint();
    const seed = projectToBytes(null, [
      { record: sampleRecord('a', ck), checkpoint: ck },
      { record: sampleRecord('b', null), checkpoint: null },
    ]);
    const { accepted } = await fuzz('project', inputs(600, 404, (r) => mutateSafetensors(seed, r, ['runs', 'runs', 'base', 'format'])), projectFromBytes, {
      maxBytesPerInputByte: 1,
      accept: (value) => {
        for (const run of (value as ReturnType<typeof projectFromBytes>).runs) {
          expect(Array.isArray(run.record.history)).toBe(true);
          if (run.checkpoint) expect(run.checkpoint.adam.m.length).toBe(run.checkpoint.adam.steps.length);
        }
      },
    });
    expect(accepted).toBeGreaterThanOrEqual(3);
  });

  it('dataset files of a project folder: a checked dataset or an Error naming the field', async () => {
    const report = { ...twoImageDataset(2).report, skipped: [{ reason: 'no-caption' as const, path: 'c.png', message: 'no caption' }], warnings: [{ kind: 'upscaled' as const, path: 'b.png', message: 'upscaled' }] };
    const files = datasetToBytes(twoImageDataset(2, { images: Float32Array.from({ length: 24 }, (_, i) => i / 24 - 0.5), report }), { 'b.png': 'a brown dog' });
    const builtin = datasetToBytes({ kind: 'builtin', name: 'builtin:clean', split: 'clean', count: 8, resolution: 8 }, { 'clean-1': 'x' });
    const keys = ['ids', 'paths', 'captions', 'raw_captions', 'sizes', 'report', 'report', 'edits', 'key', 'count', 'resolution', 'kind', 'split'];
    const { accepted } = await fuzz('dataset file', inputs(500, 606, (r) => mutateSafetensors(r.pick([files, builtin]), r, keys)), datasetFromBytes, {
      maxBytesPerInputByte: 2, // Int32Array sizes and the report are parsed from the header's JSON
      accept: (value) => {
        const { dataset } = value as ReturnType<typeof datasetFromBytes>;
        if (dataset.kind !== 'files') return;
        const n = dataset.ids.length;
        expect(dataset.images.length).toBe(n * 3 * dataset.resolution ** 2);
        expect([dataset.paths.length, dataset.captions.length, dataset.rawCaptions.length, dataset.sizes.length / 2]).toEqual([n, n, n, n]);
      },
    });
    expect(accepted).toBeGreaterThanOrEqual(3);
  });

  it('base bundles on the host: model.json and the text encoder file', async () => {
    const manifest = JSON.stringify(MANIFEST);
    const m = await fuzz('model.json', inputs(600, 505, (r) => utf8.encode(mutateText(manifest, r))), (bytes) => parseManifest(text(bytes)));
    expect(m.accepted).toBeGreaterThanOrEqual(3);
    const te = smallTextEncoder();
    const t = await fuzz('text encoder', inputs(500, 606, (r) => mutateSafetensors(te, r, ['config', 'vocabulary', 'config', 'vocabulary', 'format'])), loadTextEncoder, { maxBytesPerInputByte: 2 });
    expect(t.accepted).toBeGreaterThanOrEqual(3);
  });

  it('base bundles on the engine: a loaded base or an Error, within bounded GPU memory, nothing left by a refusal', async () => {
    const e = await getEngine();
    const seed = { manifest: JSON.stringify(MANIFEST), transformer: tinyTransformer(), textEncoder: smallTextEncoder() };
    const before = e.gpu.getStats().bytesInUse;
    const r = new FuzzRandom(707);
    const cases = Array.from({ length: 120 }, () => {
      const which = r.int(3);
      return {
        manifest: which === 0 ? mutateText(seed.manifest, r) : seed.manifest,
        transformer: which === 1 ? mutateSafetensors(seed.transformer, r) : seed.transformer,
        textEncoder: which === 2 ? mutateSafetensors(seed.textEncoder, r, ['config', 'vocabulary']) : seed.textEncoder,
      };
    });
    // The bundle travels as one input (its three files) so the harness's checks apply to it as a whole.
    const { accepted } = await fuzz(
      'base bundle',
      cases.map((_, i) => Uint8Array.of(i)),
      (index) => {
        const files = cases[index[0]];
        const used = e.gpu.getStats().bytesInUse;
        const base = loadBase(e, files);
        const gpuBytes = e.gpu.getStats().bytesInUse - used;
        base.model.release();
        base.textEncoder.release();
        return { gpuBytes, inputBytes: files.manifest.length + files.transformer.length + files.textEncoder.length };
      },
      { accept: (v) => expect((v as { gpuBytes: number }).gpuBytes).toBeLessThanOrEqual(4 * (v as { inputBytes: number }).inputBytes) },
    );
    expect(accepted).toBeGreaterThanOrEqual(3);
    expect(e.gpu.getStats().bytesInUse).toBe(before);
  });
});
