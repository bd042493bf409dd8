// What the studio keeps in IndexedDB, under these keys:
//   'runs'                 RunRecord[]: every run's summary (config, status, metric history, validation)
//   'checkpoint:<runId>'   the run's last Checkpoint (LoRA tensors, Adam moments, step, RNG, data order)
//   'dataset:current'      StoredDataset: the ingested images (one Float32Array) + captions + report, or the
//                          built-in split's parameters (it is regenerated bit for bit)
//   'dataset:edits'        caption edits by example id
//   'embeddings:current'   the text-embedding cache of the base's encoder (skips re-encoding after a reload)
//   'imports'              ImportRecord[]: imported LoRA files (bytes), usable in compare after a reload
// Every write that fails is a StorageError (quota or otherwise) with advice; nothing is swallowed here.
import type { EmbeddingSnapshot } from '../encode/cache';
import type { ReportData } from '../data/ingest/report';
import type { Checkpoint } from '../train/trainer';
import type { KeyValueStore } from './kv';
import type { RunSummary } from './protocol';

/** The LoRA a run starts from, copied when the run started (its source may train on, or be deleted). */
export interface StartLora {
  rank: number;
  alpha: number;
  targets: string[];
  tensors: Checkpoint['tensors'];
}

export interface RunRecord extends RunSummary {
  /** The base the run trains on (BaseInfo.id): a run resumes only on the same base. */
  baseId: string;
  /** Identifies the dataset (see datasetKey in dataset.ts): exact resume needs the same data. */
  datasetKey: string;
  /** Runs started together with interleave: true share a group id (resumed together, round-robin). */
  group: string | null;
  /** With `startFrom`: that run's LoRA, kept with this run so a resume starts from the same one. */
  startLora?: StartLora;
}

export type StoredDataset =
  | { kind: 'builtin'; name: string; split: 'clean' | 'broad'; count: number; resolution: number }
  | {
      kind: 'files';
      name: string;
      format: string;
      resolution: number;
      ids: string[];
      paths: string[];
      captions: string[];
      /** The caption as written in its file, when it differs from the normalised one (else ''). */
      rawCaptions: string[];
      /** Original sizes, for the bundle's data.jsonl. */
      sizes: Int32Array;
      /** [N, 3, H, W] in [-1, 1], exactly what the trainer reads. */
      images: Float32Array;
      report: ReportData;
    };

export interface ImportRecord {
  id: string;
  name: string;
  bytes: Uint8Array;
  createdAt: number;
}

/** What went wrong with the browser's storage, for advice that fits: each needs something else of the user. */
export type StorageFailure = 'quota' | 'disk-full' | 'blocked' | 'unknown';

