// The studio worker: the only place in the browser that touches WebGPU. The UI sends it requests and receives
// adapter info, self-test results (and, later, training metrics and images) as messages; see protocol.ts.
import type { GpuContext } from '../gpu/device';
import { acquireBrowserGpu, probeGpu } from './gpu-probe';
import type { UiToWorker, WorkerToUi } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(message: WorkerToUi): void {
  scope.postMessage(message);
}

// Answers of the probe, replayed to a repeated request: the GPU is acquired once per worker.
let probe: Promise<GpuContext | null> | null = null;
const sent: WorkerToUi[] = [];

function handle(message: UiToWorker): void {
  switch (message.type) {
    case 'gpu/probe': {
      if (probe) {
        void probe.then(() => sent.forEach(post));
        return;
      }
      // In a worker this is WorkerNavigator.gpu: undefined where the browser has no WebGPU.
      const gpu = scope.navigator.gpu as GPU | undefined;
      const env = { isSecureContext: scope.isSecureContext, origin: scope.location.origin };
      probe = probeGpu(
        () => acquireBrowserGpu(gpu, env),
        (m) => {
          sent.push(m);
          post(m);
        },
      );
      return;
    }
  }
}

scope.addEventListener('message', (event: MessageEvent<UiToWorker>) => handle(event.data));
