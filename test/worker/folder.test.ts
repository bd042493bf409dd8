// The project folder (src/worker/folder.ts, project-folder.ts) over an in-memory folder with Chrome's semantics
// (memory-folder.ts): atomic file writes, one write at a time with the last state winning, a failed write that
// leaves the previous file and says what failed, a checkpoint IndexedDB refused that still reaches the folder,
// keep/open/restore with their refusals. The studio around it is a stand-in: runs as records, the storage layer
// itself (StudioStorage, whose writes the folder follows).
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/train/trainer';
import { StudioDataset } from '../../src/worker/dataset';
import { datasetFromBytes } from '../../src/worker/dataset-file';
import { DATASET_FILE, FolderWriter, folderWriteError, PROJECT_FILE, readFolderFile, writeFileAtomically, type FolderWrite } from '../../src/worker/folder';
import type { KeyValueStore } from '../../src/worker/kv';
import { StudioStorage, type RunRecord, type StoredDataset } from '../../src/worker/persistence';
import { projectFromBytes } from '../../src/worker/project';
import { ProjectFolder } from '../../src/worker/project-folder';
import type { BaseInfo, FolderStatus, WorkerToUi } from '../../src/worker/protocol';
import { rewindToCheckpoint, summaryOf } from '../../src/worker/runs';
import { sampleCheckpoint, sampleRecord } from '../io/fixtures';
import { twoImageDataset } from './stored-dataset';
import { MemoryFolder } from './memory-folder';

const BASE: BaseInfo = { id: 'tiny-random-1', preset: 'tiny', source: 'random', resolution: 2, parameters: 1000, trainable: true, textEncoder: 'WGSL kernels' };
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : null);

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

// ------------------------------------------------------------------------------------------------ folder.ts

describe('folder files', () => {
  it('writes and reads back a file; a missing file reads as null', async () => {
    const dir = new MemoryFolder('picked');
    expect(await readFolderFile(dir, 'x.bin')).toBeNull();
    await writeFileAtomically(dir, 'x.bin', bytes('first'));
    expect(text(await readFolderFile(dir, 'x.bin'))).toBe('first');
    await writeFileAtomically(dir, 'x.bin', bytes('second, longer'));
    expect(text(await readFolderFile(dir, 'x.bin'))).toBe('second, longer');
  });

  it('a write that fails half-way, or is never finished, leaves the previous file whole', async () => {
    const dir = new MemoryFolder('picked');
    await writeFileAtomically(dir, 'p.bin', bytes('the good project'));
    dir.fail.set('p.bin', new DOMException('FILE_ERROR_NO_SPACE', 'InvalidModificationError'));
    await expect(writeFileAtomically(dir, 'p.bin', bytes('a newer project that does not fit'))).rejects.toThrow('FILE_ERROR_NO_SPACE');
    expect(text(await readFolderFile(dir, 'p.bin'))).toBe('the good project');
    expect(dir.open).toBe(0); // the writable was aborted
    // A tab closed mid-write: the writable is never closed.
    const w = await (await dir.getFileHandle('p.bin')).createWritable();
    await w.write(bytes('half of'));
    expect(text(await readFolderFile(dir, 'p.bin'))).toBe('the good project');
  });
});

