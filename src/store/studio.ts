// The studio's UI state (base model, dataset, runs and their curves, trajectories, compare, files, storage), built
// only from the worker's messages (src/worker/protocol.ts) plus the pending states of the requests the UI made.
// `reduceStudio` is pure, so the state machine is testable without a worker; `studio` holds the requests, each
// of which marks what it waits for before it posts, so the UI always has something sensible to show.
import { create } from 'zustand';
import type { TrainConfig } from '../train/config';
import type { StepMetrics } from '../train/trainer';
import type {
  BaseInfo,
  CompareColumn,
  CompareRequest,
  DatasetSummary,
  FolderStatus,
  GroupFrame,
  RunSummary,
  TrajectoryFrame,
  UiToWorker,
  WorkerToUi,
  RunPhase,
} from '../worker/protocol';
import { queuedRun } from '../worker/protocol';
import { EMPTY_LEDGER, isLedger, ledgerOf, lostRuns, updateLedger, type LostRun } from './ledger';
import { loadPref, savePref } from './prefs';

/** Something that failed: what happened and what to do about it. */
export interface Problem {
  message: string;
  advice: string;
}

export interface RunView extends RunSummary {
  /** Live throughput from the latest run/metrics (null before the first step of this session). */
  stepsPerSecond: number | null;
  etaSeconds: number | null;
  /** 'together': the ETA is when every interleaved run beside this one is done too. */
  etaScope: 'run' | 'together' | null;
  /** What the run does before its step counter moves (the slow first step), null while steps flow. */
  phase: RunPhase | null;
}

export type Pending = 'idle' | 'pending' | 'done' | 'error';

export interface StudioState {
  base: { status: 'idle' | 'loading' | 'ready' | 'error'; preset: string; info: BaseInfo | null; error: Problem | null };
  dataset: {
    status: 'empty' | 'loading' | 'ready' | 'error';
    /** What was asked for: 'built-in (clean)', a folder name. */
    source: string | null;
    /** 'list': the page is listing a picked folder's files, before the worker has them. */
    progress: { phase: 'list' | 'scan' | 'decode' | 'encode'; done: number; total: number } | null;
    summary: DatasetSummary | null;
    error: Problem | null;
  };
  runs: Record<string, RunView>;
  /** Run ids, oldest first. */
  runOrder: string[];
  restore: Pending;
  /** The watched run's latest rollout frame (SFT, SOAR) or sampled groups (Flow-GRPO). */
  trajectory: { watched: string | null; frame: TrajectoryFrame | null; groups?: GroupFrame | null };
  compare: {
    status: Pending;
    progress: { done: number; total: number } | null;
    result: { columns: CompareColumn[]; prompts: string[]; request: CompareRequest | null } | null;
    error: string | null;
    request: CompareRequest | null;
  };
  lora: { exporting: string | null; importing: string | null; imported: { runId: string; warnings: string[]; name: string } | null; error: string | null };
  /** LoRA files imported into the studio (kept by the worker across reloads), by id: usable in compare and export. */
  imports: Record<string, { id: string; name: string; warnings: string[] }>;
  project: { exporting: boolean; importing: boolean; imported: boolean; error: Problem | null };
  /** Files → "A full fine-tune as a LoRA": a LoRA taken from a full fine-tune (src/worker/extract.ts). */
  extraction: {
    /** What was picked (a file or folder name) while running, null when idle. */
    running: string | null;
    progress: { done: number; total: number; module: string } | null;
    result: Omit<Extract<WorkerToUi, { type: 'lora/extracted' }>, 'type'> | null;
    error: Problem | null;
  };
  /** The latest files the worker handed over for download (newest first). */
  downloads: Array<{ fileName: string; size: number; at: number }>;
  storage: { estimate: { usage: number; quota: number; persisted: boolean } | null; errors: Problem[] };
  gpuLost: { reason: string; message: string } | null;
  /** Set when the worker could not be reached at all (no requests can be answered). */
  workerDown: string | null;
  /** Runs this browser had stored that storage no longer holds (the browser deleted the site's data). */
  lostData: LostRun[];
  /** The project folder (File System Access; src/worker/project-folder.ts). */
  folder: {
    /** As the worker last said (null: no folder is kept). */
    status: FolderStatus | null;
    /** The worker has said (at start). */
    checked: boolean;
    /** A keep or open on its way (the picker, then the worker). */
    busy: 'keep' | 'open' | null;
    /** The last folder opened, and what came back from it. */
    opened: Omit<Extract<WorkerToUi, { type: 'folder/opened' }>, 'type'> | null;
    /** Keeping or opening failed (a write failure is status.error). */
    error: Problem | null;
  };
}

