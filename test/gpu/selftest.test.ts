// The compute self-test on Dawn (Node) with SwiftShader: the same function the studio's worker runs in the browser.
import { afterAll, describe, expect, it } from 'vitest';
import { describeAdapter } from '../../src/gpu/device';
import { closeNodeGpu, nodeGpu } from '../../src/gpu/node';
import {
  compareSelfTest,
  describeSelfTest,
  runSelfTest,
  SELFTEST_SENTINEL_BITS,
  selfTestInputs,
  selfTestReference,
} from '../../src/gpu/selftest';

afterAll(closeNodeGpu);

describe('adapter summary', () => {
  it('reports a named adapter with sane limits and features', async () => {
    const { summary, device } = await nodeGpu();
    console.info(`adapter: ${describeAdapter(summary)}; features: ${summary.features.join(', ') || 'none'}`);
    expect(summary.vendor.length).toBeGreaterThan(0);
    const l = summary.limits;
    // WebGPU's guaranteed minimums (the spec's defaults); a real adapter reports at least these.
    expect(l.maxBufferSize).toBeGreaterThanOrEqual(256 * 2 ** 20);
    expect(l.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(l.maxStorageBufferBindingSize).toBeLessThanOrEqual(l.maxBufferSize);
    expect(l.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(l.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
    expect(l.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(l.maxComputeWorkgroupSizeX).toBeGreaterThanOrEqual(256);
    expect(l.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    for (const [name, value] of Object.entries(l)) expect(Number.isFinite(value), name).toBe(true);
    // The device was created with the adapter's maxima, so the summary (read from the device) shows them.
    expect(device.limits.maxStorageBufferBindingSize).toBe(l.maxStorageBufferBindingSize);
    expect(summary.features).toEqual([...summary.features].sort());
    if (/swiftshader/i.test(describeAdapter(summary))) expect(summary.isSoftware).toBe(true);
  });
});

describe('compute self-test', () => {
  it('matches the CPU exactly on 1024 values', async () => {
    const { device } = await nodeGpu();
    const r = await runSelfTest(device, 1024);
    console.info(`${describeSelfTest(r)} (${r.ms.toFixed(1)} ms)`);
    expect(r).toMatchObject({ ok: true, n: 1024, mismatches: 0, untouched: 0, maxAbsError: 0 });
    expect(describeSelfTest(r)).toBe('compute self-test passed: 1024 values match the CPU, max error 0');
  });

  it('covers a size that is not a multiple of the workgroup size', async () => {
    const { device } = await nodeGpu();
    const r = await runSelfTest(device, 1000);
    expect(r).toMatchObject({ ok: true, n: 1000, maxAbsError: 0 });
  });

  it('detects values the kernel never wrote and values that are wrong', () => {
    const { a, b } = selfTestInputs(8);
    const want = selfTestReference(a, b);
    const got = new Float32Array(want);
    new Uint32Array(got.buffer)[3] = SELFTEST_SENTINEL_BITS; // never written
    got[5] += 0.5; // wrong
    const r = compareSelfTest(got, want);
    expect(r).toMatchObject({ ok: false, mismatches: 2, untouched: 1, maxAbsError: Infinity });
    expect(r.firstMismatches.map((m) => m.index)).toEqual([3, 5]);
    expect(describeSelfTest(r)).toMatch(/FAILED: 2 of 8 values differ from the CPU \(1 never written\)/);
  });

  it('a buffer the kernel never wrote reads back as the sentinel, bit for bit, and fails the check', async () => {
    // The premise of the poisoning: the NaN payload survives upload, copy and readback, so a dispatch that
    // silently did nothing is caught as "never written", not mistaken for a result.
    const { device } = await nodeGpu();
    const n = 256;
    const poisoned = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint32Array(poisoned.getMappedRange()).fill(SELFTEST_SENTINEL_BITS);
    poisoned.unmap();
    const readback = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(poisoned, 0, readback, 0, n * 4);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    poisoned.destroy();
    readback.destroy();
    const { a, b } = selfTestInputs(n);
    const r = compareSelfTest(got, selfTestReference(a, b));
    expect(r).toMatchObject({ ok: false, mismatches: n, untouched: n, maxAbsError: Infinity });
  });

  it('uses inputs whose results are exact in f32', () => {
    const { a, b } = selfTestInputs(4096);
    const y = selfTestReference(a, b);
    for (let i = 0; i < y.length; i++) expect(y[i]).toBe(a[i] * b[i] + i); // float64 agrees with f32
  });
});
