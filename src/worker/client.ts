// The UI's handle on the studio worker. The UI imports this, never the worker's modules, so no GPU code is
// loaded on the main thread.
import type { UiToWorker, WorkerToUi } from './protocol';

export interface StudioWorker {
  send(message: UiToWorker): void;
  terminate(): void;
}

/** `generation` counts the workers this page started (1 at load, +1 per recovery); it names the worker. */
export function startStudioWorker(onMessage: (message: WorkerToUi) => void, generation = 1): StudioWorker {
  const worker = new Worker(new URL('./studio.worker.ts', import.meta.url), { type: 'module', name: `soar-studio#${generation}` });
  worker.addEventListener('message', (event: MessageEvent<WorkerToUi>) => onMessage(event.data));
  // A worker that fails to load or throws at the top level reports here, not through messages.
  worker.addEventListener('error', (event: ErrorEvent) => {
    event.preventDefault();
    onMessage({ type: 'gpu/error', stage: 'worker', message: `The studio worker failed: ${event.message || 'could not load its script'}` });
  });
  worker.addEventListener('messageerror', () => {
    onMessage({ type: 'gpu/error', stage: 'worker', message: 'A message from the studio worker could not be read.' });
  });
  return {
    send: (message) => worker.postMessage(message),
    terminate: () => worker.terminate(),
  };
}