export const initialStudioState: StudioState = {
  base: { status: 'idle', preset: 'tiny', info: null, error: null },
  dataset: { status: 'empty', source: null, progress: null, summary: null, error: null },
  runs: {},
  runOrder: [],
  restore: 'idle',
  trajectory: { watched: null, frame: null },
  compare: { status: 'idle', progress: null, result: null, error: null, request: null },
  lora: { exporting: null, importing: null, imported: null, error: null },
  imports: {},
  project: { exporting: false, importing: false, imported: false, error: null },
  extraction: { running: null, progress: null, result: null, error: null },
  downloads: [],
  storage: { estimate: null, errors: [] },
  gpuLost: null,
  workerDown: null,
  lostData: [],
  folder: { status: null, checked: false, busy: null, opened: null, error: null },
};

function withRun(state: StudioState, run: RunSummary): StudioState {
  const prev = state.runs[run.id];
  const view: RunView = {
    ...run,
    stepsPerSecond: run.status === 'running' ? (prev?.stepsPerSecond ?? null) : null,
    etaSeconds: run.status === 'running' ? (prev?.etaSeconds ?? null) : null,
    etaScope: run.status === 'running' ? (prev?.etaScope ?? null) : null,
    phase: run.status === 'running' ? (prev?.phase ?? null) : null,
  };
  const runOrder = prev ? state.runOrder : [...state.runOrder, run.id];
  return { ...state, runs: { ...state.runs, [run.id]: view }, runOrder };
}

function withoutRun(state: StudioState, id: string): StudioState {
  if (!state.runs[id]) return state;
  const runs = { ...state.runs };
  delete runs[id];
  const trajectory = state.trajectory.watched === id ? { watched: null, frame: null, groups: null } : state.trajectory;
  return { ...state, runs, runOrder: state.runOrder.filter((r) => r !== id), trajectory };
}

/** Appends a step's metrics, dropping any later ones (a resumed run repeats the steps after its checkpoint). */
export function appendMetrics(history: StepMetrics[], m: StepMetrics): StepMetrics[] {
  const last = history[history.length - 1];
  if (!last || last.step < m.step) return [...history, m];
  return [...history.filter((h) => h.step < m.step), m];
}

export function appendValidation(v: Array<{ step: number; loss: number }>, step: number, loss: number) {
  return [...v.filter((x) => x.step < step), { step, loss }];
}