describe('FolderWriter', () => {
  it('one write at a time: requests during a write make one more write, of the latest state', async () => {
    const dir = new MemoryFolder('picked');
    let state = 0;
    const taken: number[] = [];
    const g = gate();
    dir.gate = g.promise;
    const written: number[] = [];
    const writer = new FolderWriter<FolderWrite & { n: number }>(
      dir,
      async () => {
        taken.push(state);
        return { n: state, files: [{ name: 'state.txt', bytes: bytes(String(state)) }] };
      },
      { written: (w) => written.push(w.n), failed: (e) => expect.fail(String(e)) },
    );
    const first = writer.request();
    expect(writer.busy).toBe(true);
    for (let i = 1; i <= 10; i++) {
      state = i;
      void writer.request();
      await Promise.resolve();
    }
    g.open();
    await first;
    await writer.whenIdle();
    expect(writer.busy).toBe(false);
    expect(dir.maxOpen).toBe(1); // never two writes at once
    expect(taken).toEqual([0, 10]); // the first state, then only the last one
    expect(written).toEqual([0, 10]);
    expect(text(dir.bytes('state.txt'))).toBe('10');
    // After it went idle, a request writes again.
    state = 11;
    await writer.request();
    expect(written).toEqual([0, 10, 11]);
  });

  it('a failed write is reported with its file, keeps the previous file, and the next request writes', async () => {
    const dir = new MemoryFolder('picked');
    let state = 'v1';
    const failures: Array<{ file: string | null; message: string }> = [];
    const done: string[] = [];
    const writer = new FolderWriter(
      dir,
      async () => ({ files: [{ name: 'a.txt', bytes: bytes(`a ${state}`) }, { name: 'b.txt', bytes: bytes(`b ${state}`) }] }),
      { written: () => done.push(state), failed: (e, _w, file) => failures.push({ file, message: (e as Error).message }) },
    );
    await writer.request();
    state = 'v2';
    dir.fail.set('b.txt', new DOMException('disk went away', 'NotReadableError'));
    await writer.request(); // never throws
    expect(failures).toEqual([{ file: 'b.txt', message: 'disk went away' }]);
    expect(text(dir.bytes('a.txt'))).toBe('a v2'); // files before the failed one are in place
    expect(text(dir.bytes('b.txt'))).toBe('b v1'); // the failed one is as it was
    state = 'v3';
    await writer.request();
    expect(text(dir.bytes('b.txt'))).toBe('b v3');
    expect(done).toEqual(['v1', 'v3']);
    // A failure in making the write (not in a file) is reported too.
    const broken = new FolderWriter(dir, async () => {
      throw new Error('no snapshot');
    }, { written: () => undefined, failed: (e, w, file) => failures.push({ file, message: `${(e as Error).message} ${w}` }) });
    await broken.request();
    expect(failures.at(-1)).toEqual({ file: null, message: 'no snapshot null' });
  });

  it('says what failed and what to do, by the kind of failure', () => {
    const denied = folderWriteError(new DOMException('The request is not allowed', 'NotAllowedError'), 'picked', PROJECT_FILE);
    expect(denied.message).toBe('The browser no longer lets the studio write soar-project.safetensors to the folder "picked" (NotAllowedError: The request is not allowed).');
    expect(denied.advice).toMatch(/^Press "Allow writing"/);
    const gone = folderWriteError(new DOMException('A requested file or directory could not be found', 'NotFoundError'), 'picked', PROJECT_FILE);
    expect(gone.message).toMatch(/the folder is gone \(moved, renamed or deleted\)/);
    const full = folderWriteError(new DOMException('FILE_ERROR_NO_SPACE', 'InvalidModificationError'), 'picked', DATASET_FILE);
    expect(full.message).toMatch(/^Could not write soar-dataset\.safetensors to the folder "picked": the disk is full/);
    for (const e of [denied, gone, full]) expect(e.advice).toMatch(/The folder still holds the project as it was last written .* and training goes on\.$/);
    const other = folderWriteError(new Error(''), 'picked', null);
    expect(other.message).not.toMatch(/\(\)/);
  });
});

// ------------------------------------------------------------------------------------------------ project-folder.ts

/** A KeyValueStore in memory (values kept as they are: the folder handle too); checkpoint writes can be refused. */
function memoryKv(): KeyValueStore & { refuseCheckpoints: boolean } {
  const m = new Map<string, unknown>();
  const kv = {
    refuseCheckpoints: false,
    get: async <T>(k: string) => m.get(k) as T | undefined,
    set: async (k: string, v: unknown) => {
      if (kv.refuseCheckpoints && k.startsWith('checkpoint:')) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      m.set(k, v);
    },
    del: async (k: string) => void m.delete(k),
    keys: async () => [...m.keys()],
  };
  return kv;
}

