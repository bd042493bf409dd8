// The typed message protocol between the UI (main thread) and the studio worker, which owns the GPU.
// Messages are plain structured-cloneable objects; every one has a `type` so both sides can switch on it.
// Images travel as RGBA8 (`Uint8ClampedArray`, width·height·4) ready for `new ImageData(...)`; large byte
// payloads (LoRA files) are transferred, not copied.
import type { AdapterSummary } from '../gpu/device';
import type { SelfTestResult } from '../gpu/selftest';
import type { KernelChoices } from '../tensor/kernels';
import type { Measurement } from '../tensor/tuning';
import type { StepMetrics } from '../train/trainer';
import type { Method, TrainConfig } from '../train/config';
import type { FolderHandle, FolderPermission } from './folder';
import type { ExtractionSummary, ModuleEnergy } from '../io/tuned-to-lora';

// ------------------------------------------------------------------------------------------------ shared types

/** An image for display: RGBA8, row-major. */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface BaseInfo {
  id: string;
  preset: string;
  /** 'builtin': the shipped pretrained base; 'random': randomly initialised (no pretrained base for this preset). */
  source: 'builtin' | 'random';
  resolution: number;
  parameters: number;
  trainable: boolean;
  /** What encodes captions: 'onnxruntime-web (wasm)' for the shipped base, else the engine's kernels. */
  textEncoder: string;
}

export interface DatasetSummary {
  /** 'builtin:clean' or the dropped folder's name. */
  name: string;
  format: string;
  count: number;
  resolution: number;
  /** The ingestion report as text (downloadable) and counts per skip reason. */
  reportText: string;
  skipped: Record<string, number>;
  warnings: Record<string, number>;
  /**
   * Each skipped or warned-about item with its file, the line of a JSONL row, and why (the first
   * REPORT_ITEMS_SHOWN per reason; the downloaded report has them all).
   */
  items: Array<{ key: string; kind: 'skip' | 'warn'; path: string; line?: number; message: string }>;
  /** First examples for the preview grid (id, caption, thumbnail at the model resolution). */
  preview: Array<{ id: string; caption: string; path: string; image: RgbaImage }>;
}

export type RunStatus = 'queued' | 'running' | 'paused' | 'done' | 'stopped' | 'error';

/**
 * The finished run a Flow-GRPO run starts from ("SOAR, then Flow-GRPO"): its LoRA, as it was when the run
 * started, stays on under the one trained (the base the new run improves, and its KL's reference).
 */
export interface StartFrom {
  runId: string;
  name: string;
  method: Method;
  /** The step its LoRA was taken at. */
  step: number;
}

export interface RunSummary {
  id: string;
  name: string;
  method: Method;
  config: TrainConfig;
  status: RunStatus;
  step: number;
  /** The step of the last checkpoint written to IndexedDB. */
  checkpointStep: number;
  history: StepMetrics[];
  validation: Array<{ step: number; loss: number }>;
  error?: { message: string; advice: string };
  createdAt: number;
  /** The run whose LoRA this one starts from (absent: the base). */
  startFrom?: StartFrom;
}

/** A run as it is before its first step: what the UI shows at once and what the worker records. */
export function queuedRun(run: { id: string; name: string; config: TrainConfig }, createdAt: number): RunSummary {
  return { id: run.id, name: run.name, method: run.config.method, config: run.config, status: 'queued', step: 0, checkpointStep: 0, history: [], validation: [], createdAt };
}

export interface TrajectoryFrame {
  /** One training sample of the current batch: z0, z_sigma0, the rollout state ẑ1, the K re-noised states z'
   *  with their sigma and the x̂0 = z' − sigma'·v' the model implies at each. */
  runId: string;
  step: number;
  sigma0: number;
  sigma1: number | null;
  z0: RgbaImage;
  zSigma0: RgbaImage;
  rollout: RgbaImage | null;
  /** `target` is the correction velocity v_corr = (z' − z0)/sigma', drawn divided by its own max |v| (a velocity
   *  exceeds [-1, 1]); states and predictedX0 are drawn as images in [-1, 1]. */
  aux: Array<{ sigma: number; state: RgbaImage; target: RgbaImage; predictedX0: RgbaImage }>;
}

/** Flow-GRPO's sampled groups at a step of the watched run: each prompt's images with reward and advantage. */
export interface GroupFrame {
  runId: string;
  step: number;
  groups: Array<{ prompt: string; samples: Array<{ image: RgbaImage; reward: number; advantage: number }> }>;
}

export interface CompareRequest {
  prompts: string[];
  seed: number;
  steps: number;
  cfgScale: number;
  /** Run ids whose LoRA is applied (base is always included as the first column). */
  runs: string[];
  captureTrajectory: boolean;
}

