// The device seam's runtime: buffer pool, pipeline cache, command batching, asynchronous readback, errors.
// This module (with device.ts and node.ts) is the ONLY code that touches GPUDevice; tensors and models call
// `gpu.dispatch`, `gpu.alloc`, `gpu.write`, `gpu.read`.
//
// Batching: every dispatch of a step is recorded into one command encoder and one compute pass (WebGPU makes
// each dispatch its own usage scope, so storage writes are visible to the next dispatch without ending the
// pass). The pass ends only for copies; the encoder is submitted at `flush()`, which `read()` calls.
// Uniforms go to a per-batch arena written with one `writeBuffer` just before the submit.
import type { AdapterSummary, GpuContext } from './device';
import { BufferPool, type PooledBuffer } from './pool';

export type { PooledBuffer } from './pool';

export interface Kernel {
  /** Unique name: the cache key together with the constants; also the label in error messages. */
  name: string;
  code: string;
  entryPoint?: string;
  /** WGSL `override` constants (workgroup sizes, tile sizes, flags). */
  constants?: Record<string, number>;
}

export interface Dispatch {
  kernel: Kernel;
  /** Storage buffers, bound in order at @group(0) @binding(0..n-1). */
  buffers: Array<PooledBuffer | { buffer: PooledBuffer; offset: number; size: number }>;
  /** Packed into a uniform bound at @binding(n) when present (u32/i32/f32 by the typed array given). */
  uniforms?: ArrayBuffer | ArrayBufferView;
  /**
   * Binding numbers of `buffers` and of the uniform, when an entry point's bindings are not 0..n (a shader
   * whose entry points share some bindings and not others binds only what each uses: layout 'auto').
   */
  bindings?: number[];
  uniformBinding?: number;
  workgroups: [number, number?, number?];
  /** Shapes etc., added to the label of the dispatch for error messages. */
  detail?: string;
}

export class GpuError extends Error {
  constructor(
    message: string,
    readonly kind: 'validation' | 'out-of-memory' | 'internal' | 'lost',
  ) {
    super(message);
    this.name = 'GpuError';
  }
}

export interface GpuStats {
  dispatches: number;
  submits: number;
  readbacks: number;
  pipelines: number;
  bytesAllocated: number; // ever created by the pool
  bytesInUse: number;
  bytesPooled: number;
}

const UNIFORM_ALIGN = 256; // minUniformBufferOffsetAlignment is at most 256 on every adapter

export class Gpu {
  readonly device: GPUDevice;
  readonly summary: AdapterSummary;
  readonly pool: BufferPool;
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchLabels: string[] = [];
  private uniformCpu = new Uint8Array(64 * 1024);
  private uniformUsed = 0;
  private uniformGpu: GPUBuffer;
  private pendingErrors: GpuError[] = [];
  private scopeChecks: Promise<void>[] = [];
  private lostListeners = new Set<(reason: string) => void>();
  private stagingFree: GPUBuffer[] = [];
  private lostReason: string | null = null;
  readonly stats = { dispatches: 0, submits: 0, readbacks: 0 };
  /** Incremented at every submit; a pooled buffer remembers the batch that last used it. */
  batchId = 1;

