// The project kept in a folder the user picked (issue #23: a way out that does not depend on the browser's
// storage). The folder holds two files (folder.ts): soar-project.safetensors, every run with its checkpoint in the
// project format (project.ts, the same file "Download project" gives), and soar-dataset.safetensors, the dataset
// (dataset-file.ts). A browser that clears the site's storage loses nothing: "Open project folder…" reads both
// back, and the runs come back paused at their checkpoints, as a project import brings them.
//
// When: the folder follows the studio's storage (StudioStorage.observer): every write of the run list (after
// each checkpoint, and when a run is created, deleted or imported) and of the dataset asks the FolderWriter for a
// write, which coalesces them (one write at a time, the latest state wins). A checkpoint IndexedDB refused (quota,
// full disk) is kept here and written to the folder all the same: the folder is most useful exactly then.
// The dataset file is written once per dataset (and again after a caption edit), not after every checkpoint.
//
// What is never done: writing a project over a folder that holds another one (keep refuses, open merges), or over
// runs this browser lacks (after a reload the folder is read back first; writes wait and say why). A failed write
// is posted as the folder's own error and never touches training.
import { parseJson, isObject } from '../codec/json';
import type { Checkpoint } from '../train/trainer';
import { datasetKeyOf, type StudioDataset } from './dataset';
import { datasetFromBytes, datasetHeaderInfo, datasetToBytes, datasetVersion, type DatasetFile } from './dataset-file';
import {
  DATASET_FILE,
  FolderWriter,
  folderWriteError,
  permissionOf,
  PROJECT_FILE,
  readFolderFile,
  readFolderHeader,
  sameFolder,
  type FolderHandle,
  type FolderPermission,
  type FolderWrite,
} from './folder';
import type { KeyValueStore } from './kv';
import { StorageError, type RunRecord, type StoredWrite, type StudioStorage } from './persistence';
import { PROJECT_FORMAT, projectFromBytes, projectToBytes, type ProjectRun } from './project';
import type { BaseInfo, FolderStatus, RunSummary } from './protocol';
import { rewindToCheckpoint, type Post } from './runs';

/** Where the folder's handle is remembered (IndexedDB stores handles as they are: no path, no new prompt). */
export const FOLDER_HANDLE_KEY = 'folder:handle';

/** What the folder needs of the studio (studio.ts gives it; tests give stand-ins). */
export interface FolderContext {
  readonly kv: KeyValueStore;
  readonly storage: StudioStorage;
  readonly post: Post;
  readonly runs: {
    records(): RunRecord[];
    get(id: string): { record: RunRecord } | undefined;
    delete(id: string): Promise<void>;
  };
  /** The base once loaded (waits for a load under way; null: none). */
  base(): Promise<BaseInfo | null>;
  /** The dataset in use (null: none yet). */
  dataset(): StudioDataset | null;
  /** Makes a folder's dataset current (stored, encoded, posted); false when it could not be (the reason posted). */
  useDataset(file: DatasetFile): Promise<boolean>;
  /** Adds a project's runs, paused at their checkpoints (StudioFiles.addProjectRuns); every run's summary. */
  addRuns(runs: readonly ProjectRun[]): Promise<RunSummary[]>;
}

/** A refusal of keep/open with what to do; nothing was changed. */
class FolderActionError extends Error {
  constructor(
    message: string,
    readonly advice: string,
  ) {
    super(message);
  }
}

interface Snapshot extends FolderWrite {
  fingerprint: string | null;
  datasetVersion: string | null;
  runs: Array<{ name: string; step: number }>;
  dataset: { name: string; count: number } | null;
}

/** What a folder holds, from the files' headers (the dataset's pixels are not read). */
export interface FolderContents {
  project: { at: number; runs: Array<{ id: string; name: string; createdAt: number; step: number }> } | 'damaged' | null;
  dataset: { at: number; name: string; count: number; version: string } | 'damaged' | null;
}

