// The studio's worker side, without the worker: every UiToWorker message except 'gpu/probe' is handled here, by
// the modules beside it (base, dataset, runs + scheduler, trajectory, compare, files, extract, project-folder).
// studio.worker.ts wires it to postMessage and the browser's GPU; tests drive it in Node with Dawn and fake-indexeddb.
import type { GpuContext } from '../gpu/device';
import { Gpu } from '../gpu/runtime';
import { Engine } from '../tensor/engine';
import { describeKernelChoices } from '../tensor/kernels';
import { loadOrTuneKernels } from '../tensor/tuning';
import { kvKernelCache } from './kv';
import { entriesFromFiles, ingestDataset, type ImageDecoder } from '../data/ingest';
import { BaseLoadError, loadStudioBase, releaseBase, type Fetch, type OnnxEncoderFactory, type StudioBase } from './base';
import { compareSample, type ColumnSpec, type Scorer } from './compare';
import { datasetKeyOf, StudioDataset } from './dataset';
import { message, StudioFiles } from './files';
import { FineTuneExtractor } from './extract';
import type { ImageEncoder } from './images';
import type { KeyValueStore } from './kv';
import { Mutex } from './lock';
import { StorageError, StudioStorage } from './persistence';
import { ProjectFolder } from './project-folder';
import type { CompareRequest, UiToWorker } from './protocol';
import { RunManager, summaryOf, type Post, type World } from './runs';

/** The part of the browser's StorageManager the studio uses (estimate/persisted in workers; persist on pages). */
export interface StorageManagerLike {
  estimate(): Promise<{ usage?: number; quota?: number }>;
  persisted?(): Promise<boolean>;
  persist?(): Promise<boolean>;
}

export interface StudioDeps {
  post: Post;
  kv: KeyValueStore;
  /** Same-origin fetch for the shipped base (null: always a random base). */
  fetch: Fetch | null;
  /** Opens the shipped ONNX text encoder (null: captions run on the engine's kernels). */
  onnx?: OnnxEncoderFactory | null;
  decoder: () => ImageDecoder;
  imageEncoder: ImageEncoder;
  storageManager?: StorageManagerLike | null;
  /** Compare scores for prompts the evaluator understands (null: no scores). */
  scorer?: Scorer | null;
  /** Between scheduler steps (default setTimeout(0)). */
  yieldToEvents?: () => Promise<void>;
}

/** Captions encoded per progress message while pre-encoding a dataset. */
const ENCODE_CHUNK = 64;

export class Studio {
  readonly storage: StudioStorage;
  readonly lock = new Mutex();
  readonly runs: RunManager;
  private enginePromise: Promise<Engine>;
  private resolveEngine!: (e: Engine) => void;
  private rejectEngine!: (e: Error) => void;
  private engineValue: Engine | null = null;
  private baseLoad: Promise<StudioBase> | null = null;
  private currentBase: StudioBase | null = null;
  private dataLoad: Promise<StudioDataset> | null = null;
  private currentDataset: StudioDataset | null = null;
  /** Bumped by every explicit dataset request, so an automatic restore never overrides the user's choice. */
  private dataGeneration = 0;
  readonly files: StudioFiles;
  /** Files → "A full fine-tune as a LoRA" (extract.ts). */
  private readonly extractor: FineTuneExtractor;
  /** The project kept in a folder the user picked (project-folder.ts), following every write to storage. */
  readonly folder: ProjectFolder;

