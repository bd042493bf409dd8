// Browser entry: the same model benchmark in the page's WebGPU (Chromium), driven by run.ts through the kernel
// bench's page runner; onnxruntime-web comes from its dist/ served at /ort/ (see bench/kernels/browser.ts).
import { requestGpuContext } from '../../src/gpu/device';
import { loadPageOrt } from '../lib/page-ort';
import { runModelBench, type ModelBenchOptions, type ModelBenchReport } from './bench';

async function run(options: Partial<ModelBenchOptions>): Promise<ModelBenchReport> {
  const ctx = await requestGpuContext(navigator.gpu);
  const { ort, ortUnavailable } = await loadPageOrt();
  return runModelBench({ name: 'chromium', platform: navigator.userAgent, ctx, ort, ortUnavailable, log: (s) => console.log(s) }, options);
}

declare global {
  interface Window {
    runModelBench?: typeof run;
  }
}

window.runModelBench = run;