export async function describeFolder(dir: FolderHandle): Promise<FolderContents> {
  const p = await readFolderHeader(dir, PROJECT_FILE);
  const d = await readFolderHeader(dir, DATASET_FILE);
  let project: FolderContents['project'] = p === null || p === 'damaged' ? p : 'damaged';
  if (p && p !== 'damaged' && p.header.metadata.format === PROJECT_FORMAT) {
    try {
      const runs = parseJson(p.header.metadata.runs ?? '[]', 'runs');
      if (Array.isArray(runs)) {
        project = {
          at: p.lastModified,
          runs: runs.map((r: unknown) => {
            const rec = isObject(r) && isObject(r.record) ? r.record : {};
            const ck = isObject(r) && isObject(r.checkpoint) ? r.checkpoint : null;
            return { id: String(rec.id), name: String(rec.name), createdAt: Number(rec.createdAt), step: ck && Number.isSafeInteger(ck.step) ? (ck.step as number) : 0 };
          }),
        };
      }
    } catch {
      project = 'damaged';
    }
  }
  let dataset: FolderContents['dataset'] = d === null || d === 'damaged' ? d : 'damaged';
  if (d && d !== 'damaged') {
    const info = datasetHeaderInfo(d.header.metadata);
    if (info) dataset = { at: d.lastModified, ...info };
  }
  return { project, dataset };
}

