// Browser entry: the same model benchmark in the page's WebGPU (Chromium), driven by run.ts through the kernel
// bench's page runner; onnxruntime-web comes from its dist/ served at /ort/ (see bench/kernels/browser.ts).
import { requestGpuContext } from '../../src/gpu/device';
import type { Ort } from '../kernels/ort';
import { runModelBench, type ModelBenchOptions, type ModelBenchReport } from './bench';

const ORT_BASE = '/ort/';

async function run(options: Partial<ModelBenchOptions>): Promise<ModelBenchReport> {
  const ctx = await requestGpuContext(navigator.gpu);
  let ort: Ort | null = null;
  let ortUnavailable: string | undefined;
  try {
    ort = (await import(/* @vite-ignore */ `${ORT_BASE}ort.min.mjs`)) as Ort;
    ort.env.wasm.wasmPaths = ORT_BASE;
  } catch (err) {
    ortUnavailable = `onnxruntime-web did not load: ${err instanceof Error ? err.message : String(err)}`;
  }
  return runModelBench({ name: 'chromium', platform: navigator.userAgent, ctx, ort, ortUnavailable, log: (s) => console.log(s) }, options);
}

declare global {
  interface Window {
    runModelBench?: typeof run;
  }
}

window.runModelBench = run;