  constructor(private readonly deps: StudioDeps) {
    this.storage = new StudioStorage(deps.kv);
    this.enginePromise = new Promise<Engine>((resolve, reject) => {
      this.resolveEngine = resolve;
      this.rejectEngine = reject;
    });
    this.enginePromise.catch(() => undefined);
    const world: World = {
      engine: () => {
        if (!this.engineValue) throw new Error('the GPU is not ready');
        return this.engineValue;
      },
      base: () => this.base(),
      dataset: () => this.dataset(),
      lock: this.lock,
      storage: this.storage,
      post: deps.post,
    };
    this.runs = new RunManager(world, deps.yieldToEvents);
    this.files = new StudioFiles({
      base: () => this.base(),
      currentBase: () => this.currentBase,
      dataset: () => this.dataset(),
      engine: () => this.enginePromise,
      lock: this.lock,
      storage: this.storage,
      runs: this.runs,
      post: deps.post,
      imageEncoder: deps.imageEncoder,
    });
    this.extractor = new FineTuneExtractor({
      base: () => this.base(),
      currentBase: () => this.currentBase,
      engine: () => this.enginePromise,
      lock: this.lock,
      post: deps.post,
      files: this.files,
      yieldToEvents: deps.yieldToEvents,
    });
    this.folder = new ProjectFolder({
      kv: deps.kv,
      storage: this.storage,
      post: deps.post,
      runs: this.runs,
      base: async () => (this.baseLoad ? ((await this.baseLoad.catch(() => null))?.info ?? null) : null),
      dataset: () => this.currentDataset,
      useDataset: async (file) => {
        await this.useData(async () => StudioDataset.fromStored(file.dataset, file.edits), 'folder');
        return this.currentDataset?.key === datasetKeyOf(file.dataset);
      },
      addRuns: (runs) => this.files.addProjectRuns(runs),
    });
    this.storage.observer = (w, error) => this.folder.observe(w, error);
    // Ask once to keep the site's data under storage pressure (only pages have persist(); the UI may ask too).
    void deps.storageManager?.persist?.().catch(() => false);
  }

  // ------------------------------------------------------------------------------------------------ GPU

  /**
   * The probe found a device: one engine for everything, its kernel variants chosen for this adapter first
   * (measured once, then cached per adapter in IndexedDB), so the first step already runs the fast ones. A
   * failed measurement keeps the defaults: slower, never wrong. Its loss pauses every run.
   */
  async attachGpu(ctx: GpuContext): Promise<Engine> {
    const engine = new Engine(new Gpu(ctx));
    this.deps.post({ type: 'gpu/kernels', phase: 'measuring' });
    try {
      const r = await loadOrTuneKernels(engine, kvKernelCache(this.deps.kv));
      this.deps.post({ type: 'gpu/kernels', phase: 'ready', choices: r.choices, text: describeKernelChoices(r.choices), measuredMs: r.tuned?.ms ?? null, measurements: r.tuned?.measurements ?? [] });
    } catch (e) {
      this.deps.post({ type: 'gpu/kernels', phase: 'failed', message: e instanceof Error ? e.message : String(e) });
    }
    return this.attachEngine(engine);
  }

  attachEngine(engine: Engine): Engine {
    if (this.engineValue) return this.engineValue;
    this.engineValue = engine;
    engine.gpu.onLost((reason) => {
      if (reason.startsWith('destroyed')) return; // our own teardown
      void this.runs.onGpuLost(reason);
    });
    this.resolveEngine(engine);
    return engine;
  }

  /** No GPU: every request that needs one fails with this message. */
  gpuUnavailable(why: string): void {
    this.rejectEngine(new Error(why));
  }

  get engine(): Engine | null {
    return this.engineValue;
  }

  /** The base and dataset in use (null until loaded). */
  get loadedBase(): StudioBase | null {
    return this.currentBase;
  }

  get loadedDataset(): StudioDataset | null {
    return this.currentDataset;
  }

  private async base(): Promise<StudioBase> {
    if (this.baseLoad) return this.baseLoad;
    throw new Error('no base model is loaded yet');
  }

  private async dataset(): Promise<StudioDataset> {
    if (this.dataLoad) {
      try {
        return await this.dataLoad;
      } catch {
        // fall through to the current one
      }
    }
    if (this.currentDataset) return this.currentDataset;
    throw new Error('no dataset is loaded: choose the built-in dataset or drop a folder of images with captions');
  }

