// Browser entry: the same training-step benchmark in the page's WebGPU (Chromium), driven by run.ts through the
// kernel bench's page runner (bench/kernels/run.ts runPage).
import { requestGpuContext } from '../../src/gpu/device';
import { runTrainBench, type TrainBenchOptions, type TrainBenchReport } from './bench';

async function run(options: Partial<TrainBenchOptions>): Promise<TrainBenchReport> {
  const ctx = await requestGpuContext(navigator.gpu);
  return runTrainBench({ name: 'chromium', platform: navigator.userAgent, ctx, log: (s) => console.log(s) }, options);
}

declare global {
  interface Window {
    runTrainBench?: typeof run;
  }
}

window.runTrainBench = run;
