// The studio's files: LoRA export/import (imports are kept in IndexedDB and usable in compare like a run), the
// project file (project.ts) and the reference-trainer bundle (bundle.ts). Every file goes to the UI as a
// 'file/download' with its bytes transferred, not copied.
import type { Engine } from '../tensor/engine';
import { exportLora, importLora } from '../io/lora-format';
import type { LoraSet } from '../model/lora';
import { stackLoras } from '../model/lora-stack';
import { isMethod, type Method } from '../train/methods/catalog';
import type { StudioBase } from './base';
import { buildBundle, BundleError, type BundleOptions } from './bundle';
import type { StudioDataset } from './dataset';
import type { ImageEncoder } from './images';
import type { Mutex } from './lock';
import { StorageError, type ImportRecord, type RunRecord, type StudioStorage } from './persistence';
import { projectFromBytes, projectToBytes, type ProjectRun } from './project';
import type { RunSummary } from './protocol';
import { rewindToCheckpoint, type Post, type RunManager } from './runs';

export interface FilesContext {
  base(): Promise<StudioBase>;
  currentBase(): StudioBase | null;
  dataset(): Promise<StudioDataset>;
  engine(): Promise<Engine>;
  readonly lock: Mutex;
  readonly storage: StudioStorage;
  readonly runs: RunManager;
  readonly post: Post;
  readonly imageEncoder: ImageEncoder;
}

interface Imported {
  record: ImportRecord;
  set: LoraSet;
  warnings: string[];
  /** From the file's metadata when it is one of ours (null: not recorded, never guessed from the name). */
  method: Method | null;
  /** Metadata kept when the import is exported again: how a LoRA taken from a full fine-tune was made (extract.ts). */
  notes: Record<string, string>;
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'run';
}