/** Pure reducer over the worker's messages. Messages for the GPU store are ignored here except gpu/lost. */
export function reduceStudio(state: StudioState, m: WorkerToUi): StudioState {
  switch (m.type) {
    case 'gpu/lost':
      return { ...state, gpuLost: { reason: m.reason, message: m.message } };
    case 'gpu/error':
      return m.stage === 'worker' ? { ...state, workerDown: m.message } : state;
    case 'base/ready':
      return { ...state, base: { status: 'ready', preset: m.base.preset, info: m.base, error: null } };
    case 'base/error':
      return { ...state, base: { ...state.base, status: 'error', error: { message: m.message, advice: m.advice } } };
    case 'data/progress':
      return { ...state, dataset: { ...state.dataset, status: 'loading', progress: { phase: m.phase, done: m.done, total: m.total } } };
    case 'data/ready':
      return { ...state, dataset: { ...state.dataset, status: 'ready', progress: null, summary: m.dataset, error: null } };
    case 'data/error':
      return { ...state, dataset: { ...state.dataset, status: 'error', progress: null, error: { message: m.message, advice: m.advice } } };
    case 'run/update':
      return withRun(state, m.run);
    case 'run/metrics': {
      const run = state.runs[m.runId];
      if (!run) return state;
      const next: RunView = {
        ...run,
        step: m.metrics.step,
        history: appendMetrics(run.history, m.metrics),
        stepsPerSecond: m.stepsPerSecond,
        etaSeconds: m.etaSeconds,
        etaScope: m.etaScope,
      };
      return { ...state, runs: { ...state.runs, [m.runId]: next } };
    }
    case 'run/phase': {
      const run = state.runs[m.runId];
      if (!run) return state;
      return { ...state, runs: { ...state.runs, [m.runId]: { ...run, phase: m.phase } } };
    }
    case 'run/validation': {
      const run = state.runs[m.runId];
      if (!run) return state;
      return { ...state, runs: { ...state.runs, [m.runId]: { ...run, validation: appendValidation(run.validation, m.step, m.loss) } } };
    }
    case 'runs/restored': {
      let next: StudioState = { ...state, restore: 'done', project: { ...state.project, importing: false, imported: state.project.importing } };
      for (const r of [...m.runs].sort((a, b) => a.createdAt - b.createdAt)) next = withRun(next, r);
      return next;
    }
    case 'trajectory/frame':
      if (state.trajectory.watched !== null && m.frame.runId !== state.trajectory.watched) return state;
      return { ...state, trajectory: { ...state.trajectory, frame: m.frame } };
    case 'trajectory/groups':
      if (state.trajectory.watched !== null && m.frame.runId !== state.trajectory.watched) return state;
      return { ...state, trajectory: { ...state.trajectory, groups: m.frame } };
    case 'compare/progress':
      return { ...state, compare: { ...state.compare, status: 'pending', progress: { done: m.done, total: m.total } } };
    case 'compare/result':
      return {
        ...state,
        compare: { ...state.compare, status: 'done', progress: null, error: null, result: { columns: m.columns, prompts: m.prompts, request: state.compare.request } },
      };
    case 'compare/error':
      return { ...state, compare: { ...state.compare, status: 'error', progress: null, error: m.message } };
    case 'file/download':
      return {
        ...state,
        lora: { ...state.lora, exporting: null },
        project: { ...state.project, exporting: false },
        downloads: [{ fileName: m.fileName, size: m.bytes.byteLength, at: Date.now() }, ...state.downloads].slice(0, 8),
      };
    case 'lora/imported': {
      const name = m.name ?? state.lora.importing ?? m.runId;
      const imports = { ...state.imports, [m.runId]: { id: m.runId, name, warnings: m.warnings } };
      // The worker also re-announces the imports it restores after a reload: only an import the user asked for
      // gets the "imported" notice.
      if (state.lora.importing === null) return { ...state, imports };
      return { ...state, imports, lora: { ...state.lora, importing: null, error: null, imported: { runId: m.runId, warnings: m.warnings, name } } };
    }
    case 'lora/error':
      return { ...state, lora: { ...state.lora, importing: null, exporting: null, error: m.message } };
    case 'lora/extract-progress':
      return { ...state, extraction: { ...state.extraction, progress: { done: m.done, total: m.total, module: m.module } } };
    case 'lora/extracted': {
      const { type: _t, ...result } = m;
      return { ...state, extraction: { running: null, progress: null, result, error: null } };
    }
    case 'lora/extract-error':
      return { ...state, extraction: { ...state.extraction, running: null, progress: null, error: { message: m.message, advice: m.advice } } };
    case 'project/error':
      return { ...state, project: { exporting: false, importing: false, imported: false, error: { message: m.message, advice: m.advice } } };
    case 'run/deleted':
      return withoutRun(state, m.id);
    case 'storage/estimate':
      return { ...state, storage: { ...state.storage, estimate: { usage: m.usage, quota: m.quota, persisted: m.persisted } } };
    case 'storage/error':
      return { ...state, storage: { ...state.storage, errors: [...state.storage.errors, { message: m.message, advice: m.advice }].slice(-5) } };
    case 'folder/state':
      return { ...state, folder: { ...state.folder, status: m.folder, checked: true, busy: state.folder.busy === 'keep' && m.folder ? null : state.folder.busy } };
    case 'folder/opened': {
      const { type: _t, ...opened } = m;
      return { ...state, folder: { ...state.folder, busy: null, opened, error: null } };
    }
    case 'folder/error':
      return { ...state, folder: { ...state.folder, busy: null, error: { message: m.message, advice: m.advice } } };
    default:
      return state;
  }
}

