// Files → "A full fine-tune as a LoRA" on the worker side, in Node (Dawn, fake-indexeddb, the tiny preset): picked
// files in, progress per module, the LoRA listed like an imported file (compared, exported, back after a reload)
// with its energy kept; wrong picks refused with what to do while the studio keeps working.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { peftKey } from '../../src/io/lora-keys';
import { PRESETS } from '../../src/model/config';
import { ATTENTION_TARGETS, loraModuleNames } from '../../src/model/lora';
import { parameterSpecs } from '../../src/model/params';
import { idbStore } from '../../src/worker/kv';
import type { UiToWorker } from '../../src/worker/protocol';
import { lowRankDelta, shardedFiles, tunedTensors } from '../io/tuned-fixtures';
import { getEngine } from '../tensor/harness';
import { Harness } from './harness';

const ATTN = [...ATTENTION_TARGETS];

/** The picked files as the page sends them (File objects with their paths in the picked folder). */
function picked(files: Map<string, Uint8Array>): Array<{ path: string; file: File }> {
  return [...files].map(([path, bytes]) => ({ path, file: new File([bytes.slice()], path.slice(path.lastIndexOf('/') + 1)) }));
}

const extract = (files: Map<string, Uint8Array>, rank = 4, name = 'run'): UiToWorker => ({ type: 'lora/extract', name, files: picked(files), rank, targets: ATTN });

describe('import a full fine-tune (worker)', () => {
  it('extracts a sharded transformer folder into a listed LoRA; bad picks are refused and the studio goes on', { timeout: 120_000 }, async () => {
    const engine = await getEngine();
    const kv = idbStore('extract-test-1');
    const h = new Harness(engine, kv);
    await h.send({ type: 'base/load', preset: 'tiny' });
    await h.send({ type: 'data/builtin', split: 'clean', count: 4 });
    const base = new Map<string, TensorToWrite>();
    for (const [n, t] of h.studio.loadedBase!.base.model.weights) base.set(n, { shape: t.shape, data: await t.toArray() });

    // Refusals first: not safetensors, a shard missing, another model's weights. Nothing is added.
    await h.send(extract(new Map([['notes.safetensors', new TextEncoder().encode('hello, not a tensor file')]])));
    let err = h.last('lora/extract-error')!;
    expect(err.message).toMatch(/^The fine-tune could not be imported: notes\.safetensors: header length \d+ is over/);
    expect(err.advice).toMatch(/not a safetensors file, or it is damaged or truncated/);

    const modules = loraModuleNames(PRESETS.tiny.config, ATTN);
    const deltas = new Map(modules.slice(0, 3).map((m, k) => [`${m.name}.weight`, lowRankDelta(m.out, m.in, 2, 40 + k)]));
    const folder = shardedFiles(tunedTensors(base, deltas), 2, 'run/transformer');
    folder.set('run/transformer/config.json', new TextEncoder().encode('{"_class_name": "SD3Transformer2DModel"}'));
    const partial = new Map(folder);
    partial.delete('run/transformer/diffusion_pytorch_model-00001-of-00002.safetensors');
    await h.send(extract(partial));
    err = h.last('lora/extract-error')!;
    expect(err.message).toMatch(/names 1 shard\(s\) that were not picked: diffusion_pytorch_model-00001-of-00002\.safetensors/);
    expect(err.advice).toMatch(/every shard/);

    const other = new Map(parameterSpecs(PRESETS['studio-s'].config).map((s) => [s.name, { shape: s.shape, data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)) }]));
    await h.send(extract(new Map([['sd35.safetensors', writeSafetensors(other)]])));
    err = h.last('lora/extract-error')!;
    expect(err.message).toMatch(/in sd35\.safetensors and \[[\d, ]+\] in the base tiny-random-1: the fine-tune is of another model/);
    expect(err.advice).toMatch(/base loaded now \(tiny-random-1\)/);
    expect(h.of('lora/imported')).toHaveLength(0);

    // Two at once: the second waits for nothing and is told so.
    await Promise.all([h.send(extract(folder)), h.send(extract(folder))]);
    expect(h.last('lora/extract-error')!.message).toBe('An extraction is already running.');
    const progress = h.of('lora/extract-progress');
    expect(progress).toHaveLength(modules.length);
    expect(progress.at(-1)).toMatchObject({ done: modules.length, total: modules.length, module: modules.at(-1)!.name });
    const imported = h.last('lora/imported')!;
    expect(imported).toMatchObject({ runId: 'import-1', name: 'run (rank 4)' });
    const done = h.last('lora/extracted')!;
    expect(done).toMatchObject({ runId: 'import-1', name: 'run (rank 4)', source: 'run/transformer/diffusion_pytorch_model.safetensors.index.json (2 shards)' });
    expect(done.summary).toMatchObject({ rank: 4, modules: modules.length });
    expect(done.summary.min).toBeGreaterThan(1 - 1e-9); // rank-2 changes and unchanged modules: everything kept
    expect(done.modules.map((m) => m.module)).toEqual(modules.map((m) => m.name));

    // Listed like an imported file: exported with the change in it, and a Compare column.
    await h.send({ type: 'lora/export', runId: 'import-1', naming: 'peft', dtype: 'F32' });
    const file = readSafetensors(new Uint8Array(h.last('file/download')!.bytes));
    expect(JSON.parse(file.metadata.extraction)).toMatchObject({ rank: 4, modules: modules.length });
    for (const [name, d] of deltas) {
      const module = name.replace(/\.weight$/, '');
      const A = file.tensors.get(peftKey(module, 'lora_A'))!;
      const B = file.tensors.get(peftKey(module, 'lora_B'))!;
      const [r, inF] = A.shape;
      let worst = 0;
      for (let o = 0; o < B.shape[0]; o++)
        for (let i = 0; i < inF; i++) {
          let x = 0;
          for (let j = 0; j < r; j++) x += B.data[o * r + j] * A.data[j * inF + i];
          worst = Math.max(worst, Math.abs(x - d[o * inF + i]));
        }
      expect(worst, module).toBeLessThan(1e-5);
    }
    await h.send({ type: 'compare/sample', request: { prompts: ['a red circle'], seed: 1, steps: 2, cfgScale: 2, runs: ['import-1'], captureTrajectory: false } });
    expect(h.last('compare/result')!.columns.map((c) => c.label)).toEqual(['base', 'LoRA (run (rank 4))']);

    // After a reload it is among the imports again.
    const reloaded = new Harness(engine, kv);
    await reloaded.send({ type: 'base/load', preset: 'tiny' });
    expect(reloaded.last('lora/imported')).toMatchObject({ runId: 'import-1', name: 'run (rank 4)' });
  });
});