const tinyDataset = (): StoredDataset => twoImageDataset(2, { rawCaptions: ['', ''], images: Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => (i % 5) / 5 - 0.5) });

function checkpointAt(step: number): Checkpoint {
  const ck = sampleCheckpoint();
  const scale = step / 3;
  return { ...ck, step, tensors: Object.fromEntries(Object.entries(ck.tensors).map(([k, t]) => [k, { shape: t.shape, data: t.data.map((v) => v * scale) }])) };
}

/** A studio stand-in around one ProjectFolder: runs as records, StudioStorage over an in-memory store. */
class Bench {
  readonly messages: WorkerToUi[] = [];
  records: RunRecord[] = [];
  dataset: StudioDataset | null = null;
  readonly storage: StudioStorage;
  readonly folder: ProjectFolder;

  constructor(readonly kv = memoryKv()) {
    this.storage = new StudioStorage(kv);
    this.folder = new ProjectFolder({
      kv,
      storage: this.storage,
      post: (m) => this.messages.push(m),
      runs: {
        records: () => this.records,
        get: (id) => {
          const record = this.records.find((r) => r.id === id);
          return record ? { record } : undefined;
        },
        delete: async (id) => {
          this.records = this.records.filter((r) => r.id !== id);
          await this.storage.deleteCheckpoint(id);
          await this.storage.saveRuns(this.records);
        },
      },
      base: async () => BASE,
      dataset: () => this.dataset,
      useDataset: async (file) => {
        this.dataset = StudioDataset.fromStored(file.dataset, file.edits);
        await this.storage.saveDataset(file.dataset);
        return true;
      },
      addRuns: async (runs) => {
        for (const run of runs) {
          const record = rewindToCheckpoint({ ...run.record, checkpointStep: run.checkpoint?.step ?? 0 });
          if (record.status === 'running') record.status = 'paused';
          if (run.checkpoint) await this.storage.saveCheckpoint(record.id, run.checkpoint);
          this.records.push(record);
        }
        await this.storage.saveRuns(this.records);
        return this.records.map(summaryOf);
      },
    });
    this.storage.observer = (w, e) => this.folder.observe(w, e);
  }

  /** A run with a stored checkpoint at `step`, and the dataset in use. */
  async withRun(step = 3): Promise<RunRecord> {
    this.dataset = StudioDataset.fromStored(tinyDataset(), {});
    const ck = checkpointAt(step);
    const record = { ...sampleRecord('a', ck), step, checkpointStep: step, status: 'running' as const };
    this.records.push(record);
    await this.storage.saveCheckpoint('a', ck);
    await this.storage.saveRuns(this.records);
    return record;
  }

  /** What RunJob.checkpoint does: the checkpoint, then the run list naming it (a refused checkpoint pauses). */
  async checkpoint(record: RunRecord, step: number): Promise<void> {
    record.step = step;
    try {
      await this.storage.saveCheckpoint(record.id, checkpointAt(step));
      record.checkpointStep = step;
    } catch {
      record.status = 'paused';
    }
    await this.storage.saveRuns(this.records);
  }

  state(): FolderStatus | null {
    const m = this.messages.filter((x): x is Extract<WorkerToUi, { type: 'folder/state' }> => x.type === 'folder/state').at(-1);
    if (!m) throw new Error('no folder/state posted');
    return m.folder;
  }

  last<T extends WorkerToUi['type']>(type: T): Extract<WorkerToUi, { type: T }> | undefined {
    return this.messages.filter((x): x is Extract<WorkerToUi, { type: T }> => x.type === type).at(-1);
  }
}

function folderProject(dir: MemoryFolder) {
  return projectFromBytes(dir.bytes(PROJECT_FILE)!);
}