export const useStudioStore = create<StudioState>(() => initialStudioState);

export function applyStudioMessage(m: WorkerToUi): void {
  applyStudioMessages([m]);
}

/** Several messages in one state update (one render), in order. The ledger follows them (src/store/ledger.ts). */
export function applyStudioMessages(ms: readonly WorkerToUi[]): void {
  if (!ms.length) return;
  useStudioStore.setState((s) => ms.reduce(reduceStudio, s));
  let ledger = loadPref('ledger', EMPTY_LEDGER, isLedger);
  const before = ledger;
  for (const m of ms) {
    if (m.type === 'runs/restored') {
      // What storage should hold against what it does: runs the browser deleted are reported, not forgotten; a
      // run that comes back (a project folder or file opened) leaves the report.
      const lost = lostRuns(ledger, m.runs);
      const back = (l: LostRun) => m.runs.some((r) => r.id === l.id && r.checkpointStep >= l.step);
      if (lost.length || get().lostData.some(back)) useStudioStore.setState((s) => ({ ...s, lostData: [...s.lostData.filter((l) => !back(l)), ...lost] }));
      ledger = ledgerOf(m.runs);
    } else ledger = updateLedger(ledger, m);
    // The folder's name outlives IndexedDB (a cleared site keeps localStorage less often, but often enough): the
    // alert about lost runs can then say where the project is.
    if (m.type === 'folder/state' && m.folder) savePref(FOLDER_PREF, { name: m.folder.name });
  }
  if (ledger !== before) savePref('ledger', ledger);
}

/** localStorage key of the last project folder's name (see applyStudioMessages). */
export const FOLDER_PREF = 'project-folder';

export function isFolderPref(v: unknown): v is { name: string } {
  return !!v && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string';
}

// ------------------------------------------------------------------------------------------------ requests

let sender: ((m: UiToWorker) => void) | null = null;

/** Connects the store to the worker (main.tsx, once). Until then requests are marked pending and dropped. */
export function connectStudio(send: (m: UiToWorker) => void): void {
  sender = send;
}

function send(m: UiToWorker): void {
  sender?.(m);
}

let restarter: (() => void) | null = null;

/** Registers how to replace the worker (main.tsx owns it): used to recover from a lost GPU or a crashed worker. */
export function onRestartRequest(restart: () => void): void {
  restarter = restart;
}

const set = useStudioStore.setState;
const get = useStudioStore.getState;

export interface NewRun {
  id: string;
  name: string;
  config: TrainConfig;
  /** A Flow-GRPO run's starting point: the id of a finished SFT or SOAR run (absent: the base). */
  startFrom?: string;
}

