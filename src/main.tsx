import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { applyWorkerMessage, useGpuStore } from './store/gpu';
import { applyStudioMessages, connectStudio, studio, useStudioStore } from './store/studio';
import { App } from './ui/App';
import { downloadBytes } from './ui/download';
import './ui/styles.css';
import type { WorkerToUi } from './worker/protocol';
import { startStudioWorker } from './worker/client';

/** The base preset loaded on start. The pretrained studio-s base is not shipped yet, so the tiny one. */
const START_PRESET = 'tiny';

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

// The worker is started once, outside React, so StrictMode's double effects cannot start two GPU owners.
try {
  const worker = startStudioWorker(onMessage);
  connectStudio((m) => worker.send(m));
  worker.send({ type: 'gpu/probe' });
  studio.start(START_PRESET);
  // Ask the browser to keep the studio's IndexedDB (runs, checkpoints, datasets) under storage pressure. Only a
  // page may ask (the worker has no persist()); the answer shows up in the next storage estimate.
  void navigator.storage?.persist?.().catch(() => undefined);
} catch (e) {
  onMessage({
    type: 'gpu/error',
    stage: 'worker',
    message: `The studio worker could not be started: ${e instanceof Error ? e.message : String(e)}`,
  });
}

// For the end-to-end tests and for curious users: the stores, read-only by convention.
(window as unknown as { __studio: unknown }).__studio = { studio: useStudioStore, gpu: useGpuStore };

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