export class StorageError extends Error {
  constructor(
    message: string,
    readonly advice: string,
    readonly quota: boolean,
    readonly kind: StorageFailure = quota ? 'quota' : 'unknown',
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/** QuotaExceededError, as IndexedDB reports it (a DOMException, or the transaction's error). */
export function isQuotaError(e: unknown): boolean {
  return classifyStorageError(e) === 'quota';
}

/**
 * The kind of a storage failure from what the browser threw. Chrome reports a full disk as an UnknownError
 * "Failed to write blobs (IOError)" or with FILE_ERROR_NO_SPACE, not as a quota error; private windows and
 * blocked site data surface as SecurityError / InvalidStateError or an "access denied".
 */
export function classifyStorageError(e: unknown): StorageFailure {
  const err = e as { name?: string; code?: number; message?: string } | null;
  if (!err) return 'unknown';
  const text = `${err.name ?? ''} ${err.message ?? ''}`;
  if (/NO_SPACE|no space|disk (is )?full|IOError|Failed to write blobs/i.test(text)) return 'disk-full';
  if (err.name === 'QuotaExceededError' || err.code === 22 || /quota/i.test(text)) return 'quota';
  if (err.name === 'SecurityError' || err.name === 'InvalidStateError' || /denied|not allowed|private|incognito|disabled/i.test(text)) return 'blocked';
  return 'unknown';
}

/** The browser's own words, or a plain note that it gave none (never an empty "()"). */
function detailOf(e: unknown): string {
  const d = (e instanceof Error ? [e.name && e.name !== 'Error' ? e.name : '', e.message].filter(Boolean).join(': ') : String(e ?? '')).trim();
  return d && d !== 'undefined' && d !== 'null' ? d : 'the browser gave no detail';
}

/**
 * A storage failure while storing `what`, with advice for its kind. `pausesTraining`: a run's checkpoint, whose
 * failure pauses the run (said only then).
 */
export function storageError(what: string, e: unknown, opts: { pausesTraining?: boolean } = {}): StorageError {
  const kind = classifyStorageError(e);
  const detail = detailOf(e);
  const paused = opts.pausesTraining ? ' Training is paused; it resumes from the last checkpoint that was stored.' : '';
  const keepOut = 'Download the project (Export and import) to keep a copy outside the browser.';
  switch (kind) {
    case 'quota':
      return new StorageError(
        `The browser refused to store ${what}: this site's storage quota is used up (${detail}).`,
        `Delete runs you no longer need (each keeps its LoRA and optimizer state) after exporting the ones to keep as files, or free disk space (the browser grants a share of the free disk).${paused} ${keepOut}`,
        true,
        kind,
      );
    case 'disk-full':
      return new StorageError(
        `Could not store ${what}: the disk is full (${detail}).`,
        `Free space on the disk this browser's profile is on, then resume. A browser may clear a site's data when the disk fills: check that your runs and dataset are still listed.${paused} ${keepOut}`,
        false,
        kind,
      );
    case 'blocked':
      return new StorageError(
        `The browser does not let this page store ${what} (${detail}).`,
        `Private or incognito windows and some site settings block or limit site storage: use a normal window and allow site data for this page.${paused} ${keepOut}`,
        false,
        kind,
      );
    default:
      return new StorageError(`Could not store ${what} in this browser's storage (${detail}).`, `Try again; if it keeps failing, reload the page.${paused} ${keepOut}`, false, kind);
  }
}

/** A write to the studio's storage, as its observer sees it (after the write, with its error if it failed). */
export type StoredWrite =
  | { kind: 'runs' }
  | { kind: 'checkpoint'; runId: string; checkpoint: Checkpoint }
  | { kind: 'checkpoint-deleted'; runId: string }
  | { kind: 'dataset' }
  | { kind: 'edits' };

export class StudioStorage {
  /**
   * Told of every write of runs, checkpoints and the dataset, stored or failed: the project folder
   * (project-folder.ts) follows the project through it, and keeps a checkpoint that IndexedDB refused.
   */
  observer: ((write: StoredWrite, error: unknown) => void) | null = null;

  constructor(readonly kv: KeyValueStore) {}

  private observe<T>(write: StoredWrite, done: Promise<T>): Promise<T> {
    const tell = (error: unknown) => {
      try {
        this.observer?.(write, error);
      } catch (e) {
        console.error('storage observer failed', e);
      }
    };
    return done.then(
      (v) => {
        tell(null);
        return v;
      },
      (e: unknown) => {
        tell(e ?? new Error('unknown storage failure'));
        throw e;
      },
    );
  }

  private async write(key: string, value: unknown, what: string): Promise<void> {
    try {
      await this.kv.set(key, value);
    } catch (e) {
      throw storageError(what, e);
    }
  }

  private async read<T>(key: string, what: string): Promise<T | undefined> {
    try {
      return await this.kv.get<T>(key);
    } catch (e) {
      const err = storageError(what, e);
      throw new StorageError(err.message.replace('store', 'read'), 'Reload the page; if it persists, the site data may be damaged: clear it in the browser settings (this deletes stored runs).', false);
    }
  }

  async loadRuns(): Promise<RunRecord[]> {
    const runs = await this.read<RunRecord[]>('runs', 'the run list');
    return Array.isArray(runs) ? runs : [];
  }

  async saveRuns(runs: readonly RunRecord[]): Promise<void> {
    await this.observe({ kind: 'runs' }, this.write('runs', runs, 'the run list'));
  }

  /** `runName`: what the user calls the run, for the message of a failed read (never the internal id). */
  async loadCheckpoint(runId: string, runName?: string): Promise<Checkpoint | undefined> {
    return this.read<Checkpoint>(`checkpoint:${runId}`, runName ? `the checkpoint of run "${runName}"` : 'a run\'s checkpoint');
  }

  /** `runName`: what the user calls the run (messages never show internal ids). */
  async saveCheckpoint(runId: string, ck: Checkpoint, runName = runId): Promise<void> {
    const save = async () => {
      try {
        await this.kv.set(`checkpoint:${runId}`, ck);
      } catch (e) {
        throw storageError(`the checkpoint of run "${runName}" (step ${ck.step})`, e, { pausesTraining: true });
      }
    };
    await this.observe({ kind: 'checkpoint', runId, checkpoint: ck }, save());
  }

  /**
   * After a failed write: reads back what storage still holds of the run and of the dataset, and says it, so
   * nothing is called safe that was not checked (a browser may have deleted the site's data with the failure).
   */
  async whatRemains(runId: string, runName: string): Promise<string> {
    const found: string[] = [];
    const missing: string[] = [];
    try {
      const ck = await this.kv.get<Checkpoint>(`checkpoint:${runId}`);
      if (ck && Number.isInteger(ck.step)) found.push(`the checkpoint of run "${runName}" at step ${ck.step}`);
      else missing.push(`any checkpoint of run "${runName}"`);
      const ds = await this.kv.get<StoredDataset>('dataset:current');
      if (ds) found.push(`the dataset "${ds.name}"`);
      else missing.push('the dataset');
      const runs = await this.kv.get<RunRecord[]>('runs');
      if (!Array.isArray(runs) || !runs.length) missing.push('the run list');
    } catch (e) {
      return `Storage could not be read back either (${e instanceof Error ? e.message : String(e)}): download the project now if the studio still shows your runs.`;
    }
    return [found.length ? `Checked just now: still stored: ${found.join(', ')}.` : 'Checked just now: nothing of it is stored any more.', missing.length ? `Not stored: ${missing.join(', ')}.` : ''].filter(Boolean).join(' ');
  }

  async deleteCheckpoint(runId: string, runName?: string): Promise<void> {
    const del = async () => {
      try {
        await this.kv.del(`checkpoint:${runId}`);
      } catch (e) {
        throw storageError(runName ? `the deletion of run "${runName}"` : 'the deletion of a run', e);
      }
    };
    await this.observe({ kind: 'checkpoint-deleted', runId }, del());
  }

  async loadDataset(): Promise<{ dataset: StoredDataset; edits: Record<string, string> } | undefined> {
    const dataset = await this.read<StoredDataset>('dataset:current', 'the dataset');
    if (!dataset) return undefined;
    const edits = (await this.read<Record<string, string>>('dataset:edits', 'the caption edits')) ?? {};
    return { dataset, edits };
  }

  async saveDataset(dataset: StoredDataset): Promise<void> {
    const save = async () => {
      await this.write('dataset:current', dataset, `the dataset "${dataset.name}"`);
      await this.write('dataset:edits', {}, 'the caption edits');
    };
    await this.observe({ kind: 'dataset' }, save());
  }

  async saveEdits(edits: Record<string, string>): Promise<void> {
    await this.observe({ kind: 'edits' }, this.write('dataset:edits', edits, 'the caption edits'));
  }

  async loadEmbeddings(): Promise<EmbeddingSnapshot | undefined> {
    return this.read<EmbeddingSnapshot>('embeddings:current', 'the text embeddings');
  }

  async saveEmbeddings(s: EmbeddingSnapshot): Promise<void> {
    await this.write('embeddings:current', s, 'the text embeddings');
  }

  async loadImports(): Promise<ImportRecord[]> {
    return (await this.read<ImportRecord[]>('imports', 'the imported LoRAs')) ?? [];
  }

  async saveImports(imports: readonly ImportRecord[]): Promise<void> {
    await this.write('imports', imports, 'the imported LoRAs');
  }
}