/** The bytes in an ArrayBuffer of their own, ready to transfer. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer as ArrayBuffer;
}

export class StudioFiles {
  private readonly imports = new Map<string, Imported>();
  /** Every import stored, loaded or not (one made for another base stays stored for when it is back). */
  private readonly importRecords = new Map<string, ImportRecord>();
  private importsRestored = false;

  constructor(private readonly ctx: FilesContext) {}

  /** An imported LoRA for compare (null: no import with this id). */
  imported(id: string): { label: string; set: LoraSet } | null {
    const imp = this.imports.get(id);
    return imp ? { label: `LoRA (${imp.record.name})`, set: imp.set } : null;
  }

  /** The base is being replaced: imports are released and read again for the next one. */
  releaseImports(): void {
    for (const imp of this.imports.values()) imp.set.release();
    this.imports.clear();
    this.importsRestored = false;
  }

  private download(fileName: string, mime: string, bytes: Uint8Array): void {
    const buffer = ownBuffer(bytes);
    this.ctx.post({ type: 'file/download', fileName, mime, bytes: buffer }, [buffer]);
  }

  async exportLora(id: string, naming: 'peft' | 'kohya', dtype: 'F32' | 'F16'): Promise<void> {
    let stacked: LoraSet | null = null;
    try {
      const { info } = await this.ctx.base();
      const imp = this.imports.get(id);
      let set: LoraSet;
      let name: string;
      let method: Method | 'unknown';
      let steps = 0;
      let config = {};
      let notes: Record<string, string> = {};
      if (imp) {
        set = imp.set;
        name = imp.record.name;
        method = imp.method ?? 'unknown';
        notes = imp.notes;
      } else {
        const job = this.ctx.runs.get(id);
        if (!job) throw new Error(`there is no run or imported LoRA with id ${id}`);
        set = await job.lora();
        name = job.record.name;
        method = job.record.method;
        steps = job.trainer?.step ?? job.record.checkpointStep;
        config = job.record.config;
        const from = job.record.startFrom;
        if (from) {
          // The run trained on top of another run's LoRA: the file holds both, stacked, so that applied to the
          // base alone it is the model the run trained.
          const adapters = await job.adapters();
          const engine = await this.ctx.engine();
          stacked = await this.ctx.lock.run(() => stackLoras(engine, set.name, adapters));
          set = stacked;
          config = { ...job.record.config, rank: set.config.rank, lora_alpha: set.config.alpha, lora_targets: set.config.targets };
          notes = { started_from: `${from.name} (${from.method.toUpperCase()}, step ${from.step})`, stacked: `that run's LoRA (rank ${adapters[0].config.rank}) and this run's (rank ${job.record.config.rank}), stacked` };
        }
      }
      const bytes = await this.ctx.lock.run(() => exportLora(set, { baseModelId: info.id, baseModelHash: this.ctx.currentBase()?.base.manifest.transformer_hash ?? '', method, config, steps, notes }, { naming, dtype }));
      this.download(`${slug(name)}-${method}-step${steps}${naming === 'kohya' ? '-kohya' : ''}.safetensors`, 'application/octet-stream', bytes);
    } catch (e) {
      this.ctx.post({ type: 'lora/error', message: `The LoRA could not be exported: ${message(e)}` });
    } finally {
      stacked?.release();
    }
  }

  /** Returns the import's id when it is in use (stored or not), null when it was refused. */
  async importLora(name: string, bytes: Uint8Array, record?: ImportRecord): Promise<string | null> {
    let inUse: string | null = null;
    try {
      const { base, info } = await this.ctx.base();
      const engine = await this.ctx.engine();
      const id = record?.id ?? this.newImportId();
      const result = importLora(bytes, { config: base.model.config, id: info.id, hash: base.manifest.transformer_hash }, engine, name);
      const rec: ImportRecord = record ?? { id, name, bytes, createdAt: Date.now() };
      const method = isMethod(result.metadata.method) ? result.metadata.method : null;
      const notes: Record<string, string> = result.metadata.extraction ? { extraction: result.metadata.extraction } : {};
      this.imports.set(id, { record: rec, set: result.set, warnings: result.warnings, method, notes });
      this.importRecords.set(id, rec);
      inUse = id;
      this.ctx.post({ type: 'lora/imported', runId: id, warnings: result.warnings, name });
      if (!record) await this.ctx.storage.saveImports([...this.importRecords.values()]);
      return id;
    } catch (e) {
      if (e instanceof StorageError) {
        this.ctx.post({ type: 'storage/error', message: e.message, advice: `${e.advice} The LoRA is usable now but will not survive a reload.` });
        return inUse;
      }
      // A stored import that does not fit the base now loaded is kept for when that base is back.
      if (record) console.warn(`stored LoRA "${name}" was not loaded: ${message(e)}`);
      else this.ctx.post({ type: 'lora/error', message: `"${name}" could not be imported: ${message(e)}` });
      return null;
    }
  }

  private newImportId(): string {
    let n = this.importRecords.size + 1;
    while (this.importRecords.has(`import-${n}`)) n++;
    return `import-${n}`;
  }

  /** Imported LoRAs from IndexedDB, once, when the base is there. */
  async restoreImports(): Promise<void> {
    if (this.importsRestored || !this.ctx.currentBase()) return;
    this.importsRestored = true;
    let stored: ImportRecord[];
    try {
      stored = await this.ctx.storage.loadImports();
    } catch (e) {
      if (e instanceof StorageError) this.ctx.post({ type: 'storage/error', message: e.message, advice: e.advice });
      return;
    }
    for (const r of stored) this.importRecords.set(r.id, r);
    for (const r of stored) if (!this.imports.has(r.id)) await this.importLora(r.name, r.bytes, r);
  }

  async exportProject(): Promise<void> {
    try {
      const runs = [];
      for (const r of this.ctx.runs.records()) {
        // A run that is not stepping exports what its trainer holds when storage has less: a checkpoint the
        // browser refused (quota, full disk) is in this file, the way out the storage alert offers.
        const t = r.status !== 'running' ? this.ctx.runs.get(r.id)?.trainer : null;
        let ck: ProjectRun['checkpoint'] = null;
        try {
          ck = (await this.ctx.storage.loadCheckpoint(r.id, r.name)) ?? null;
        } catch (e) {
          if (!t) throw e;
        }
        if (t && t.step > (ck?.step ?? 0)) {
          ck = await this.ctx.lock.run(() => t.checkpoint());
          runs.push({ record: rewindToCheckpoint({ ...r, checkpointStep: ck.step }), checkpoint: ck });
        } else runs.push({ record: rewindToCheckpoint(r), checkpoint: ck });
      }
      const bytes = projectToBytes(this.ctx.currentBase()?.info ?? null, runs);
      this.download('soar-studio-project.safetensors', 'application/octet-stream', bytes);
    } catch (e) {
      this.ctx.post({ type: 'project/error', message: `The project could not be exported: ${message(e)}`, advice: 'Nothing was changed. Check the browser console; a storage error above may say more.' });
    }
  }

  async importProject(bytes: Uint8Array): Promise<void> {
    try {
      const project = projectFromBytes(bytes);
      const runs = await this.addProjectRuns(project.runs);
      this.ctx.post({ type: 'runs/restored', runs });
    } catch (e) {
      if (e instanceof StorageError) {
        this.ctx.post({ type: 'storage/error', message: e.message, advice: e.advice });
        return;
      }
      this.ctx.post({ type: 'project/error', message: `The project could not be imported: ${message(e)}`, advice: 'Nothing was changed. Choose a .safetensors file made by "Export project" in SOAR Studio (a LoRA file is imported with "Import LoRA").' });
    }
  }

  /**
   * Adds a project's runs (a project file, or a project folder: project-folder.ts) to the studio, paused at their
   * checkpoints, with new ids where theirs are taken; returns every run's summary. Throws; posts nothing.
   */
  async addProjectRuns(runs: readonly ProjectRun[]): Promise<RunSummary[]> {
    const records: RunRecord[] = [];
    const taken = new Set(this.ctx.runs.records().map((r) => r.id));
    for (const run of runs) {
      const record = rewindToCheckpoint({ ...run.record, checkpointStep: run.checkpoint?.step ?? 0 });
      let id = record.id;
      for (let k = 2; taken.has(id); k++) id = `${record.id}-${k}`;
      taken.add(id);
      record.id = id;
      if (record.status === 'running' || record.status === 'queued') record.status = 'paused';
      if (run.checkpoint) await this.ctx.storage.saveCheckpoint(id, run.checkpoint, run.record.name);
      records.push(record);
    }
    const all = [...(await this.ctx.storage.loadRuns()), ...records];
    await this.ctx.storage.saveRuns(all);
    return this.ctx.runs.restore(); // adds the new records as jobs
  }

  async exportBundle(runId: string, options: Pick<BundleOptions, 'size' | 'gpus'> = {}): Promise<void> {
    try {
      const job = this.ctx.runs.get(runId);
      if (!job) throw new Error(`there is no run ${runId}`);
      const ds = await this.ctx.dataset();
      const { zip } = await buildBundle(ds, job.record.config, job.record.name, this.ctx.imageEncoder, options);
      this.download(`${slug(job.record.name)}-reference-bundle.zip`, 'application/zip', zip);
    } catch (e) {
      // A refusal (BundleError) says itself what to change; anything else is most likely the wrong dataset.
      const advice = e instanceof BundleError ? e.advice : 'Load the dataset the run was trained on (the bundle holds the current dataset), then export again.';
      this.ctx.post({ type: 'project/error', message: `The trainer bundle could not be exported: ${message(e)}`, advice });
    }
  }
}
