// Opening a fine-tuned transformer as diffusers saves it: one file, or shards with their index (in memory and
// from a folder on disk), the transformer/ subfolder of a whole pipeline; and each wrong pick refused saying
// what was wrong and what to pick instead.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { tunedFilesAt } from '../../src/io/node-byte-source';
import { openTunedTransformer, TunedInputError, type TensorReader } from '../../src/io/tuned-transformer';
import { rand } from '../tensor/harness';
import { asTunedFiles, shardedFiles } from './tuned-fixtures';

const TENSORS = new Map<string, TensorToWrite>(
  Array.from({ length: 7 }, (_, i) => [`transformer_blocks.${i}.attn.to_q.weight`, { shape: [3, 4], data: Float32Array.from(rand(12, i + 1)) }] as const),
);

async function expectAll(reader: TensorReader, tensors = TENSORS): Promise<void> {
  for (const [name, t] of tensors) {
    expect(reader.entry(name)?.shape).toEqual(t.shape);
    expect(Array.from((await reader.read(name)).data)).toEqual(Array.from(t.data));
  }
}

async function refusal(files: Map<string, Uint8Array>): Promise<TunedInputError> {
  const err = await openTunedTransformer(asTunedFiles(files)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TunedInputError);
  return err as TunedInputError;
}

describe('a fine-tuned transformer, opened', () => {
  it('one file, or 3 shards with their index (F32 and F16), read tensor by tensor like the whole file', async () => {
    const single = writeSafetensors(TENSORS);
    const one = await openTunedTransformer(asTunedFiles(new Map([['tuned.safetensors', single]])));
    expect(one.description).toBe('tuned.safetensors');
    await expectAll(one);

    const sharded = await openTunedTransformer(asTunedFiles(shardedFiles(TENSORS, 3)));
    expect(sharded.description).toBe('transformer/diffusion_pytorch_model.safetensors.index.json (3 shards)');
    await expectAll(sharded);

    const f16 = shardedFiles(TENSORS, 2, 'transformer', 'F16');
    const whole = new Map([...f16].filter(([p]) => p.endsWith('.safetensors')).flatMap(([, b]) => [...readSafetensors(b).tensors]));
    await expectAll(await openTunedTransformer(asTunedFiles(f16)), whole);
  });

  it("a whole pipeline folder: the transformer/ subfolder's files, not the VAE's or the text encoders'", async () => {
    const files = shardedFiles(TENSORS, 2, 'run/transformer');
    files.set('run/vae/diffusion_pytorch_model.safetensors', writeSafetensors({ x: { shape: [1], data: [1] } }));
    files.set('run/text_encoder/model.safetensors', writeSafetensors({ y: { shape: [1], data: [2] } }));
    files.set('run/transformer/config.json', new TextEncoder().encode('{}'));
    await expectAll(await openTunedTransformer(asTunedFiles(files)));
  });

  it('a folder on disk (sharded, or a pipeline with transformer/), and a single file, opened by range', async () => {
    const root = mkdtempSync(join(tmpdir(), 'soar-tuned-'));
    for (const [path, bytes] of shardedFiles(TENSORS, 2, 'out/transformer')) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), bytes);
    }
    for (const at of [join(root, 'out'), join(root, 'out/transformer')]) {
      const opened = await tunedFilesAt(at);
      await expectAll(await openTunedTransformer(opened.files));
      await opened.close();
    }
    writeFileSync(join(root, 'one.safetensors'), writeSafetensors(TENSORS));
    const opened = await tunedFilesAt(join(root, 'one.safetensors'));
    await expectAll(await openTunedTransformer(opened.files));
    await opened.close();
  });

  it('refuses a missing shard, naming it and saying to pick every shard', async () => {
    const files = shardedFiles(TENSORS, 3);
    files.delete('transformer/diffusion_pytorch_model-00002-of-00003.safetensors');
    const e = await refusal(files);
    expect(e.message).toMatch(/names 1 shard\(s\) that were not picked: diffusion_pytorch_model-00002-of-00003\.safetensors/);
    expect(e.advice).toMatch(/every shard its index names/);
  });

  it('refuses shards without their index, an index that puts a tensor in the wrong shard, and a broken index', async () => {
    const files = shardedFiles(TENSORS, 2);
    const indexPath = 'transformer/diffusion_pytorch_model.safetensors.index.json';
    const noIndex = new Map(files);
    noIndex.delete(indexPath);
    expect((await refusal(noIndex)).message).toMatch(/sharded .* but its index .* was not picked/);

    const index = JSON.parse(new TextDecoder().decode(files.get(indexPath))) as { weight_map: Record<string, string> };
    const [first] = Object.keys(index.weight_map);
    const other = Object.values(index.weight_map).find((s) => s !== index.weight_map[first])!;
    const wrong = new Map(files).set(indexPath, new TextEncoder().encode(JSON.stringify({ weight_map: { ...index.weight_map, [first]: other } })));
    const e = await refusal(wrong);
    expect(e.message).toContain(`puts "${first}" in ${other}, which has no such tensor`);
    expect(e.advice).toMatch(/different saves/);

    expect((await refusal(new Map(files).set(indexPath, new TextEncoder().encode('{"weight_map": 3}')))).message).toMatch(/not a safetensors index: it has no "weight_map" object/);
    expect((await refusal(new Map(files).set(indexPath, new TextEncoder().encode('{nope')))).message).toMatch(/not a safetensors index: it is not valid JSON/);
  });

  it('refuses no safetensors at all, several unrelated files, and files in several folders', async () => {
    const e = await refusal(new Map([['transformer/config.json', new Uint8Array(2)]]));
    expect(e.message).toMatch(/no \.safetensors file was picked \(got transformer\/config\.json\)/);
    expect(e.advice).toMatch(/transformer folder/);
    const bytes = writeSafetensors(TENSORS);
    expect((await refusal(new Map([['a.safetensors', bytes], ['b.safetensors', bytes]]))).message).toMatch(/several \.safetensors files \(a\.safetensors, b\.safetensors\) and no index/);
    expect((await refusal(new Map([['x/a.safetensors', bytes], ['y/b.safetensors', bytes]]))).message).toMatch(/in several folders \(x, y\)/);
  });

  it('a file that is not safetensors is refused with the reader\'s reason and its name', async () => {
    const err = await openTunedTransformer(asTunedFiles(new Map([['photo.safetensors', new TextEncoder().encode('\x89PNG not really a safetensors')]]))).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^photo\.safetensors: header length \d+ is over the .* limit: not a safetensors file/);
  });
});