describe('ProjectFolder', () => {
  it('keeps the project in an empty folder: the runs with their checkpoints and the dataset, read back', async () => {
    const b = new Bench();
    const record = await b.withRun(3);
    const dir = new MemoryFolder('picked');
    await b.folder.keep(dir);
    await b.folder.idle();
    const project = folderProject(dir);
    expect(project.base).toEqual(BASE);
    expect(project.runs).toHaveLength(1);
    expect(project.runs[0].checkpoint).toEqual(checkpointAt(3));
    expect(project.runs[0].record).toEqual(rewindToCheckpoint(record)); // as a reload would bring it back: paused
    expect(project.runs[0].record.status).toBe('paused');
    expect(datasetFromBytes(dir.bytes(DATASET_FILE)!)).toEqual({ dataset: tinyDataset(), edits: {} });
    const st = b.state()!;
    expect(st).toMatchObject({ name: 'picked', permission: 'granted', writing: false, held: null, error: null });
    expect(st.written).toMatchObject({ runs: [{ name: 'run a', step: 3 }], dataset: { name: 'photos', count: 2 } });
    expect(await b.kv.get('folder:handle')).toBe(dir); // remembered for the next visit
  });

  it('follows every checkpoint, coalescing: one write at a time, the last state wins, the dataset once', async () => {
    const b = new Bench();
    const record = await b.withRun(3);
    const dir = new MemoryFolder('picked');
    await b.folder.keep(dir);
    await b.folder.idle();
    expect(dir.writes.get(PROJECT_FILE)).toBe(1);
    const g = gate();
    dir.gate = g.promise; // a slow disk: checkpoints arrive faster than the folder takes them
    for (let step = 4; step <= 8; step++) await b.checkpoint(record, step);
    g.open();
    await b.folder.idle();
    expect(dir.maxOpen).toBe(1);
    expect(dir.writes.get(PROJECT_FILE)).toBeLessThanOrEqual(3); // the first, the one under way, then the last state
    expect(folderProject(dir).runs[0].checkpoint!.step).toBe(8);
    expect(dir.writes.get(DATASET_FILE)).toBe(1);
    // A caption edit writes the dataset again; a run list write with nothing new writes nothing.
    b.dataset!.setCaption('b.png', 'a brown dog');
    await b.storage.saveEdits(b.dataset!.editsRecord());
    await b.folder.idle();
    expect(dir.writes.get(DATASET_FILE)).toBe(2);
    expect(datasetFromBytes(dir.bytes(DATASET_FILE)!).edits).toEqual({ 'b.png': 'a brown dog' });
    const before = dir.writes.get(PROJECT_FILE);
    await b.storage.saveRuns(b.records);
    await b.folder.idle();
    expect(dir.writes.get(PROJECT_FILE)).toBe(before);
    // Deleting the run writes the project without it.
    await b.folder.idle();
    b.records = [];
    await b.storage.deleteCheckpoint('a');
    await b.storage.saveRuns([]);
    await b.folder.idle();
    expect(folderProject(dir).runs).toEqual([]);
  });

  it('a failed folder write is its own error, leaves the previous project, and the next checkpoint writes', async () => {
    const b = new Bench();
    const record = await b.withRun(3);
    const dir = new MemoryFolder('picked');
    await b.folder.keep(dir);
    await b.folder.idle();
    dir.fail.set(PROJECT_FILE, new DOMException('FILE_ERROR_NO_SPACE', 'InvalidModificationError'));
    await b.checkpoint(record, 4);
    await b.folder.idle();
    expect(folderProject(dir).runs[0].checkpoint!.step).toBe(3); // the previous file, whole
    const st = b.state()!;
    expect(st.error!.message).toMatch(/^Could not write soar-project\.safetensors to the folder "picked": the disk is full/);
    expect(st.error!.advice).toMatch(/Free space/);
    expect(record.checkpointStep).toBe(4); // training and the browser's storage went on
    await b.checkpoint(record, 5);
    await b.folder.idle();
    expect(folderProject(dir).runs[0].checkpoint!.step).toBe(5);
    expect(b.state()!.error).toBeNull();
  });

  it('a checkpoint IndexedDB refused still reaches the folder', async () => {
    const b = new Bench();
    const record = await b.withRun(3);
    const dir = new MemoryFolder('picked');
    await b.folder.keep(dir);
    await b.folder.idle();
    b.kv.refuseCheckpoints = true;
    await b.checkpoint(record, 6);
    await b.folder.idle();
    expect(record.checkpointStep).toBe(3); // the browser kept the old one
    const run = folderProject(dir).runs[0];
    expect(run.checkpoint).toEqual(checkpointAt(6));
    expect(run.record.checkpointStep).toBe(6);
    expect(run.record.step).toBe(6);
  });

  it('keep refuses a folder that holds another project; open brings it into an empty studio and keeps it there', async () => {
    const a = new Bench();
    await a.withRun(3);
    const dir = new MemoryFolder('picked');
    await a.folder.keep(dir);
    await a.folder.idle();
    const original = dir.bytes(PROJECT_FILE)!.slice();

    // Another studio (a cleared origin: nothing stored).
    const b = new Bench();
    await b.folder.restore();
    expect(b.state()).toBeNull();
    await b.folder.keep(dir);
    const refused = b.last('folder/error')!;
    expect(refused.action).toBe('keep');
    expect(refused.message).toBe('The folder "picked" already holds a SOAR Studio project (run "run a" at step 3); the studio does not write over it.');
    expect(refused.advice).toMatch(/^Open it with "Open project folder…"/);
    expect(dir.bytes(PROJECT_FILE)).toEqual(original);
    expect(b.folder.dir).toBeNull();

    await b.folder.open(dir);
    await b.folder.idle();
    expect(b.records.map((r) => [r.id, r.status, r.step, r.checkpointStep])).toEqual([['a', 'paused', 3, 3]]);
    expect(b.records[0].history).toEqual(a.records[0].history.filter((h) => h.step <= 3));
    expect(await b.storage.loadCheckpoint('a')).toEqual(checkpointAt(3));
    expect(b.dataset!.stored).toEqual(tinyDataset());
    expect(b.last('runs/restored')!.runs.map((r) => r.id)).toEqual(['a']);
    expect(b.last('folder/opened')).toMatchObject({ name: 'picked', added: ['"run a" (step 3)'], skipped: [], replaced: [], dataset: 'photos' });
    // (the sample run names another dataset than the folder's, and the note says what that means)
    expect(b.last('folder/opened')!.notes).toEqual(['"run a" was trained on another dataset than the folder\'s "photos": load that dataset again to resume it.']);
    expect(b.folder.dir).toBe(dir);
    expect(b.state()).toMatchObject({ name: 'picked', held: null, error: null });
    expect(folderProject(dir).runs.map((r) => r.record.id)).toEqual(['a']);

    // Opened again: the same run is not added twice; a newer checkpoint in the folder replaces the studio's.
    await b.folder.open(dir);
    expect(b.last('folder/opened')).toMatchObject({ added: [], skipped: ['"run a"'] });
    expect(b.records).toHaveLength(1);
    const c = new Bench();
    const mine = await c.withRun(2);
    await c.folder.open(dir);
    expect(c.last('folder/opened')).toMatchObject({ skipped: ['"run a"'] }); // it is training: left alone
    // ... and the folder, which has it further on, is held rather than written over, until the run catches up.
    expect(c.state()!.held).toBe('The folder holds more than this browser: run "run a" is at step 3 there, 2 here.');
    expect(folderProject(dir).runs[0].checkpoint!.step).toBe(3);
    mine.status = 'paused';
    await c.folder.open(dir);
    expect(c.last('folder/opened')).toMatchObject({ replaced: ['"run a" (now at step 3, was 2)'] });
    expect(c.records.map((r) => r.checkpointStep)).toEqual([3]);
    expect(c.state()!.held).toBeNull();
    // Held writes resume by themselves once the studio is further on than the folder.
    const d = new Bench();
    const training = await d.withRun(1);
    await d.folder.open(dir);
    expect(d.state()!.held).toMatch(/is at step 3 there, 1 here/);
    await d.checkpoint(training, 2);
    await d.folder.idle();
    expect(folderProject(dir).runs[0].checkpoint!.step).toBe(3);
    await d.checkpoint(training, 4);
    await d.folder.idle();
    expect(d.state()!.held).toBeNull();
    expect(folderProject(dir).runs[0].checkpoint!.step).toBe(4);
  });

  it('open refuses a folder without a project, or with a damaged file, and changes nothing', async () => {
    const b = new Bench();
    const empty = new MemoryFolder('holiday photos');
    await b.folder.open(empty);
    expect(b.last('folder/error')).toMatchObject({ action: 'open', message: 'The folder "holiday photos" holds no SOAR Studio project: there is no soar-project.safetensors in it.' });

    const a = new Bench();
    await a.withRun(3);
    const dir = new MemoryFolder('picked');
    await a.folder.keep(dir);
    await a.folder.idle();
    const good = dir.bytes(PROJECT_FILE)!;
    dir.files.set(PROJECT_FILE, { bytes: good.subarray(0, good.length - 10), lastModified: 1 });
    await b.folder.open(dir);
    let err = b.last('folder/error')!;
    expect(err.message).toMatch(/^soar-project\.safetensors in the folder "picked" cannot be used: not a SOAR Studio project file \(.*truncated/);
    expect(err.advice).toMatch(/^Nothing was changed/);
    dir.files.set(PROJECT_FILE, { bytes: good, lastModified: 1 });
    const data = dir.bytes(DATASET_FILE)!.slice();
    data[data.length - 1] = 0xff; // a pixel becomes NaN
    data[data.length - 2] = 0xff;
    dir.files.set(DATASET_FILE, { bytes: data, lastModified: 1 });
    await b.folder.open(dir);
    err = b.last('folder/error')!;
    expect(err.message).toMatch(/^soar-dataset\.safetensors in the folder "picked" cannot be used: the dataset file is damaged: tensor "images" holds NaN/);
    expect(b.records).toEqual([]);
    expect(b.dataset).toBeNull();
    expect(b.folder.dir).toBeNull();
    expect(b.last('runs/restored')).toBeUndefined();
  });

  it('after a reload the remembered folder is read back: writes wait for permission, and hold when it has more', async () => {
    const a = new Bench();
    await a.withRun(3);
    const dir = new MemoryFolder('picked');
    await a.folder.keep(dir);
    await a.folder.idle();
    const writes = dir.writes.get(PROJECT_FILE);

    // The browser asks again after a reload: nothing is written until the page got the permission.
    dir.permission = 'prompt';
    const same = new Bench(a.kv);
    same.records = a.records;
    same.dataset = a.dataset;
    await same.folder.restore();
    expect(same.state()).toMatchObject({ name: 'picked', permission: 'prompt' });
    expect(dir.writes.get(PROJECT_FILE)).toBe(writes);
    dir.permission = 'granted';
    await same.folder.retry();
    await same.folder.idle();
    expect(same.state()).toMatchObject({ permission: 'granted', held: null, error: null });
    expect(same.state()!.written).toMatchObject({ runs: [{ name: 'run a', step: 3 }] });

    // A browser that lost the run: the folder has more, so nothing is written over it until the user says.
    const lost = new Bench(a.kv);
    await lost.folder.restore();
    const held = lost.state()!;
    expect(held.held).toBe('The folder holds more than this browser: run "run a" (step 3) is not in this browser.');
    const before = dir.writes.get(PROJECT_FILE);
    await lost.storage.saveRuns([]);
    await lost.folder.idle();
    expect(dir.writes.get(PROJECT_FILE)).toBe(before);
    expect(folderProject(dir).runs).toHaveLength(1);
    await lost.folder.open(null); // "Open it": the kept folder's runs come back
    expect(lost.records.map((r) => r.id)).toEqual(['a']);
    expect(lost.state()!.held).toBeNull();

    // Stop keeping it: the files stay, nothing is remembered.
    await lost.folder.forget();
    expect(lost.state()).toBeNull();
    expect(await lost.kv.get('folder:handle')).toBeUndefined();
    expect(folderProject(dir).runs).toHaveLength(1);
  });
});
