// The studio worker: the only place in the browser that touches WebGPU. It probes the GPU ('gpu/probe', replayed
// to repeated requests), makes one Engine for everything, and hands every other message to the Studio
// (studio.ts), which does the work with the modules beside it; see protocol.ts for the messages.
import type { GpuContext } from '../gpu/device';
import { createBrowserImageDecoder } from '../data/ingest';
import { acquireBrowserGpu, probeGpu } from './gpu-probe';
import { canvasJpegEncoder, jpegJsEncoder } from './images';
import { idbStore } from './kv';
import type { UiToWorker, WorkerToUi } from './protocol';
import { Studio } from './studio';
import { browserOnnxEncoder } from './onnx-encoder';
import { scorePrompts } from '../eval/score';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(message: WorkerToUi, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

const storageManager = (scope.navigator as WorkerNavigator & { storage?: StorageManager }).storage ?? null;

const studio = new Studio({
  post,
  kv: idbStore(),
  fetch: (url) => fetch(new URL(url, scope.location.origin)),
  onnx: browserOnnxEncoder,
  decoder: () => createBrowserImageDecoder(),
  imageEncoder: canvasJpegEncoder() ?? jpegJsEncoder(),
  storageManager,
  // Compare-grid scores: the GenEval-style evaluator, for prompts in the built-in dataset's grammar.
  scorer: (prompts, images) => {
    const s = scorePrompts(prompts, images);
    return s ? { overall: s.overall, perTask: s.perTask } : null;
  },
});

// Answers of the probe, replayed to a repeated request: the GPU is acquired once per worker.
let probe: Promise<GpuContext | null> | null = null;
const sent: WorkerToUi[] = [];

function startProbe(): void {
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
  void probe.then((ctx) => {
    if (ctx) void studio.attachGpu(ctx);
    else studio.gpuUnavailable(sent.find((m) => m.type === 'gpu/unavailable')?.message ?? 'WebGPU is not available');
  });
}

// Messages are handled in arrival order as far as each handler's awaits allow; training runs in the background
// (the scheduler yields between steps), so pause/stop and everything else get through while a run trains.
function handle(message: UiToWorker): void {
  if (message.type === 'gpu/probe') {
    if (probe) void probe.then(() => sent.forEach((m) => post(m)));
    else startProbe();
    return;
  }
  // Everything else needs the GPU: the Studio waits for the probe's engine where it must.
  if (!probe) startProbe();
  void studio.handle(message);
}

scope.addEventListener('message', (event: MessageEvent<UiToWorker>) => handle(event.data));
