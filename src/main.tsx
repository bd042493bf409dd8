import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { applyWorkerMessage, initialGpuState, useGpuStore } from './store/gpu';
import { applyStudioMessages, connectStudio, onRestartRequest, studio, useStudioStore } from './store/studio';
import { App } from './ui/App';
import { BASE_PRESETS } from './ui/BasePanel';
import { loadPref } from './ui/settings';
import { downloadBytes } from './ui/download';
import './ui/styles.css';
import type { WorkerToUi } from './worker/protocol';
import { startStudioWorker, type StudioWorker } from './worker/client';

/** The base preset loaded on start: the shipped pretrained studio-s, or the one the user picked last time. */
const START_PRESET = loadPref('base-preset', 'studio-s', (v): v is string => typeof v === 'string' && BASE_PRESETS.some((p) => p.id === v));

/** The storage estimate after anything that writes to IndexedDB (a dataset, a checkpoint, an import): at most
 *  one request per few seconds, the last one always sent. */
let estimateTimer: ReturnType<typeof setTimeout> | null = null;
function refreshStorageSoon(): void {
  if (estimateTimer !== null) return;
  estimateTimer = setTimeout(() => {
    estimateTimer = null;
    studio.estimateStorage();
  }, 3000);
}
const WRITES_STORAGE = new Set<WorkerToUi['type']>(['data/ready', 'run/update', 'run/deleted', 'runs/restored', 'lora/imported']);

// A fast GPU posts metrics hundreds of times a second: the studio store takes them in batches, one render per
// batch (about 30 per second at most), in arrival order.
let queued: WorkerToUi[] = [];
let flushTimer: ReturnType<typeof setTimeout> | null = null;
function flush(): void {
  flushTimer = null;
  const batch = queued;
  queued = [];
  applyStudioMessages(batch);
  for (const m of batch) {
    if (m.type === 'runs/restored') studio.autoWatch();
    // A paused run's frame is computed on its data: ask again once a (restored) dataset is there.
    if (m.type === 'data/ready') studio.rewatchIfEmpty();
  }
}

function onMessage(m: WorkerToUi): void {
  applyWorkerMessage(m);
  queued.push(m);
  flushTimer ??= setTimeout(flush, 30);
  // The one side effect of a message: a file the worker built is handed to the user.
  if (m.type === 'file/download') downloadBytes(m.fileName, m.mime, m.bytes);
  if (WRITES_STORAGE.has(m.type)) refreshStorageSoon();
}

// The worker is started outside React, so StrictMode's double effects cannot start two GPU owners. It is replaced
// (never duplicated) when the user recovers from a lost GPU or a crashed worker.
let worker: StudioWorker | null = null;
let generation = 0;

function bootWorker(): void {
  if (worker) {
    worker.terminate(); // releases its device and its IndexedDB lock
    queued = [];
    useGpuStore.setState(initialGpuState, true);
  }
  generation++;
  try {
    const w = startStudioWorker(onMessage, generation);
    worker = w;
    connectStudio((m) => w.send(m));
    w.send({ type: 'gpu/probe' });
    studio.start(generation === 1 ? START_PRESET : studio.state().base.preset);
  } catch (e) {
    onMessage({
      type: 'gpu/error',
      stage: 'worker',
      message: `The studio worker could not be started: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
}

onRestartRequest(bootWorker);
bootWorker();
// Ask the browser to keep the studio's IndexedDB (runs, checkpoints, datasets) under storage pressure. Only a
// page may ask (the worker has no persist()); the answer shows up in the next storage estimate.
void navigator.storage?.persist?.().catch(() => undefined);

// For the end-to-end tests and for curious users: the stores, read-only by convention.
(window as unknown as { __studio: unknown }).__studio = { studio: useStudioStore, gpu: useGpuStore };

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
