// The IndexedDB layer on fake-indexeddb (a real IndexedDB implementation for Node) through idb-keyval: runs,
// checkpoints with Float32Arrays, the dataset, caption edits; quota errors become StorageErrors with advice.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN } from '../../src/train/config';
import type { Checkpoint } from '../../src/train/trainer';
import { idbStore, type KeyValueStore } from '../../src/worker/kv';
import { classifyStorageError, isQuotaError, StorageError, StudioStorage, type RunRecord, type StoredDataset } from '../../src/worker/persistence';
import { twoImageDataset } from './stored-dataset';
import { rewindToCheckpoint } from '../../src/worker/runs';

let dbCount = 0;
const freshStore = () => idbStore(`persistence-test-${++dbCount}`);

function record(id: string, over: Partial<RunRecord> = {}): RunRecord {
  const history = [1, 2, 3, 4, 5].map((step) => ({ step, loss: 1 / step, loss_main: 1 / step, loss_aux: null, aux_per_sample: 0, grad_norm: 0.5, lr: 1e-3, ms_per_step: 10, skipped: false }));
  return {
    id,
    name: `run ${id}`,
    method: 'soar',
    config: { ...DEFAULT_TRAIN },
    status: 'running',
    step: 5,
    checkpointStep: 4,
    history,
    validation: [{ step: 2, loss: 0.5 }, { step: 4, loss: 0.4 }, { step: 5, loss: 0.3 }],
    createdAt: 1,
    baseId: 'tiny-random-1',
    datasetKey: 'builtin:clean:8:8',
    group: 'i:x',
    ...over,
  };
}

