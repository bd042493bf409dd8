// Browser entry: the same benchmark in the page's WebGPU (Chromium), driven by run.ts through Playwright.
// onnxruntime-web is not bundled: run.ts serves its dist/ folder at /ort/, and the page imports the JSEP
// build (the same dist/ort.min.mjs as in Node) with its wasm from there — nothing comes from the network.
import { requestGpuContext } from '../../src/gpu/device';
import { runKernelBench, type BenchOptions, type BenchReport } from './bench';
import type { Ort } from './ort';

const ORT_BASE = '/ort/';

async function run(options: Partial<BenchOptions>): Promise<BenchReport> {
  const ctx = await requestGpuContext(navigator.gpu);
  let ort: Ort | null = null;
  let ortUnavailable: string | undefined;
  try {
    ort = (await import(/* @vite-ignore */ `${ORT_BASE}ort.min.mjs`)) as Ort;
    ort.env.wasm.wasmPaths = ORT_BASE;
  } catch (err) {
    ortUnavailable = `onnxruntime-web did not load: ${err instanceof Error ? err.message : String(err)}`;
  }
  return runKernelBench({ name: 'chromium', platform: navigator.userAgent, ctx, ort, ortUnavailable, log: (s) => console.log(s) }, options);
}

declare global {
  interface Window {
    runKernelBench?: typeof run;
  }
}

window.runKernelBench = run;