function listRuns(runs: Array<{ name: string; step: number }>): string {
  if (!runs.length) return 'no runs';
  const shown = runs.slice(0, 4).map((r) => `"${r.name}" at step ${r.step}`);
  return `${runs.length === 1 ? 'run' : 'runs'} ${shown.join(', ')}${runs.length > 4 ? ` and ${runs.length - 4} more` : ''}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class ProjectFolder {
  private writer: FolderWriter<Snapshot> | null = null;
  private permission: FolderPermission = 'granted';
  private writing = false;
  private written: FolderStatus['written'] = null;
  /** What the folder holds of what the studio wrote (or read back): the project's fingerprint, the dataset's version. */
  private writtenProject: string | null = null;
  private writtenDataset: string | null = null;
  private held: string | null = null;
  /** The folder's runs as read back when it was attached (what `held` is about). */
  private folderRuns: Array<{ id: string; name: string; createdAt: number; step: number }> = [];
  private error: FolderStatus['error'] = null;
  /** Checkpoints IndexedDB refused, by run: the folder gets them all the same. */
  private readonly refused = new Map<string, Checkpoint>();

  constructor(private readonly ctx: FolderContext) {}

  /** The folder kept now (null: none). */
  get dir(): FolderHandle | null {
    return this.writer?.dir ?? null;
  }

  /** Resolves when no write is under way or asked for (tests; a write requested meanwhile is waited for too). */
  async idle(): Promise<void> {
    while (this.writer?.busy) await this.writer.whenIdle();
  }

  /** StudioStorage's observer: what changed in the browser's storage, and whether it was stored. */
  observe(w: StoredWrite, error: unknown): void {
    if (w.kind === 'checkpoint') {
      if (error) this.refused.set(w.runId, w.checkpoint);
      else this.refused.delete(w.runId);
      // A stored checkpoint is followed by the run list that names it: that write asks for the folder's.
      if (!error) return;
    }
    if (w.kind === 'checkpoint-deleted') this.refused.delete(w.runId);
    if (this.writer && this.held) {
      // Held for runs the folder has further on: writes resume by themselves once the studio has caught up.
      this.held = this.aheadOf(this.folderRuns);
      if (this.held) return;
      this.postState();
    }
    void this.writer?.request();
  }

  // ---------------------------------------------------------------------------------------------- messages

  /** At start: the folder remembered from the last visit, read back and brought up to date (or held). */
  async restore(): Promise<void> {
    if (this.writer) return this.postState();
    let handle: FolderHandle | undefined;
    try {
      handle = await this.ctx.kv.get<FolderHandle>(FOLDER_HANDLE_KEY);
    } catch {
      handle = undefined; // nothing remembered that can be read: as if none
    }
    if (!handle || typeof handle.getFileHandle !== 'function') return this.postState();
    await this.attach(handle);
  }

  /** "Keep project in a folder…": from now on the project is written there. */
  async keep(dir: FolderHandle): Promise<void> {
    try {
      if ((await permissionOf(dir)) !== 'granted') {
        throw new FolderActionError(`The browser did not let the studio write to the folder "${dir.name}".`, 'Pick the folder again and allow the studio to edit files in it when the browser asks.');
      }
      const mine = await sameFolder(this.dir ?? (await this.rememberedHandle()), dir);
      if (!mine) {
        const held = await describeFolder(dir);
        if (held.project || held.dataset) {
          const what = held.project && held.project !== 'damaged' ? ` (${listRuns(held.project.runs)})` : held.project === 'damaged' ? ` (its ${PROJECT_FILE} is damaged)` : ` (a dataset, ${DATASET_FILE})`;
          throw new FolderActionError(
            `The folder "${dir.name}" already holds a SOAR Studio project${what}; the studio does not write over it.`,
            'Open it with "Open project folder…" to bring its runs back (the project is kept there from then on), or pick an empty folder to keep this project in.',
          );
        }
      }
    } catch (e) {
      this.postError('keep', e, dir);
      return;
    }
    await this.remember(dir);
    await this.attach(dir);
  }

  /** "Open project folder…": the folder's runs and dataset into the studio, then the project is kept there. */
  async open(handle: FolderHandle | null): Promise<void> {
    const dir = handle ?? this.dir;
    if (!dir) {
      this.postError('open', new FolderActionError('No project folder is kept.', 'Use "Open project folder…" and pick the folder.'), null);
      return;
    }
    // Everything is read and checked before anything changes.
    let project: ReturnType<typeof projectFromBytes>;
    let data: DatasetFile | null;
    let base: BaseInfo | null;
    try {
      if ((await permissionOf(dir)) !== 'granted') {
        throw new FolderActionError(`The browser did not let the studio open the folder "${dir.name}".`, 'Pick the folder again and allow the studio to edit files in it when the browser asks.');
      }
      const projectBytes = await readFolderFile(dir, PROJECT_FILE);
      if (!projectBytes) {
        throw new FolderActionError(
          `The folder "${dir.name}" holds no SOAR Studio project: there is no ${PROJECT_FILE} in it.`,
          `Pick the folder you chose with "Keep project in a folder…" (it holds ${PROJECT_FILE} and ${DATASET_FILE}). To start keeping this project in that folder, use "Keep project in a folder…".`,
        );
      }
      project = this.check(() => projectFromBytes(projectBytes), PROJECT_FILE, dir);
      const dataBytes = await readFolderFile(dir, DATASET_FILE);
      data = dataBytes ? this.check(() => datasetFromBytes(dataBytes), DATASET_FILE, dir) : null;
      base = await this.ctx.base();
      if (data && base && data.dataset.resolution !== base.resolution) {
        const r = data.dataset.resolution;
        throw new FolderActionError(
          `The dataset "${data.dataset.name}" in the folder "${dir.name}" is ${r}×${r}; the loaded base (${base.preset}) trains at ${base.resolution}×${base.resolution}.`,
          `Nothing was changed. Load the base the project was made with${project.base ? ` (${project.base.preset})` : ''} in the Base panel, then open the folder again.`,
        );
      }
    } catch (e) {
      this.postError('open', e, dir);
      return;
    }
    // From here on the studio changes. The folder kept until now gets nothing meanwhile (no half-imported state).
    const previous = this.writer?.dir ?? null;
    this.detach();
    try {
      let dataset: string | null = null;
      if (data) {
        const current = this.ctx.dataset();
        const same = current !== null && datasetVersion(current.key, current.editsRecord()) === datasetVersion(datasetKeyOf(data.dataset), data.edits);
        if (!same && !(await this.ctx.useDataset(data))) {
          throw new FolderActionError(`The dataset "${data.dataset.name}" in the folder "${dir.name}" could not be used (the Dataset panel says why).`, 'No run was added. Load the base the project was made with, then open the folder again.');
        }
        dataset = data.dataset.name;
      }
      const added: string[] = [];
      const skipped: string[] = [];
      const replaced: string[] = [];
      const take: ProjectRun[] = [];
      for (const run of project.runs) {
        const mine = this.ctx.runs.get(run.record.id);
        const theirs = run.checkpoint?.step ?? 0;
        if (mine && mine.record.createdAt === run.record.createdAt) {
          // The same run: the folder's copy replaces this browser's only when it is further on.
          if (theirs > mine.record.checkpointStep && mine.record.status !== 'running') {
            await this.ctx.runs.delete(run.record.id);
            replaced.push(`"${run.record.name}" (now at step ${theirs}, was ${mine.record.checkpointStep})`);
            take.push(run);
          } else skipped.push(`"${run.record.name}"`);
        } else {
          added.push(`"${run.record.name}" (step ${theirs})`);
          take.push(run);
        }
      }
      if (take.length) this.ctx.post({ type: 'runs/restored', runs: await this.ctx.addRuns(take) });
      const notes: string[] = [];
      if (project.base && base && project.base.id !== base.id) {
        notes.push(`The runs were trained on the base ${project.base.id} (${project.base.preset}), and ${base.id} is loaded: load that base in the Base panel to resume them.`);
      }
      if (!data) notes.push(`The folder holds no dataset (${DATASET_FILE}): load the dataset the runs were trained on to resume them.`);
      else {
        // The folder keeps the dataset in use, as the browser does: runs trained on an earlier one need it again.
        const key = datasetKeyOf(data.dataset);
        const other = take.filter((r) => r.record.datasetKey !== key).map((r) => `"${r.record.name}"`);
        if (other.length) notes.push(`${other.join(', ')} ${other.length === 1 ? 'was' : 'were'} trained on another dataset than the folder's "${data.dataset.name}": load that dataset again to resume ${other.length === 1 ? 'it' : 'them'}.`);
      }
      await this.remember(dir);
      this.ctx.post({ type: 'folder/opened', name: dir.name, added, skipped, replaced, dataset, notes });
      // The studio now holds what the folder did, except a run left alone because it is training: until it has
      // caught up, the folder is held rather than written over (attach checks).
      await this.attach(dir);
    } catch (e) {
      this.postError('open', e, dir);
      if (previous) await this.attach(previous);
    }
  }

  /** Write again: after a failed write, once the page got the permission, or over a held folder (`overwrite`). */
  async retry(overwrite = false): Promise<void> {
    const dir = this.dir;
    if (!dir) return this.postState();
    await this.attach(dir, overwrite);
  }

  /** Stop keeping the project in the folder; its files stay as they are. */
  async forget(): Promise<void> {
    this.detach();
    try {
      await this.ctx.kv.del(FOLDER_HANDLE_KEY);
    } catch {
      // a handle left behind is dropped at the next start if it cannot be used
    }
    this.postState();
  }

  // ---------------------------------------------------------------------------------------------- internals

  private detach(): void {
    this.writer = null;
    this.writing = false;
    this.written = null;
    this.held = null;
    this.folderRuns = [];
    this.error = null;
    this.writtenProject = null;
    this.writtenDataset = null;
  }

  /**
   * Starts keeping the project in `dir`: checks the permission, reads back what the folder holds (what the panel
   * shows as written), holds the writes when it has runs this browser lacks (unless `overwrite`), else writes.
   */
  private async attach(dir: FolderHandle, overwrite = false): Promise<void> {
    this.detach();
    const writer: FolderWriter<Snapshot> = new FolderWriter<Snapshot>(dir, () => this.snapshot(writer), {
      fileWritten: (name, w) => {
        if (this.writer !== writer) return;
        if (name === DATASET_FILE) {
          this.writtenDataset = w.datasetVersion;
          this.written = { at: Date.now(), runs: this.written?.runs ?? [], dataset: w.dataset };
        } else {
          this.writtenProject = w.fingerprint;
          this.written = { at: Date.now(), runs: w.runs, dataset: w.dataset };
        }
      },
      written: () => {
        if (this.writer !== writer) return;
        this.writing = false;
        this.error = null;
        this.postState();
      },
      failed: (e, _w, file) => {
        if (this.writer !== writer) return;
        this.writing = false;
        const name = (e as { name?: string } | null)?.name;
        if (name === 'NotAllowedError' || name === 'SecurityError') this.permission = 'prompt';
        this.error = e instanceof StorageError ? { message: `The project could not be written to the folder "${dir.name}": ${e.message}`, advice: e.advice } : folderWriteError(e, dir.name, file);
        this.postState();
      },
    });
    this.writer = writer;
    this.permission = await permissionOf(dir);
    if (this.writer !== writer) return;
    if (this.permission !== 'granted') return this.postState(); // the page asks; then 'folder/retry'
    try {
      const contents = await describeFolder(dir);
      if (this.writer !== writer) return;
      const p = contents.project && contents.project !== 'damaged' ? contents.project : null;
      const d = contents.dataset && contents.dataset !== 'damaged' ? contents.dataset : null;
      this.written = p || d ? { at: Math.max(p?.at ?? 0, d?.at ?? 0), runs: p?.runs.map((r) => ({ name: r.name, step: r.step })) ?? [], dataset: d ? { name: d.name, count: d.count } : null } : null;
      this.writtenDataset = d?.version ?? null;
      this.folderRuns = p?.runs ?? [];
      if (!overwrite) this.held = this.aheadOf(this.folderRuns);
    } catch (e) {
      // Not knowing what the folder holds, nothing is written over it.
      this.error = {
        message: `The folder "${dir.name}" could not be read (${message(e)}), so nothing was written to it.`,
        advice: 'Check that the folder still exists where you picked it, then press "Try again"; if it was moved, pick it where it is now with "Open project folder…".',
      };
      return this.postState();
    }
    this.postState();
    if (!this.held) await writer.request();
  }

  /** The folder's runs this browser lacks or has at an earlier step (null: none), as the panel says it. */
  private aheadOf(runs: Array<{ id: string; name: string; createdAt: number; step: number }>): string | null {
    const lines: string[] = [];
    const records = this.ctx.runs.records();
    for (const f of runs) {
      // The same run: same id and creation time, or imported under a new id (its id was taken) with its name.
      const same = (r: RunRecord) => r.createdAt === f.createdAt && (r.id === f.id || r.name === f.name);
      const mine = records.find((r) => r.id === f.id && same(r)) ?? records.find(same);
      if (!mine) {
        lines.push(`run "${f.name}" (step ${f.step}) is not in this browser`);
        continue;
      }
      const step = Math.max(mine.checkpointStep, this.refused.get(mine.id)?.step ?? 0);
      if (f.step > step) lines.push(`run "${f.name}" is at step ${f.step} there, ${step} here`);
    }
    return lines.length ? `The folder holds more than this browser: ${lines.join('; ')}.` : null;
  }

  /** What the next write holds (null: nothing new, or it cannot be written now). Taken when the write starts. */
  private async snapshot(writer: FolderWriter<Snapshot>): Promise<Snapshot | null> {
    if (this.writer !== writer || this.held) return null;
    const permission = await permissionOf(writer.dir);
    if (permission !== this.permission) {
      this.permission = permission;
      this.postState();
    }
    if (permission !== 'granted' || this.writer !== writer) return null;
    const files: Snapshot['files'] = [];
    let version: string | null = null;
    let dataset = this.written?.dataset ?? null;
    const ds = this.ctx.dataset();
    if (ds) {
      const edits = ds.editsRecord();
      const v = datasetVersion(ds.key, edits);
      if (v !== this.writtenDataset) {
        files.push({ name: DATASET_FILE, bytes: datasetToBytes(ds.stored, edits) });
        version = v;
        dataset = { name: ds.name, count: ds.size };
      }
    }
    const base = await this.ctx.base();
    const runs = await this.projectRuns();
    let fingerprint: string | null = null;
    // Without a base (still loading, or none) the file would lose which base the runs need: wait for one.
    if (base || !runs.length) {
      fingerprint = JSON.stringify([base?.id ?? null, runs.map(({ record: r }) => [r.id, r.name, r.status, r.checkpointStep, r.error?.message ?? null])]);
      if (fingerprint !== this.writtenProject) files.push({ name: PROJECT_FILE, bytes: projectToBytes(base, runs) });
    }
    if (!files.length || this.writer !== writer) return null;
    this.writing = true;
    this.postState();
    return { files, fingerprint, datasetVersion: version, runs: runs.map(({ record: r }) => ({ name: r.name, step: r.checkpointStep })), dataset };
  }

  /**
   * Every run with its latest checkpoint: the stored one, or one IndexedDB refused. A run whose checkpoint cannot
   * be read is not written without it: the whole write fails and the folder keeps its previous project.
   */
  private async projectRuns(): Promise<ProjectRun[]> {
    const out: ProjectRun[] = [];
    for (const r of this.ctx.runs.records()) {
      let ck = this.refused.get(r.id) ?? null;
      if (!ck || ck.step < r.checkpointStep) {
        const stored = (await this.ctx.storage.loadCheckpoint(r.id)) ?? null;
        if (stored && (!ck || stored.step >= ck.step)) ck = stored;
      }
      if (r.checkpointStep > 0 && (!ck || ck.step < r.checkpointStep)) {
        throw new Error(`the checkpoint of run "${r.name}" (step ${r.checkpointStep}) is no longer in this browser's storage, so the folder keeps the project as it was last written`);
      }
      out.push({ record: rewindToCheckpoint({ ...r, checkpointStep: ck?.step ?? 0 }), checkpoint: ck });
    }
    return out;
  }

  private check<T>(read: () => T, file: string, dir: FolderHandle): T {
    try {
      return read();
    } catch (e) {
      throw new FolderActionError(
        `${file} in the folder "${dir.name}" cannot be used: ${message(e)}.`,
        `Nothing was changed, and the folder's files were not modified. If you downloaded the project earlier ("Download project"), bring it back with "Upload project…".`,
      );
    }
  }

  private async rememberedHandle(): Promise<FolderHandle | null> {
    try {
      return (await this.ctx.kv.get<FolderHandle>(FOLDER_HANDLE_KEY)) ?? null;
    } catch {
      return null;
    }
  }

  private async remember(dir: FolderHandle): Promise<void> {
    try {
      await this.ctx.kv.set(FOLDER_HANDLE_KEY, dir);
    } catch (e) {
      this.ctx.post({
        type: 'storage/error',
        message: `The browser's storage did not take the folder "${dir.name}" (${message(e)}): the project is written there now, but after a reload the studio will not know the folder.`,
        advice: 'After a reload, use "Keep project in a folder…" and pick the same folder again.',
      });
    }
  }

  private postError(action: 'keep' | 'open', e: unknown, dir: FolderHandle | null): void {
    if (e instanceof FolderActionError) {
      this.ctx.post({ type: 'folder/error', action, message: e.message, advice: e.advice });
    } else if (e instanceof StorageError) {
      this.ctx.post({ type: 'folder/error', action, message: e.message, advice: e.advice });
    } else {
      const where = dir ? `the folder "${dir.name}"` : 'the folder';
      this.ctx.post({
        type: 'folder/error',
        action,
        message: `${action === 'keep' ? 'The project could not be kept in' : 'The project could not be read from'} ${where}: ${message(e)}.`,
        advice: 'Nothing was changed. Check that the folder is on a local disk and that the browser may use it, then try again.',
      });
    }
  }

  private postState(): void {
    const w = this.writer;
    this.ctx.post({
      type: 'folder/state',
      folder: w ? { name: w.dir.name, handle: w.dir, permission: this.permission, writing: this.writing, written: this.written, held: this.held, error: this.error } : null,
    });
  }
}
