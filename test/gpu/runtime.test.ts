// The device seam's failure paths: errors name the kernel, limits are enforced with clear messages, and a lost
// device is reported as an event and refuses further work.
import { afterAll, describe, expect, it } from 'vitest';
import { closeNodeGpu, freshNodeGpuContext, nodeGpu } from '../../src/gpu/node';
import { Gpu, GpuError } from '../../src/gpu/runtime';

const COPY_KERNEL = {
  name: 'test.copy',
  code: `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&dst)) { dst[g.x] = src[g.x] * 2.0; }
}`,
};

let gpu: Gpu | null = null;
async function shared(): Promise<Gpu> {
  gpu ??= new Gpu(await nodeGpu());
  return gpu;
}

afterAll(async () => {
  gpu?.destroy();
  await closeNodeGpu();
});

describe('gpu runtime', () => {
  it('batches dispatches into one submit and reads back asynchronously', async () => {
    const g = await shared();
    const a = g.alloc(64 * 4, 'a');
    const b = g.alloc(64 * 4, 'b');
    g.write(a, Float32Array.from({ length: 64 }, (_, i) => i));
    const submitsBefore = g.stats.submits;
    for (let k = 0; k < 3; k++) g.dispatch({ kernel: COPY_KERNEL, buffers: [a, b], workgroups: [1] });
    expect(g.stats.submits).toBe(submitsBefore); // nothing submitted until a readback
    const out = new Float32Array(await g.read(b, 64 * 4));
    expect(g.stats.submits).toBe(submitsBefore + 1);
    expect(out[63]).toBe(126);
    g.release(a);
    g.release(b);
  });

  it('a shader that does not compile raises an error naming the kernel', async () => {
    const g = await shared();
    const buf = g.alloc(256, 'x');
    g.dispatch({ kernel: { name: 'broken.kernel', code: 'fn main( {' }, buffers: [buf], workgroups: [1] });
    await expect(g.sync()).rejects.toThrow(/broken\.kernel/);
    g.release(buf);
  });

  it('a validation error in a batch names the dispatches', async () => {
    const g = await shared();
    const buf = g.alloc(256, 'aliased');
    // The same buffer as read-only and writable storage in one dispatch is invalid.
    g.dispatch({ kernel: COPY_KERNEL, buffers: [buf, buf], workgroups: [1], detail: '[64]' });
    const err = await g.sync().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect(String((err as Error).message)).toMatch(/test\.copy \[64\]/);
    g.release(buf);
  });

  it('refuses a buffer above the binding limit with a clear message', async () => {
    const g = await shared();
    const limit = g.summary.limits.maxStorageBufferBindingSize;
    expect(() => g.alloc(limit + 1, 'activations')).toThrow(/activations needs .* above this GPU's binding limit/);
  });

  it('released buffers cannot be bound', async () => {
    const g = await shared();
    const a = g.alloc(256, 'gone');
    const b = g.alloc(256, 'b');
    g.release(a);
    expect(() => g.dispatch({ kernel: COPY_KERNEL, buffers: [a, b], workgroups: [1] })).toThrow(/gone.*released/);
    g.release(b);
  });

  it('surfaces device loss as an event and refuses further work', async () => {
    const lost = new Gpu(await freshNodeGpuContext());
    const reasons: string[] = [];
    lost.onLost((r) => reasons.push(r));
    lost.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 50 && reasons.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(reasons.length).toBe(1);
    expect(lost.isLost).toBe(true);
    expect(() => lost.alloc(256, 'after')).toThrow(/device was lost/);
  });
});