export interface CompareColumn {
  label: string; // 'base', 'SFT (run name)', 'SOAR (run name)'
  runId: string | null;
  images: RgbaImage[]; // one per prompt, same seeds across columns
  /** Denoising trajectory per prompt (state at each level) when asked for. */
  trajectories: RgbaImage[][] | null;
  /** Evaluator scores when the prompts come from the built-in dataset. */
  scores: { overall: number; perTask: Record<string, number> } | null;
}

/** The folder the project is kept in (File System Access; project-folder.ts), as the worker last saw it. */
export interface FolderStatus {
  name: string;
  /** The folder's handle: the page asks the browser for permission again with it (that needs a click). */
  handle: FolderHandle;
  /** 'prompt': the browser asks again before the studio may write (after a reload); nothing is written till then. */
  permission: FolderPermission;
  /** A write is under way. */
  writing: boolean;
  /** What the folder holds, as last written (or read back when the folder was chosen or the studio started). */
  written: { at: number; runs: Array<{ name: string; step: number }>; dataset: { name: string; count: number } | null } | null;
  /** Writes wait: the folder holds runs (or steps) this browser lacks; the text says which. */
  held: string | null;
  /** The last write failed: what failed and what to do (cleared by the next write that succeeds). */
  error: { message: string; advice: string } | null;
}

// ------------------------------------------------------------------------------------------------ UI -> worker

export type UiToWorker =
  /** Acquire the adapter and device (once; later probes repeat the last answers) and run the self-test. */
  | { type: 'gpu/probe' }
  /** Load the base model of a preset (the shipped one when present, else a random one). */
  | { type: 'base/load'; preset: string }
  /** Use the built-in dataset (split and count). */
  | { type: 'data/builtin'; split: 'clean' | 'broad'; count: number }
  /** Ingest dropped or picked files: File objects with their relative paths, collected on the main thread. */
  | {
      type: 'data/files';
      name: string;
      files: Array<{ path: string; file: File }>;
      /** Hidden/system files and folders the page's walk left out (`.DS_Store`, `__MACOSX/`), for the report. */
      ignored?: string[];
      /** Files the browser listed but would not give (no File object), with why: report them as unreadable. */
      unreadable?: Array<{ path: string; error: string }>;
    }
  /** Edit one caption (the dropped files are never modified; the edit lives in the studio's copy). */
  | { type: 'data/caption'; id: string; caption: string }
  /** Start runs (method 'both' is expanded by the UI into an SFT and a SOAR run, interleaved step by step). */
  /** `startFrom`: the id of a finished SFT or SOAR run whose LoRA a Flow-GRPO run trains on top of. */
  | { type: 'run/start'; runs: Array<{ id: string; name: string; config: TrainConfig; startFrom?: string }>; interleave: boolean }
  | { type: 'run/pause'; id: string }
  | { type: 'run/resume'; id: string }
  | { type: 'run/stop'; id: string }
  | { type: 'run/delete'; id: string }
  /** Restore the runs stored in IndexedDB (after a reload). */
  | { type: 'runs/restore' }
  | { type: 'trajectory/watch'; runId: string | null }
  | { type: 'compare/sample'; request: CompareRequest }
  | { type: 'lora/export'; runId: string; naming: 'peft' | 'kohya'; dtype: 'F32' | 'F16' }
  | { type: 'lora/import'; name: string; bytes: ArrayBuffer }
  /**
   * A full fine-tune as a LoRA of the base (extract.ts): a .safetensors file, or the picked files of its
   * transformer folder (shards + index), read a tensor at a time; rank and target modules as in extract-lora.
   */
  | { type: 'lora/extract'; name: string; files: Array<{ path: string; file: File }>; rank: number; targets: string[] }
  | { type: 'project/export' }
  | { type: 'project/import'; bytes: ArrayBuffer }
  /** size: the images' side in px (default 512), gpus: the GPUs the run is meant for (default 1); see bundle.ts. */
  | { type: 'bundle/export'; runId: string; size?: number; gpus?: number }
  | { type: 'storage/estimate' }
  /** Keep the project in this folder from now on (written after every checkpoint; remembered across reloads). */
  | { type: 'folder/keep'; handle: FolderHandle }
  /** Bring back the project a folder holds (null: the folder kept now), then keep it there. */
  | { type: 'folder/open'; handle: FolderHandle | null }
  /** Write again (after a failure, or once the page got the permission); `overwrite`: even though it is held. */
  | { type: 'folder/retry'; overwrite?: boolean }
  /** Stop keeping the project in the folder (its files stay). */
  | { type: 'folder/forget' };

/** Why the studio cannot use WebGPU: the browser has none, the page is not a secure context (so the browser
 *  hides it), or it gave no adapter or no device. */