  // ------------------------------------------------------------------------------------------------ messages

  /** Handles one message; resolves when it is done (the scheduler's training goes on after). Never throws. */
  async handle(m: UiToWorker): Promise<void> {
    try {
      await this.dispatch(m);
    } catch (e) {
      // Each handler reports its own failures in its own message; this is the last resort.
      console.error(`studio: ${m.type} failed`, e);
      if (e instanceof StorageError) this.deps.post({ type: 'storage/error', message: e.message, advice: e.advice });
    }
  }

  private async dispatch(m: UiToWorker): Promise<void> {
    switch (m.type) {
      case 'gpu/probe':
        return; // studio.worker.ts
      case 'base/load':
        return this.loadBase(m.preset);
      case 'data/builtin':
        return this.useData(() => this.base().then(({ info }) => StudioDataset.builtin(m.split, m.count, info.resolution)), 'builtin');
      case 'data/files':
        return this.useData(() => this.ingest(m.name, m.files, m.ignored ?? [], m.unreadable ?? []), 'files');
      case 'data/caption':
        return this.editCaption(m.id, m.caption);
      case 'run/start':
        return this.runs.start(m.runs, m.interleave);
      case 'run/pause':
        return this.runs.pause(m.id);
      case 'run/resume':
        return this.runs.resume(m.id);
      case 'run/stop':
        return this.runs.stop(m.id);
      case 'run/delete':
        return this.runs.delete(m.id);
      case 'runs/restore':
        return this.restoreRuns();
      case 'trajectory/watch':
        return this.runs.watch(m.runId);
      case 'compare/sample':
        return this.compare(m.request);
      case 'lora/export':
        return this.files.exportLora(m.runId, m.naming, m.dtype);
      case 'lora/import':
        return void (await this.files.importLora(m.name, new Uint8Array(m.bytes)));
      case 'lora/extract':
        return this.extractor.extract(m);
      case 'project/export':
        return this.files.exportProject();
      case 'project/import':
        return this.files.importProject(new Uint8Array(m.bytes));
      case 'bundle/export':
        return this.files.exportBundle(m.runId, { size: m.size, gpus: m.gpus });
      case 'storage/estimate':
        return this.estimate();
      case 'folder/keep':
        return this.folder.keep(m.handle);
      case 'folder/open':
        return this.folder.open(m.handle);
      case 'folder/retry':
        return this.folder.retry(m.overwrite ?? false);
      case 'folder/forget':
        return this.folder.forget();
    }
  }

  // ------------------------------------------------------------------------------------------------ base

  private async loadBase(preset: string): Promise<void> {
    const post = this.deps.post;
    if (this.baseLoad) {
      const current = await this.baseLoad.catch(() => null);
      if (current && current.info.preset === preset) {
        post({ type: 'base/ready', base: current.info });
        return;
      }
      if (current) {
        await this.runs.disposeAll();
        this.files.releaseImports();
        releaseBase(current.base);
        this.currentBase = null;
      }
    }
    const load = (async () => {
      let engine: Engine;
      try {
        engine = await this.enginePromise;
      } catch (e) {
        throw new BaseLoadError(`The base model needs the GPU: ${message(e)}`, 'See the GPU panel for why WebGPU is not available.');
      }
      const b = await loadStudioBase(engine, preset, this.deps.fetch, this.deps.onnx ?? null);
      const snapshot = await this.storage.loadEmbeddings().catch(() => undefined);
      if (snapshot) b.base.embeddings.restore(snapshot);
      return b;
    })();
    this.baseLoad = load;
    let b: StudioBase;
    try {
      b = await load;
    } catch (e) {
      if (this.baseLoad === load) this.baseLoad = null;
      const advice = e instanceof BaseLoadError ? e.advice : 'Reload the page; if it happens again, check the browser console for a GPU error.';
      post({ type: 'base/error', message: e instanceof BaseLoadError ? e.message : `The base model could not be loaded: ${message(e)}`, advice });
      return;
    }
    this.currentBase = b;
    post({ type: 'base/ready', base: b.info });
    await this.files.restoreImports();
    const ds = this.currentDataset;
    if (ds && ds.resolution !== b.info.resolution) {
      this.currentDataset = null;
      if (ds.stored.kind === 'builtin') {
        const { split, count } = ds.stored;
        await this.useData(async () => StudioDataset.builtin(split, count, b.info.resolution), 'builtin');
      } else {
        post({ type: 'data/error', message: `The dataset "${ds.name}" was prepared at ${ds.resolution}×${ds.resolution}; the ${preset} base needs ${b.info.resolution}×${b.info.resolution}.`, advice: 'Drop the folder again to prepare it for this base.' });
      }
    } else if (!ds && !this.dataLoad) {
      await this.restoreDataset();
    }
  }

