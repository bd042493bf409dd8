// Browser entry: the same benchmark in the page's WebGPU (Chromium), driven by run.ts through Playwright.
// onnxruntime-web is not bundled: run.ts serves its dist/ folder at /ort/, and the page imports the JSEP
// build (the same dist/ort.min.mjs as in Node) with its wasm from there — nothing comes from the network.
import { requestGpuContext } from '../../src/gpu/device';
import { runKernelBench, type BenchOptions, type BenchReport } from './bench';
import { loadPageOrt } from '../lib/page-ort';

async function run(options: Partial<BenchOptions>): Promise<BenchReport> {
  const ctx = await requestGpuContext(navigator.gpu);
  const { ort, ortUnavailable } = await loadPageOrt();
  return runKernelBench({ name: 'chromium', platform: navigator.userAgent, ctx, ort, ortUnavailable, log: (s) => console.log(s) }, options);
}

declare global {
  interface Window {
    runKernelBench?: typeof run;
  }
}

window.runKernelBench = run;
