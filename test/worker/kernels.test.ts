// The studio worker chooses its kernels before anything runs on the engine: measured on the first start with
// an adapter, cached per adapter in IndexedDB, and reported to the GPU panel.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createJsImageDecoder } from '../../src/data/ingest';
import { freshNodeGpuContext } from '../../src/gpu/node';
import { tuningKey } from '../../src/tensor/tuning';
import { jpegJsEncoder } from '../../src/worker/images';
import { idbStore } from '../../src/worker/kv';
import type { WorkerToUi } from '../../src/worker/protocol';
import { Studio } from '../../src/worker/studio';
import { reduceGpu, initialGpuState } from '../../src/store/gpu';

describe('studio kernel choice', () => {
  it('measures on first start, then reuses the choice stored for this adapter', async () => {
    const kv = idbStore('studio-kernels-test');
    const start = async () => {
      const messages: WorkerToUi[] = [];
      const studio = new Studio({ post: (m) => messages.push(structuredClone(m)), kv, fetch: null, decoder: () => createJsImageDecoder(), imageEncoder: jpegJsEncoder() });
      const engine = await studio.attachGpu(await freshNodeGpuContext());
      const kernels = messages.filter((m): m is Extract<WorkerToUi, { type: 'gpu/kernels' }> => m.type === 'gpu/kernels');
      engine.gpu.destroy();
      return { engine, kernels };
    };
    const first = await start();
    expect(first.kernels.map((k) => k.phase)).toEqual(['measuring', 'ready']);
    const ready = first.kernels[1] as Extract<WorkerToUi, { type: 'gpu/kernels'; phase: 'ready' }>;
    expect(ready.measuredMs).toBeGreaterThan(0);
    expect(ready.measurements.length).toBeGreaterThan(8);
    expect(first.engine.kernels).toEqual(ready.choices);
    expect(await kv.get(`kernels:${tuningKey(first.engine.gpu.summary)}`)).toEqual(ready.choices);

    const second = await start();
    const cached = second.kernels[1] as typeof ready;
    expect(cached).toMatchObject({ phase: 'ready', measuredMs: null, choices: ready.choices });
    // What the GPU panel shows.
    const state = second.kernels.reduce(reduceGpu, initialGpuState);
    expect(state.kernels).toMatchObject({ phase: 'ready', measuredMs: null, text: expect.stringMatching(/^matmul tiny \w+, skinny/) });
  });
});
