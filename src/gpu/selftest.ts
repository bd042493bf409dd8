// The compute self-test: one tiny kernel (shaders/selftest.wgsl) run on the device and checked against the CPU.
// It proves the whole path the engine relies on: WGSL compiles, storage buffers bind, a dispatch runs and a
// readback returns what the kernel wrote. The output buffer is poisoned with a NaN sentinel first, so a
// dispatch that silently did nothing cannot pass by reading back zeros.
import selftestWgsl from '../../shaders/selftest.wgsl?raw';

export interface SelfTestMismatch {
  index: number;
  got: number;
  want: number;
}

export interface SelfTestResult {
  /** Every value matches the CPU exactly (the inputs make every step exact in f32). */
  ok: boolean;
  /** Largest |gpu - cpu| over all values; Infinity when any value is NaN or was never written. */
  maxAbsError: number;
  /** Number of values computed. */
  n: number;
  /** Values that differ from the CPU. */
  mismatches: number;
  /** Values that still hold the sentinel, i.e. were never written by the kernel. */
  untouched: number;
  /** The first few mismatches, for the error message. */
  firstMismatches: SelfTestMismatch[];
  /** Wall time of upload + dispatch + readback, in milliseconds (pipeline compilation excluded). */
  ms: number;
}

/** A quiet-NaN bit pattern that a correct kernel can never produce from the inputs below. */
export const SELFTEST_SENTINEL_BITS = 0x7fbadbad;

const WORKGROUP_SIZE = 64; // must match @workgroup_size in shaders/selftest.wgsl

/** Inputs chosen so every product and sum is exact in f32: integers in [-8, 8] times quarters in [-1.5, 1.5],
 *  plus an index below 2^20. Any difference from the CPU is therefore a real fault, not rounding. */
export function selfTestInputs(n: number): { a: Float32Array; b: Float32Array } {
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = ((i * 7) % 17) - 8;
    b[i] = ((i * 5) % 13) * 0.25 - 1.5;
  }
  return { a, b };
}

/** The CPU reference of shaders/selftest.wgsl, rounded to f32 like the GPU. */
export function selfTestReference(a: Float32Array, b: Float32Array): Float32Array {
  const y = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = Math.fround(Math.fround(a[i] * b[i]) + i);
  return y;
}

/** Compares a readback with the CPU reference (exported for tests of the comparison itself). */
export function compareSelfTest(got: Float32Array, want: Float32Array, ms = 0): SelfTestResult {
  const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  let maxAbsError = 0;
  let mismatches = 0;
  let untouched = 0;
  const firstMismatches: SelfTestMismatch[] = [];
  for (let i = 0; i < want.length; i++) {
    if (bits[i] === SELFTEST_SENTINEL_BITS) untouched++;
    const err = Math.abs(got[i] - want[i]);
    if (got[i] !== want[i]) {
      mismatches++;
      if (firstMismatches.length < 5) firstMismatches.push({ index: i, got: got[i], want: want[i] });
    }
    // NaN compares false with everything, so it is folded in explicitly.
    maxAbsError = Number.isNaN(err) ? Infinity : Math.max(maxAbsError, err);
  }
  return { ok: mismatches === 0, maxAbsError, n: want.length, mismatches, untouched, firstMismatches, ms };
}

function storageBuffer(device: GPUDevice, label: string, data: Float32Array, extraUsage = 0): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extraUsage,
    mappedAtCreation: true,
  });
  // Copied as bytes, so a NaN payload (the sentinel) reaches the GPU bit for bit.
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/** Runs shaders/selftest.wgsl on `n` elements and compares with the CPU. Throws on a compile or validation
 *  error (with the compiler's message); returns ok: false when the kernel ran but computed wrong values. */
export async function runSelfTest(device: GPUDevice, n = 1024): Promise<SelfTestResult> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`self-test size must be a positive integer, got ${n}`);
  const { a, b } = selfTestInputs(n);
  const want = selfTestReference(a, b);
  const poison = new Float32Array(new Uint32Array(n).fill(SELFTEST_SENTINEL_BITS).buffer);

  const buffers: GPUBuffer[] = [];
  device.pushErrorScope('validation');
  let scopeOpen = true;
  const popScope = async (): Promise<GPUError | null> => {
    if (!scopeOpen) return null;
    scopeOpen = false;
    return device.popErrorScope();
  };
  try {
    const module = device.createShaderModule({ label: 'selftest', code: selftestWgsl });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      const text = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      throw new Error(`shaders/selftest.wgsl failed to compile: ${text}`);
    }
    const pipeline = await device.createComputePipelineAsync({
      label: 'selftest',
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
    });

    const started = performance.now();
    const bufA = storageBuffer(device, 'selftest.a', a);
    const bufB = storageBuffer(device, 'selftest.b', b);
    const bufY = storageBuffer(device, 'selftest.y', poison, GPUBufferUsage.COPY_SRC);
    const readback = device.createBuffer({
      label: 'selftest.readback',
      size: n * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    buffers.push(bufA, bufB, bufY, readback);
    const bindGroup = device.createBindGroup({
      label: 'selftest',
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: bufA } },
        { binding: 1, resource: { buffer: bufB } },
        { binding: 2, resource: { buffer: bufY } },
      ],
    });
    const encoder = device.createCommandEncoder({ label: 'selftest' });
    const pass = encoder.beginComputePass({ label: 'selftest' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(n / WORKGROUP_SIZE));
    pass.end();
    encoder.copyBufferToBuffer(bufY, 0, readback, 0, n * 4);
    device.queue.submit([encoder.finish()]);

    const validation = await popScope();
    if (validation) throw new Error(`self-test dispatch was rejected: ${validation.message}`);

    await readback.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return compareSelfTest(got, want, performance.now() - started);
  } finally {
    await popScope();
    for (const buffer of buffers) buffer.destroy();
  }
}

/** One line for logs and the UI. */
export function describeSelfTest(r: SelfTestResult): string {
  if (r.ok) return `compute self-test passed: ${r.n} values match the CPU, max error ${r.maxAbsError}`;
  const first = r.firstMismatches.map((m) => `y[${m.index}] = ${m.got}, expected ${m.want}`).join('; ');
  const unwritten = r.untouched > 0 ? ` (${r.untouched} never written)` : '';
  return `compute self-test FAILED: ${r.mismatches} of ${r.n} values differ from the CPU${unwritten}, max error ${r.maxAbsError}; ${first}`;
}