export const studio = {
  /**
   * Recovery in this tab after a lost GPU or a crashed worker: the worker is replaced by a fresh one (a new
   * device), the UI forgets what the old one said, and the runs come back from their last checkpoints in
   * IndexedDB — the same path as a reload, without losing the page.
   */
  restartWorker(): void {
    const preset = get().base.preset;
    set(() => ({ ...initialStudioState, base: { ...initialStudioState.base, preset } }));
    restarter?.();
  },
  start(preset: string): void {
    studio.loadBase(preset);
    set((s) => ({ ...s, restore: 'pending' }));
    send({ type: 'runs/restore' });
    studio.estimateStorage();
  },
  loadBase(preset: string): void {
    set((s) => ({ ...s, base: { status: 'loading', preset, info: s.base.info, error: null } }));
    send({ type: 'base/load', preset });
  },
  useBuiltin(split: 'clean' | 'broad' = 'clean', count = 64): void {
    set((s) => ({ ...s, dataset: { ...s.dataset, status: 'loading', source: `built-in (${split}, ${count} images)`, progress: null, error: null } }));
    send({ type: 'data/builtin', split, count });
  },
  ingest(name: string, files: Array<{ path: string; file: File }>, extra: { ignored?: string[]; unreadable?: Array<{ path: string; error: string }> } = {}): void {
    set((s) => ({ ...s, dataset: { ...s.dataset, status: 'loading', source: name, progress: null, error: null } }));
    send({ type: 'data/files', name, files, ...(extra.ignored?.length ? { ignored: extra.ignored } : {}), ...(extra.unreadable?.length ? { unreadable: extra.unreadable } : {}) });
  },
  /** Immediate feedback for a picked or dropped folder, while the page lists its files (before the worker has them). */
  datasetListing(name: string, done: number, total: number): void {
    set((s) => ({ ...s, dataset: { ...s.dataset, status: 'loading', source: name, progress: { phase: 'list', done, total }, error: null } }));
  },
  datasetProblem(problem: Problem): void {
    set((s) => ({ ...s, dataset: { ...s.dataset, status: s.dataset.summary ? 'ready' : 'error', error: problem } }));
  },
  editCaption(id: string, caption: string): void {
    set((s) => {
      const summary = s.dataset.summary;
      if (!summary) return s;
      const preview = summary.preview.map((p) => (p.id === id ? { ...p, caption } : p));
      return { ...s, dataset: { ...s.dataset, summary: { ...summary, preview } } };
    });
    send({ type: 'data/caption', id, caption });
  },
  startRuns(runs: NewRun[], interleave: boolean): void {
    const now = Date.now();
    set((s) => {
      let next = s;
      for (const r of runs) {
        // The card names what the run starts from at once (the worker's update says the same).
        const from = r.startFrom ? s.runs[r.startFrom] : undefined;
        const startFrom = from ? { runId: from.id, name: from.name, method: from.method, step: from.checkpointStep } : undefined;
        next = withRun(next, { ...queuedRun(r, now), ...(startFrom ? { startFrom } : {}) });
      }
      return next;
    });
    send({ type: 'run/start', runs, interleave });
    const watch = runs.find((r) => r.config.method === 'soar') ?? runs[0];
    if (watch) studio.watch(watch.id);
  },
  pause: (id: string) => send({ type: 'run/pause', id }),
  resume: (id: string) => send({ type: 'run/resume', id }),
  stop: (id: string) => send({ type: 'run/stop', id }),
  remove(id: string): void {
    set((s) => withoutRun(s, id));
    send({ type: 'run/delete', id });
  },
  /** After a restore: watch the newest SOAR run (its rollouts are the interesting ones), else the newest run. */
  autoWatch(): void {
    const s = get();
    if (s.trajectory.watched && s.runs[s.trajectory.watched]) return;
    const newest = [...s.runOrder].reverse();
    const pick = newest.find((id) => s.runs[id]?.method === 'soar') ?? newest[0];
    if (pick) studio.watch(pick);
  },
  rewatchIfEmpty(): void {
    const { watched, frame } = get().trajectory;
    if (watched && !frame) send({ type: 'trajectory/watch', runId: watched });
  },
  watch(runId: string | null): void {
    set((s) => ({
      ...s,
      trajectory: { watched: runId, frame: s.trajectory.frame?.runId === runId ? s.trajectory.frame : null, groups: s.trajectory.groups?.runId === runId ? s.trajectory.groups : null },
    }));
    send({ type: 'trajectory/watch', runId });
  },
  sample(request: CompareRequest): void {
    set((s) => ({ ...s, compare: { ...s.compare, status: 'pending', progress: null, error: null, request } }));
    send({ type: 'compare/sample', request });
  },
  exportLora(runId: string, naming: 'peft' | 'kohya', dtype: 'F32' | 'F16'): void {
    set((s) => ({ ...s, lora: { ...s.lora, exporting: runId, error: null } }));
    send({ type: 'lora/export', runId, naming, dtype });
  },
  importLora(name: string, bytes: ArrayBuffer): void {
    set((s) => ({ ...s, lora: { ...s.lora, importing: name, imported: null, error: null } }));
    send({ type: 'lora/import', name, bytes });
  },
  /** A full fine-tune (one .safetensors, or a transformer folder's files) as a LoRA of `rank` on `targets`. */
  extractLora(name: string, files: Array<{ path: string; file: File }>, rank: number, targets: string[]): void {
    set((s) => ({ ...s, extraction: { running: name, progress: null, result: null, error: null } }));
    send({ type: 'lora/extract', name, files, rank, targets });
  },
  /** The page could not use what was picked (nothing to send to the worker). */
  extractionProblem(problem: Problem): void {
    set((s) => ({ ...s, extraction: { ...s.extraction, running: null, progress: null, error: problem } }));
  },
  dismissExtraction: () => set((s) => ({ ...s, extraction: { ...s.extraction, result: null, error: null } })),
  exportProject(): void {
    set((s) => ({ ...s, project: { ...s.project, exporting: true, error: null } }));
    send({ type: 'project/export' });
  },
  importProject(bytes: ArrayBuffer): void {
    set((s) => ({ ...s, project: { ...s.project, importing: true, imported: false, error: null } }));
    send({ type: 'project/import', bytes });
  },
  exportBundle(runId: string, opts: { size?: number; gpus?: number } = {}): void {
    set((s) => ({ ...s, project: { ...s.project, exporting: true, error: null } }));
    send({ type: 'bundle/export', runId, ...opts });
  },
  estimateStorage: () => send({ type: 'storage/estimate' }),
  /** The page picked a folder (showDirectoryPicker): keep the project there, or open the project it holds. */
  keepFolder(handle: FileSystemDirectoryHandle): void {
    set((s) => ({ ...s, folder: { ...s.folder, busy: 'keep', error: null, opened: null } }));
    send({ type: 'folder/keep', handle });
  },
  /** null: the folder kept now. */
  openFolder(handle: FileSystemDirectoryHandle | null): void {
    set((s) => ({ ...s, folder: { ...s.folder, busy: 'open', error: null, opened: null } }));
    send({ type: 'folder/open', handle });
  },
  retryFolder: (overwrite = false) => send({ type: 'folder/retry', overwrite }),
  forgetFolder(): void {
    savePref(FOLDER_PREF, null);
    set((s) => ({ ...s, folder: { ...s.folder, opened: null, error: null } }));
    send({ type: 'folder/forget' });
  },
  /** The page could not pick or open a folder (no API, the picker failed): said in the folder box. */
  folderProblem(problem: Problem | null): void {
    set((s) => ({ ...s, folder: { ...s.folder, busy: null, error: problem } }));
  },
  dismissFolderOpened: () => set((s) => ({ ...s, folder: { ...s.folder, opened: null } })),
  dismissLostData(): void {
    set((s) => ({ ...s, lostData: [] }));
  },
  dismissStorageError(index: number): void {
    set((s) => ({ ...s, storage: { ...s.storage, errors: s.storage.errors.filter((_, i) => i !== index) } }));
  },
  dismissProjectError: () => set((s) => ({ ...s, project: { ...s.project, error: null } })),
  dismissLoraError: () => set((s) => ({ ...s, lora: { ...s.lora, error: null } })),
  dismissCompareError: () => set((s) => ({ ...s, compare: { ...s.compare, error: null, status: s.compare.result ? 'done' : 'idle' } })),
  state: get,
};
