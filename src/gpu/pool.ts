// Storage-buffer pool with size classes. A training step releases its intermediates and the next step takes
// the same buffers back, so after the first step no GPU buffer is created (creation costs a driver call and,
// on some backends, a zero-fill of the whole buffer).

export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** Capacity in bytes (the size class), at least the requested size. */
  readonly bytes: number;
  label: string;
  released: boolean;
  /** Batch id of the last recorded command that used it (see Gpu.write). */
  lastBatch: number;
}

const MIN_BYTES = 256;

/** Size classes: powers of two split in four (2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k): at most 25% waste. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(pow / 4, 4);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  // Free buffers keep the batch that last used them: an upload into a reused buffer must not overtake a
  // recorded-but-unsubmitted command that still reads or writes it (see Gpu.write).
  private free = new Map<number, Array<{ buffer: GPUBuffer; lastBatch: number }>>();
  bytesCreated = 0;
  bytesInUse = 0;
  bytesFree = 0;
  buffersCreated = 0;

  constructor(
    private device: GPUDevice,
    /** Largest buffer one binding can see; a tensor larger than this cannot be bound whole. */
    readonly maxBindingBytes: number,
  ) {}

  /** `avoidBatch`: prefer a free buffer whose last use was not in that batch (see Gpu.allocForUpload). */
  acquire(bytes: number, label: string, avoidBatch = -1): PooledBuffer {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new RangeError(`buffer size ${bytes} for ${label} is not a size`);
    const size = sizeClass(bytes);
    if (size > this.maxBindingBytes) {
      throw new RangeError(
        `${label} needs ${fmtBytes(bytes)} in one buffer, above this GPU's binding limit of ${fmtBytes(this.maxBindingBytes)}; ` +
          'use a smaller batch or model size',
      );
    }
    const list = this.free.get(size);
    let reused: { buffer: GPUBuffer; lastBatch: number } | undefined;
    if (list?.length) {
      let k = list.length - 1;
      if (avoidBatch >= 0) while (k >= 0 && list[k].lastBatch === avoidBatch) k--;
      // None clean: take a fresh buffer rather than force an early submit (the pool grows to the working set).
      if (k >= 0) reused = list.splice(k, 1)[0];
    }
    let buffer: GPUBuffer;
    let lastBatch = 0;
    if (reused) {
      this.bytesFree -= size;
      ({ buffer, lastBatch } = reused);
    } else {
      buffer = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label,
      });
      this.bytesCreated += size;
      this.buffersCreated++;
    }
    this.bytesInUse += size;
    return { buffer, bytes: size, label, released: false, lastBatch };
  }

  release(buf: PooledBuffer): void {
    if (buf.released) return;
    buf.released = true;
    this.bytesInUse -= buf.bytes;
    this.bytesFree += buf.bytes;
    let list = this.free.get(buf.bytes);
    if (!list) this.free.set(buf.bytes, (list = []));
    list.push({ buffer: buf.buffer, lastBatch: buf.lastBatch });
  }

  /** Frees pooled (unused) buffers back to the driver, e.g. after a model is unloaded. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.buffer.destroy();
    this.free.clear();
    this.bytesCreated -= this.bytesFree;
    this.bytesFree = 0;
  }

  destroyAll(): void {
    this.trim();
  }
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
