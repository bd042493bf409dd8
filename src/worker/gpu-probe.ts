// The worker's first job: find the GPU, say which one it is, and prove compute works on it. Kept apart from
// the worker entry so Node tests can drive it with Dawn (or with no WebGPU at all) and check every message.
import { describeAdapter, requestGpuContext, WebGpuUnavailableError, type GpuContext } from '../gpu/device';
import { describeSelfTest, runSelfTest } from '../gpu/selftest';
import type { UnavailableReason, WorkerToUi } from './protocol';

export const SELFTEST_SIZE = 1024;

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A WebGpuUnavailableError that says which of the ways to have no GPU this is. */
export class GpuUnavailable extends WebGpuUnavailableError {
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    advice: string,
  ) {
    super(message, advice);
  }
}

/** The browser's way in: `gpu` is navigator.gpu (WorkerNavigator.gpu in the worker). Browsers expose WebGPU to
 *  secure pages only (https, or http on localhost), so a missing entry point on a plain-http page from another
 *  host gets its own explanation: the browser supports WebGPU, the page's address hides it. */
export async function acquireBrowserGpu(
  gpu: GPU | undefined | null,
  env: { isSecureContext: boolean; origin: string },
): Promise<GpuContext> {
  if (!gpu && !env.isSecureContext) {
    throw new GpuUnavailable(
      'insecure-context',
      `WebGPU is only available to secure pages, and this page was opened over plain HTTP from ${env.origin}.`,
      'Open the studio at http://localhost or http://127.0.0.1 on the machine that serves it (npm start), or ' +
        'serve it over HTTPS.',
    );
  }
  try {
    return await requestGpuContext(gpu);
  } catch (e) {
    if (e instanceof WebGpuUnavailableError && !(e instanceof GpuUnavailable)) {
      throw new GpuUnavailable(gpu ? 'no-adapter' : 'no-webgpu', e.message, e.advice);
    }
    throw e;
  }
}

/**
 * Acquires the GPU through `acquire` and reports to `post`, in order: `gpu/adapter` then `gpu/selftest`, or
 * `gpu/unavailable` when there is no WebGPU / adapter, or `gpu/error` for anything else. Never throws.
 * Returns the context (for the work that follows) or null.
 */
export async function probeGpu(
  acquire: () => Promise<GpuContext>,
  post: (message: WorkerToUi) => void,
  options: { selfTestSize?: number } = {},
): Promise<GpuContext | null> {
  let ctx: GpuContext;
  try {
    ctx = await acquire();
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) {
      const reason = e instanceof GpuUnavailable ? e.reason : 'no-adapter';
      post({ type: 'gpu/unavailable', reason, message: e.message, advice: e.advice });
    } else {
      post({
        type: 'gpu/unavailable',
        reason: 'no-device',
        message: `The GPU adapter refused to create a device: ${errorMessage(e)}`,
        advice: 'Close other tabs or applications using the GPU and reload; check chrome://gpu for driver problems.',
      });
    }
    return null;
  }

  post({ type: 'gpu/adapter', summary: ctx.summary, description: describeAdapter(ctx.summary) });
  void ctx.device.lost.then((info) => {
    if (info.reason !== 'destroyed') post({ type: 'gpu/lost', reason: info.reason, message: info.message });
  });

  try {
    const result = await runSelfTest(ctx.device, options.selfTestSize ?? SELFTEST_SIZE);
    post({ type: 'gpu/selftest', result, text: describeSelfTest(result) });
  } catch (e) {
    post({ type: 'gpu/error', stage: 'selftest', message: errorMessage(e) });
  }
  return ctx;
}