export interface RunPhase {
  /** preparing: restoring the checkpoint and building the trainer; first-step: compiling the step's kernels. */
  kind: 'preparing' | 'first-step';
  message: string;
}

export type UnavailableReason = 'no-webgpu' | 'insecure-context' | 'no-adapter' | 'no-device';

// ------------------------------------------------------------------------------------------------ worker -> UI

export type WorkerToUi =
  | { type: 'gpu/adapter'; summary: AdapterSummary; description: string }
  | { type: 'gpu/unavailable'; reason: UnavailableReason; message: string; advice: string }
  | { type: 'gpu/selftest'; result: SelfTestResult; text: string }
  /** Something failed that is not "WebGPU is missing": a device error, a failing self-test dispatch, a worker
   *  that did not load. */
  | { type: 'gpu/error'; stage: 'device' | 'selftest' | 'worker'; message: string }
  | { type: 'gpu/lost'; reason: string; message: string }
  /** The kernel variants chosen for this adapter: being measured, chosen (measured now or cached), or failed. */
  | { type: 'gpu/kernels'; phase: 'measuring' }
  | { type: 'gpu/kernels'; phase: 'ready'; choices: KernelChoices; text: string; measuredMs: number | null; measurements: Measurement[] }
  | { type: 'gpu/kernels'; phase: 'failed'; message: string }
  | { type: 'base/ready'; base: BaseInfo }
  | { type: 'base/error'; message: string; advice: string }
  | { type: 'data/progress'; phase: 'scan' | 'decode' | 'encode'; done: number; total: number }
  | { type: 'data/ready'; dataset: DatasetSummary }
  | { type: 'data/error'; message: string; advice: string }
  | { type: 'run/update'; run: RunSummary }
  /** Answer to 'run/delete': the run, its checkpoint and its LoRA are gone (also for an id the worker did not know). */
  | { type: 'run/deleted'; id: string }
  /** Incremental metrics (cheaper than a whole RunSummary every step). */
  /** stepsPerSecond from this run's own wall time per step; etaScope 'together': the ETA of all interleaved runs. */
  | { type: 'run/metrics'; runId: string; metrics: StepMetrics; stepsPerSecond: number; etaSeconds: number; etaScope: 'run' | 'together' }
  | { type: 'run/validation'; runId: string; step: number; loss: number }
  /**
   * What a run is doing before its step counter moves (null: training normally). The first step of a run
   * compiles every GPU pipeline it uses, which on a software adapter takes up to a minute.
   */
  | { type: 'run/phase'; runId: string; phase: RunPhase | null }
  | { type: 'runs/restored'; runs: RunSummary[] }
  | { type: 'trajectory/frame'; frame: TrajectoryFrame }
  | { type: 'trajectory/groups'; frame: GroupFrame }
  | { type: 'compare/progress'; done: number; total: number }
  | { type: 'compare/result'; columns: CompareColumn[]; prompts: string[] }
  | { type: 'compare/error'; message: string }
  | { type: 'file/download'; fileName: string; mime: string; bytes: ArrayBuffer }
  /** `runId` is the id to name in CompareRequest.runs and 'lora/export'; `name` the name it was imported under. */
  | { type: 'lora/imported'; runId: string; warnings: string[]; name?: string }
  | { type: 'lora/error'; message: string }
  /** The extraction has done `done` of `total` modules (`module` the last one). */
  | { type: 'lora/extract-progress'; done: number; total: number; module: string }
  /** An extraction is stored as imported LoRA `runId` (after its 'lora/imported'); energy kept per module. */
  | { type: 'lora/extracted'; runId: string; name: string; source: string; summary: ExtractionSummary; modules: ModuleEnergy[] }
  /** The extraction was refused or failed: what was wrong and what to do (nothing was added). */
  | { type: 'lora/extract-error'; message: string; advice: string }
  /** A project import/export or a trainer bundle failed (nothing was changed). */
  | { type: 'project/error'; message: string; advice: string }
  | { type: 'storage/estimate'; usage: number; quota: number; persisted: boolean }
  /** A failed write to IndexedDB (quota): shown with what to do, never swallowed. */
  | { type: 'storage/error'; message: string; advice: string }
  /** The project folder now (null: none is kept); sent at start and after every change. */
  | { type: 'folder/state'; folder: FolderStatus | null }
  /** A folder was opened: runs added, runs already here (`skipped`) or replaced by the folder's newer ones. */
  | { type: 'folder/opened'; name: string; added: string[]; skipped: string[]; replaced: string[]; dataset: string | null; notes: string[] }
  /** Keeping or opening a folder failed (nothing was changed). */
  | { type: 'folder/error'; action: 'keep' | 'open'; message: string; advice: string };

export type WorkerMessageType = WorkerToUi['type'];
