// The worker's GPU probe, driven in Node: with Dawn (SwiftShader) it must report the adapter and a passing
// self-test; without WebGPU it must report why, in the words the UI shows, and never throw.
import { afterAll, describe, expect, it } from 'vitest';
import { closeNodeGpu, nodeGpu } from '../../src/gpu/node';
import { initialGpuState, reduceGpu } from '../../src/store/gpu';
import { acquireBrowserGpu, probeGpu } from '../../src/worker/gpu-probe';
import type { WorkerToUi } from '../../src/worker/protocol';

afterAll(closeNodeGpu);

const secure = { isSecureContext: true, origin: 'http://127.0.0.1:4173' };

async function probe(acquire: Parameters<typeof probeGpu>[0]): Promise<WorkerToUi[]> {
  const messages: WorkerToUi[] = [];
  await probeGpu(acquire, (m) => messages.push(m));
  return messages;
}

describe('probeGpu', () => {
  it('reports the adapter, then a passing self-test, on Dawn', async () => {
    const messages = await probe(nodeGpu);
    expect(messages.map((m) => m.type)).toEqual(['gpu/adapter', 'gpu/selftest']);
    const [adapter, selftest] = messages;
    if (adapter.type !== 'gpu/adapter' || selftest.type !== 'gpu/selftest') throw new Error('unreachable');
    expect(adapter.description).toContain(adapter.summary.vendor);
    expect(selftest.result).toMatchObject({ ok: true, n: 1024, maxAbsError: 0 });
    expect(selftest.text).toBe('compute self-test passed: 1024 values match the CPU, max error 0');
    // Everything posted must survive postMessage's structured clone.
    expect(structuredClone(messages)).toEqual(messages);
  });

  it('says WebGPU is missing when the browser has no navigator.gpu', async () => {
    const [m] = await probe(() => acquireBrowserGpu(undefined, secure));
    expect(m).toMatchObject({ type: 'gpu/unavailable', reason: 'no-webgpu', message: 'WebGPU is not available in this browser.' });
    if (m.type === 'gpu/unavailable') expect(m.advice).toMatch(/Chrome or Edge 113/);
  });

  it('explains the secure-context rule when a plain-http page from another host has no navigator.gpu', async () => {
    const [m] = await probe(() => acquireBrowserGpu(undefined, { isSecureContext: false, origin: 'http://studio.lan:4173' }));
    expect(m).toMatchObject({ type: 'gpu/unavailable', reason: 'insecure-context' });
    if (m.type === 'gpu/unavailable') {
      expect(m.message).toContain('http://studio.lan:4173');
      expect(m.advice).toMatch(/localhost/);
    }
  });

  it('says there is no adapter when requestAdapter gives null', async () => {
    const gpu = { requestAdapter: async () => null } as unknown as GPU;
    const [m] = await probe(() => acquireBrowserGpu(gpu, secure));
    expect(m).toMatchObject({ type: 'gpu/unavailable', reason: 'no-adapter' });
    if (m.type === 'gpu/unavailable') expect(m.advice).toMatch(/chrome:\/\/gpu/);
  });

  it('reports a device the adapter refuses to create', async () => {
    const adapter = {
      info: { vendor: 'test', architecture: '', device: '', description: '' },
      features: new Set<string>(),
      limits: {},
      requestDevice: async () => {
        throw new Error('device creation failed: out of memory');
      },
    };
    const gpu = { requestAdapter: async () => adapter } as unknown as GPU;
    const messages = await probe(() => acquireBrowserGpu(gpu, secure));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ type: 'gpu/unavailable', reason: 'no-device' });
    if (messages[0].type === 'gpu/unavailable') expect(messages[0].message).toMatch(/out of memory/);
  });
});

describe('the UI state built from worker messages', () => {
  it('moves from searching to ready, and records the self-test and errors', async () => {
    const messages = await probe(nodeGpu);
    let state = initialGpuState;
    expect(state.phase).toBe('searching');
    for (const m of messages) state = reduceGpu(state, m);
    expect(state.phase).toBe('ready');
    expect(state.adapter?.summary.limits.maxBufferSize).toBeGreaterThan(0);
    expect(state.selftest?.result.ok).toBe(true);
    state = reduceGpu(state, { type: 'gpu/error', stage: 'selftest', message: 'boom' });
    expect(state.errors).toEqual([{ stage: 'selftest', message: 'boom' }]);
  });

  it('moves from searching to unavailable', () => {
    const state = reduceGpu(initialGpuState, { type: 'gpu/unavailable', reason: 'no-webgpu', message: 'm', advice: 'a' });
    expect(state).toMatchObject({ phase: 'unavailable', adapter: null, unavailable: { reason: 'no-webgpu' } });
  });
});