  constructor(ctx: GpuContext) {
    this.device = ctx.device;
    this.summary = ctx.summary;
    this.pool = new BufferPool(this.device, ctx.summary.limits.maxStorageBufferBindingSize);
    this.uniformGpu = this.createUniformArena(this.uniformCpu.byteLength);
    this.device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
      for (const l of this.lostListeners) l(this.lostReason);
    });
    this.device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.pendingErrors.push(new GpuError(`GPU error outside a scope: ${e.message}`, 'internal'));
    });
  }

  /** `device.lost` as an event: the trainer saves what it can and offers recovery. Returns an unsubscribe. */
  onLost(listener: (reason: string) => void): () => void {
    this.lostListeners.add(listener);
    if (this.lostReason) listener(this.lostReason);
    return () => this.lostListeners.delete(listener);
  }

  get isLost(): boolean {
    return this.lostReason !== null;
  }

  // ---------------------------------------------------------------- buffers

  alloc(bytes: number, label: string): PooledBuffer {
    this.throwIfLost();
    return this.pool.acquire(bytes, label);
  }

  /**
   * A buffer to upload into: preferably one the batch being recorded has not used, so that `write` need not
   * submit the batch early (queue.writeBuffer would otherwise overtake recorded commands).
   */
  allocForUpload(bytes: number, label: string): PooledBuffer {
    this.throwIfLost();
    return this.pool.acquire(bytes, label, this.encoder ? this.batchId : -1);
  }

  release(buf: PooledBuffer): void {
    this.pool.release(buf);
  }

  /** Writes CPU data into a buffer, in stream order with the recorded dispatches. */
  write(buf: PooledBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.throwIfLost();
    if (byteOffset + data.byteLength > buf.bytes) {
      throw new GpuError(`write of ${data.byteLength} bytes at ${byteOffset} overflows ${buf.label} (${buf.bytes} bytes)`, 'validation');
    }
    // queue.writeBuffer runs before the pending encoder is submitted; if this buffer was already used in the
    // batch being recorded, that earlier use must see the old contents, so submit it first (rare: only when a
    // buffer released mid-step is reused for an upload in the same step).
    if (buf.lastBatch === this.batchId && this.encoder) this.flush();
    this.device.queue.writeBuffer(buf.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  // ---------------------------------------------------------------- pipelines

  pipeline(kernel: Kernel): GPUComputePipeline {
    const key = kernel.name + '|' + (kernel.entryPoint ?? 'main') + '|' + JSON.stringify(kernel.constants ?? {});
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(kernel.code);
      if (!module) {
        module = this.device.createShaderModule({ code: kernel.code, label: kernel.name });
        this.modules.set(kernel.code, module);
      }
      this.device.pushErrorScope('validation');
      p = this.device.createComputePipeline({
        label: kernel.name,
        layout: 'auto',
        compute: { module, entryPoint: kernel.entryPoint ?? 'main', constants: kernel.constants },
      });
      this.watch(
        this.device.popErrorScope().then((err) => {
          if (err) this.pendingErrors.push(new GpuError(`kernel ${kernel.name} failed to compile: ${err.message}`, 'validation'));
        }),
      );
      this.pipelines.set(key, p);
    }
    return p;
  }

  // ---------------------------------------------------------------- recording

  dispatch(d: Dispatch): void {
    this.throwIfLost();
    const pipeline = this.pipeline(d.kernel);
    const entries: GPUBindGroupEntry[] = d.buffers.map((b, i) => {
      const pb = 'buffer' in b && 'offset' in b ? b : null;
      const buf = pb ? pb.buffer : (b as PooledBuffer);
      if (buf.released) throw new GpuError(`${d.kernel.name}: binding ${i} (${buf.label}) was released`, 'validation');
      buf.lastBatch = this.batchId;
      const binding = d.bindings?.[i] ?? i;
      return pb
        ? { binding, resource: { buffer: buf.buffer, offset: pb.offset, size: pb.size } }
        : { binding, resource: { buffer: buf.buffer, size: buf.bytes } };
    });
    if (d.uniforms) {
      const bytes = d.uniforms instanceof ArrayBuffer ? new Uint8Array(d.uniforms) : new Uint8Array(d.uniforms.buffer, d.uniforms.byteOffset, d.uniforms.byteLength);
      const offset = this.pushUniform(bytes);
      entries.push({ binding: d.uniformBinding ?? d.buffers.length, resource: { buffer: this.uniformGpu, offset, size: Math.max(16, align(bytes.byteLength, 16)) } });
    }
    const label = d.detail ? `${d.kernel.name} ${d.detail}` : d.kernel.name;
    const [x, y = 1, z = 1] = d.workgroups;
    const maxWg = this.summary.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new GpuError(`${label}: ${x}x${y}x${z} workgroups exceed the adapter's ${maxWg} per dimension`, 'validation');
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    this.batchLabels.push(label);
    this.stats.dispatches++;
  }

  copy(src: PooledBuffer, srcOffset: number, dst: PooledBuffer, dstOffset: number, bytes: number): void {
    this.throwIfLost();
    this.endPass();
    src.lastBatch = dst.lastBatch = this.batchId;
    this.commandEncoder().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  /** Submits everything recorded so far. Errors of earlier batches are thrown here. */
  flush(): void {
    this.throwPending();
    if (!this.encoder) return;
    this.endPass();
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformGpu, 0, this.uniformCpu.buffer, 0, this.uniformUsed);
    }
    const labels = this.batchLabels;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.device.queue.submit([this.encoder.finish()]);
    const report = (err: GPUError | null, kind: 'validation' | 'out-of-memory') => {
      if (!err) return;
      const recent = labels.slice(-8).join('; ');
      this.pendingErrors.push(new GpuError(`GPU ${kind} error in a batch of ${labels.length} dispatches (last: ${recent}): ${err.message}`, kind));
    };
    this.watch(this.device.popErrorScope().then((e) => report(e, 'validation')));
    this.watch(this.device.popErrorScope().then((e) => report(e, 'out-of-memory')));
    this.encoder = null;
    this.batchLabels = [];
    this.uniformUsed = 0;
    this.batchId++;
    this.stats.submits++;
  }

  /** Copies a buffer range to a pooled staging buffer and resolves with its contents. Flushes the batch. */
  async read(buf: PooledBuffer, bytes = buf.bytes, offset = 0): Promise<ArrayBuffer> {
    this.throwIfLost();
    const size = align(bytes, 4);
    const staging = this.takeStaging(size);
    this.endPass();
    buf.lastBatch = this.batchId;
    this.commandEncoder().copyBufferToBuffer(buf.buffer, offset, staging, 0, size);
    this.flush();
    this.stats.readbacks++;
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.stagingFree.push(staging);
    await this.settleErrors();
    this.throwPending();
    return out;
  }

  async readF32(buf: PooledBuffer, count: number, offsetElements = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, count * 4, offsetElements * 4));
  }

  /** Waits until the GPU has finished all submitted work (benchmarks only; training never needs it). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.settleErrors();
    this.throwPending();
  }

  /** Waits for every outstanding error-scope check, so all errors of the work so far are known. */
  async settleErrors(): Promise<void> {
    while (this.scopeChecks.length) {
      const checks = this.scopeChecks;
      this.scopeChecks = [];
      await Promise.all(checks);
    }
  }

  getStats(): GpuStats {
    return {
      ...this.stats,
      pipelines: this.pipelines.size,
      bytesAllocated: this.pool.bytesCreated,
      bytesInUse: this.pool.bytesInUse,
      bytesPooled: this.pool.bytesFree,
    };
  }

  destroy(): void {
    this.pool.destroyAll();
    for (const s of this.stagingFree) s.destroy();
    this.uniformGpu.destroy();
  }

  // ---------------------------------------------------------------- internals

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: `batch ${this.batchId}` });
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass({ label: `batch ${this.batchId}` });
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private pushUniform(bytes: Uint8Array): number {
    const size = Math.max(16, align(bytes.byteLength, 16));
    if (this.uniformUsed + size > this.uniformCpu.byteLength) this.growUniformArena(this.uniformUsed + size);
    const offset = this.uniformUsed;
    this.uniformCpu.fill(0, offset, offset + size);
    this.uniformCpu.set(bytes, offset);
    this.uniformUsed = align(offset + size, UNIFORM_ALIGN);
    return offset;
  }

  private growUniformArena(needed: number): void {
    // Bind groups already recorded point at the old arena, so the batch is submitted before switching.
    if (this.encoder) this.flush();
    const bytes = Math.max(needed, this.uniformCpu.byteLength * 2);
    this.uniformCpu = new Uint8Array(bytes);
    this.uniformGpu.destroy(); // deferred by WebGPU until submitted work using it completes
    this.uniformGpu = this.createUniformArena(bytes);
  }

  private createUniformArena(bytes: number): GPUBuffer {
    return this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform arena' });
  }

  private takeStaging(size: number): GPUBuffer {
    // Staging buffers come in 256-byte multiples; reuse one up to 4x the need (metric scalars, images, weights
    // each find their own).
    const need = Math.max(256, align(size, 256));
    const i = this.stagingFree.findIndex((s) => s.size >= need && s.size <= need * 4);
    if (i >= 0) return this.stagingFree.splice(i, 1)[0];
    return this.device.createBuffer({ size: need, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback staging' });
  }

  private watch(check: Promise<void>): void {
    this.scopeChecks.push(check);
    check.then(() => {
      const i = this.scopeChecks.indexOf(check);
      if (i >= 0) this.scopeChecks.splice(i, 1);
    });
  }

  /** Throws the errors reported so far as one (the first one's kind; every message, in order). */
  private throwPending(): void {
    if (this.pendingErrors.length === 0) return;
    const errors = this.pendingErrors;
    this.pendingErrors = [];
    if (errors.length === 1) throw errors[0];
    throw new GpuError(errors.map((e) => e.message).join('\n'), errors[0].kind);
  }

  private throwIfLost(): void {
    if (this.lostReason) throw new GpuError(`the GPU device was lost (${this.lostReason})`, 'lost');
    this.throwPending();
  }
}

export function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
