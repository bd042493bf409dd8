// The typed message protocol between the UI (main thread) and the studio worker, which owns the GPU.
// Messages are plain structured-cloneable objects; every one has a `type` so both sides can switch on it.
import type { AdapterSummary } from '../gpu/device';
import type { SelfTestResult } from '../gpu/selftest';

/** UI -> worker. */
export type UiToWorker =
  /** Acquire the adapter and device (once; later probes repeat the last answers) and run the self-test. */
  { type: 'gpu/probe' };

/** Why the studio cannot use WebGPU: the browser has none, the page is not a secure context (so the browser
 *  hides it), or it gave no adapter or no device. */
export type UnavailableReason = 'no-webgpu' | 'insecure-context' | 'no-adapter' | 'no-device';

/** Worker -> UI. */
export type WorkerToUi =
  | { type: 'gpu/adapter'; summary: AdapterSummary; description: string }
  | { type: 'gpu/unavailable'; reason: UnavailableReason; message: string; advice: string }
  | { type: 'gpu/selftest'; result: SelfTestResult; text: string }
  /** Something failed that is not "WebGPU is missing": a device error, a failing self-test dispatch, a worker
   *  that did not load. */
  | { type: 'gpu/error'; stage: 'device' | 'selftest' | 'worker'; message: string }
  | { type: 'gpu/lost'; reason: string; message: string };

export type WorkerMessageType = WorkerToUi['type'];