  // ------------------------------------------------------------------------------------------------ data

  /** The dataset stored in IndexedDB (after a reload), when nothing else was asked for meanwhile. */
  private async restoreDataset(): Promise<void> {
    const generation = this.dataGeneration;
    let stored: Awaited<ReturnType<StudioStorage['loadDataset']>>;
    try {
      stored = await this.storage.loadDataset();
    } catch (e) {
      if (e instanceof StorageError) this.deps.post({ type: 'storage/error', message: e.message, advice: e.advice });
      return;
    }
    if (!stored || generation !== this.dataGeneration || this.currentDataset || this.dataLoad) return;
    const b = this.currentBase;
    if (!b || stored.dataset.resolution !== b.info.resolution) return;
    await this.useData(async () => StudioDataset.fromStored(stored!.dataset, stored!.edits), 'restore');
  }

  /** Makes a dataset current: build it, pre-encode its captions, store it, post data/ready (or data/error). */
  private async useData(make: () => Promise<StudioDataset>, kind: 'builtin' | 'files' | 'restore' | 'folder'): Promise<void> {
    if (kind !== 'restore') this.dataGeneration++;
    const load = (async () => {
      const ds = await make();
      const { base } = await this.base();
      const captions = [...new Set(['', ...ds.captions()])];
      for (let i = 0; i < captions.length; i += ENCODE_CHUNK) {
        this.deps.post({ type: 'data/progress', phase: 'encode', done: i, total: captions.length });
        await base.embeddings.embed(captions.slice(i, i + ENCODE_CHUNK));
      }
      this.deps.post({ type: 'data/progress', phase: 'encode', done: captions.length, total: captions.length });
      return ds;
    })();
    this.dataLoad = load;
    let ds: StudioDataset;
    try {
      ds = await load;
    } catch (e) {
      if (this.dataLoad === load) this.dataLoad = null;
      const advice = kind === 'files' ? 'Check the report of skipped files, fix or remove them, and drop the folder again.' : 'Load a base model first, then choose the dataset again.';
      this.deps.post({ type: 'data/error', message: message(e), advice });
      return;
    }
    if (this.dataLoad === load) this.dataLoad = null;
    this.currentDataset = ds;
    this.deps.post({ type: 'data/ready', dataset: ds.summary() });
    if (kind !== 'restore') {
      try {
        await this.storage.saveDataset(ds.stored);
        if (kind === 'folder') await this.storage.saveEdits(ds.editsRecord()); // a project folder's caption edits
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        this.deps.post({ type: 'storage/error', message: e.message, advice: `${e.advice} The dataset is in use now but will not survive a reload.` });
      }
    }
    await this.saveEmbeddings();
  }

  private async saveEmbeddings(): Promise<void> {
    const b = this.currentBase;
    if (!b) return;
    try {
      await this.storage.saveEmbeddings(b.base.embeddings.snapshot());
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.deps.post({ type: 'storage/error', message: e.message, advice: e.advice });
    }
  }