describe('StudioStorage over idb-keyval', () => {
  it('stores runs and checkpoints (typed arrays stay typed) and deletes checkpoints', async () => {
    const s = new StudioStorage(freshStore());
    expect(await s.loadRuns()).toEqual([]);
    await s.saveRuns([record('a'), record('b', { status: 'done', step: 4 })]);
    const runs = await s.loadRuns();
    expect(runs.map((r) => r.id)).toEqual(['a', 'b']);
    expect(runs[0].history).toHaveLength(5);
    const ck: Checkpoint = {
      config: DEFAULT_TRAIN,
      step: 4,
      rng: { seed: [1, 2], counter: '12345678901234567890' },
      order: { epoch: 1, cursor: 3 },
      tensors: { 'transformer_blocks.0.attn.to_q.lora_A': { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) } },
      adam: { steps: [4], m: [new Float32Array([0.5, -0.25])], v: [new Float32Array([1e-8, 3])] },
      history: [],
      validation: [],
    };
    await s.saveCheckpoint('a', ck);
    const back = await s.loadCheckpoint('a');
    expect(back).toEqual(ck);
    expect(back!.tensors['transformer_blocks.0.attn.to_q.lora_A'].data).toBeInstanceOf(Float32Array);
    expect(back!.adam.v[0]).toBeInstanceOf(Float32Array);
    await s.deleteCheckpoint('a');
    expect(await s.loadCheckpoint('a')).toBeUndefined();
  });

  it('stores an ingested dataset as one Float32Array, and caption edits apart', async () => {
    const s = new StudioStorage(freshStore());
    const images = Float32Array.from({ length: 2 * 3 * 4 * 4 }, (_, i) => (i % 7) / 7 - 0.5);
    const ds: StoredDataset = twoImageDataset(4, { rawCaptions: ['', ' a  dog '], sizes: Int32Array.from([640, 480, 32, 32]), images });
    await s.saveDataset(ds);
    await s.saveEdits({ 'b.png': 'a brown dog' });
    const back = await s.loadDataset();
    expect(back!.dataset).toEqual(ds);
    expect((back!.dataset as Extract<StoredDataset, { kind: 'files' }>).images).toBeInstanceOf(Float32Array);
    expect(back!.edits).toEqual({ 'b.png': 'a brown dog' });
    await s.saveDataset({ kind: 'builtin', name: 'builtin:clean', split: 'clean', count: 8, resolution: 8 });
    expect((await s.loadDataset())!.edits).toEqual({}); // a new dataset starts without edits
  });

  it('turns a quota failure into a StorageError with advice, never a silent loss', async () => {
    const real = freshStore();
    const full: KeyValueStore = {
      ...real,
      set: async () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      },
    };
    const s = new StudioStorage(full);
    const err = await s.saveRuns([record('a')]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).quota).toBe(true);
    expect((err as StorageError).message).toMatch(/quota/);
    expect((err as StorageError).advice).toMatch(/Delete runs/);
    expect(isQuotaError(new DOMException('x', 'DataCloneError'))).toBe(false);
  });

  it('classifies storage failures (quota, full disk, blocked, unknown) with advice that fits, naming the run', async () => {
    const failing = (error: unknown): StudioStorage =>
      new StudioStorage({
        ...freshStore(),
        set: async () => {
          throw error;
        },
      });
    const ck = { step: 12 } as Parameters<StudioStorage['saveCheckpoint']>[1];
    const caught = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as StorageError);
    // Chrome's full disk: an UnknownError about blobs, not a quota error.
    const disk = (await caught(failing(new DOMException('Failed to write blobs (IOError)', 'UnknownError')).saveCheckpoint('run-mxapcwl7-sft', ck, 'SFT 1')))!;
    expect(disk.kind).toBe('disk-full');
    expect(disk.message).toBe('Could not store the checkpoint of run "SFT 1" (step 12): the disk is full (UnknownError: Failed to write blobs (IOError)).');
    expect(disk.message).not.toContain('run-mxapcwl7');
    expect(disk.advice).toMatch(/^Free space on the disk/);
    expect(disk.advice).toMatch(/Training is paused/);
    expect(disk.advice).toMatch(/Download the project/);
    expect(disk.advice).not.toMatch(/private|incognito|nothing already stored was lost/i);
    expect(classifyStorageError(new Error('FILE_ERROR_NO_SPACE'))).toBe('disk-full');
    // A quota error with no message: never an empty "()"; outside a checkpoint, nothing about training.
    const quota = (await caught(failing(new DOMException('', 'QuotaExceededError')).saveEmbeddings({} as never)))!;
    expect(quota.kind).toBe('quota');
    expect(quota.message).toMatch(/storage quota is used up \(QuotaExceededError\)\.$/);
    expect(quota.advice).not.toMatch(/Training is paused/);
    const bare = (await caught(failing(new DOMException('', '')).saveRuns([record('a')])))!;
    expect(bare.message).not.toMatch(/\(\)/);
    expect(bare.message).toMatch(/the browser gave no detail/);
    const blocked = (await caught(failing(new DOMException('The operation is insecure.', 'SecurityError')).saveRuns([record('a')])))!;
    expect(blocked.kind).toBe('blocked');
    expect(blocked.advice).toMatch(/Private or incognito/);
  });

  it('a failed read or deletion of a checkpoint names the run, never its internal id', async () => {
    // Chrome on a full disk: after a failed write the connection closes and the next read is aborted.
    const aborted = new DOMException('The transaction was aborted, so the request cannot be fulfilled.', 'AbortError');
    const s = new StudioStorage({
      ...freshStore(),
      get: async () => {
        throw aborted;
      },
      del: async () => {
        throw aborted;
      },
    });
    const caught = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as StorageError);
    const read = (await caught(s.loadCheckpoint('run-mxaxzsdi-sft', 'SFT 1')))!;
    expect(read.message).toMatch(/^Could not read the checkpoint of run "SFT 1" /);
    const unnamed = (await caught(s.loadCheckpoint('run-mxaxzsdi-sft')))!;
    const deleted = (await caught(s.deleteCheckpoint('run-mxaxzsdi-sft', 'SFT 1')))!;
    expect(deleted.message).toContain('the deletion of run "SFT 1"');
    for (const e of [read, unnamed, deleted]) expect(e.message).not.toContain('run-mxaxzsdi');
  });

  it('a reload brings a running run back paused at its checkpoint, history and validation cut there', () => {
    const r = rewindToCheckpoint(record('a'));
    expect(r.status).toBe('paused');
    expect(r.step).toBe(4);
    expect(r.history.map((h) => h.step)).toEqual([1, 2, 3, 4]);
    expect(r.validation.map((v) => v.step)).toEqual([2, 4]);
    const done = rewindToCheckpoint(record('b', { status: 'done', step: 4 }));
    expect(done.status).toBe('done');
    expect(done.history).toHaveLength(5); // untouched: step == checkpointStep
  });
});