  private async ingest(name: string, files: Array<{ path: string; file: File }>, ignored: string[], unreadable: Array<{ path: string; error: string }>): Promise<StudioDataset> {
    const { info, base } = await this.base();
    const listing = entriesFromFiles({ files: [...files.map((f) => ({ path: f.path, file: f.file })), ...unreadable.map((u) => ({ path: u.path, error: u.error }))], ignored });
    const result = await ingestDataset(listing, {
      resolution: info.resolution,
      decoder: this.deps.decoder(),
      onProgress: (p) => this.deps.post({ type: 'data/progress', phase: p.phase, done: p.done, total: p.total }),
      captionTokens: base.tokenizer.captionTokens(), // warns about captions the encoder cuts
    });
    if (result.examples.length === 0) {
      throw new Error(`No image of "${name}" could be used.\n\n${result.report.toText()}`);
    }
    return StudioDataset.fromIngest(name, result);
  }

  private async editCaption(id: string, caption: string): Promise<void> {
    let ds: StudioDataset;
    try {
      ds = await this.dataset();
      const text = ds.setCaption(id, caption);
      const { base } = await this.base();
      await base.embeddings.embed([text]);
    } catch (e) {
      this.deps.post({ type: 'data/error', message: `The caption could not be changed: ${message(e)}`, advice: 'Write a non-empty caption for an image of the current dataset.' });
      return;
    }
    this.deps.post({ type: 'data/ready', dataset: ds.summary() });
    try {
      await this.storage.saveEdits(ds.editsRecord());
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.deps.post({ type: 'storage/error', message: e.message, advice: e.advice });
    }
  }

  // ------------------------------------------------------------------------------------------------ runs

  private async restoreRuns(): Promise<void> {
    let runs;
    try {
      runs = await this.runs.restore();
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.deps.post({ type: 'storage/error', message: e.message, advice: e.advice });
      runs = this.runs.records().map(summaryOf);
    }
    this.deps.post({ type: 'runs/restored', runs });
    await this.files.restoreImports();
    await this.folder.restore();
  }

  // ------------------------------------------------------------------------------------------------ compare

  private async compare(req: CompareRequest): Promise<void> {
    try {
      const { base } = await this.base();
      const engine = await this.enginePromise;
      const columns: ColumnSpec[] = [{ label: 'base', runId: null, loras: [] }];
      for (const id of req.runs) {
        const imp = this.files.imported(id);
        if (imp) {
          columns.push({ label: imp.label, runId: id, loras: [imp.set] });
          continue;
        }
        const job = this.runs.get(id);
        if (!job) throw new Error(`there is no run or imported LoRA with id ${id}`);
        columns.push({ label: `${job.record.method.toUpperCase()} (${job.record.name})`, runId: id, loras: await job.adapters() });
      }
      const result = await compareSample(
        { engine, base, lock: this.lock, scorer: this.deps.scorer ?? null, onProgress: (done, total) => this.deps.post({ type: 'compare/progress', done, total }) },
        req,
        columns,
      );
      this.deps.post({ type: 'compare/result', columns: result, prompts: [...req.prompts] });
    } catch (e) {
      this.deps.post({ type: 'compare/error', message: message(e) });
    }
  }

  // ------------------------------------------------------------------------------------------------ storage

  private async estimate(): Promise<void> {
    const sm = this.deps.storageManager;
    if (!sm) {
      this.deps.post({ type: 'storage/estimate', usage: 0, quota: 0, persisted: false });
      return;
    }
    try {
      const { usage = 0, quota = 0 } = await sm.estimate();
      const persisted = sm.persisted ? await sm.persisted() : false;
      this.deps.post({ type: 'storage/estimate', usage, quota, persisted });
    } catch (e) {
      this.deps.post({ type: 'storage/error', message: `The storage estimate failed: ${message(e)}`, advice: 'Nothing to do: training and storage are not affected.' });
    }
  }
}
