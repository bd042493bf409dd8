// GPU time of the compute passes that the engine's runtime records, from timestamp queries.
//
// Why a wrapper: src/gpu/runtime.ts owns the command encoder and its compute pass (batching is its job) and has
// no hook for timestamps, and benchmarks must not change it. So, while armed, this wraps the device's
// `createCommandEncoder` so that every compute pass begun through it writes a begin/end timestamp pair; the
// measured time is the sum over the passes of one benchmark iteration (one pass for a single-kernel op, since
// the runtime keeps consecutive dispatches in one pass). Timestamps cover execution on the GPU queue only, not
// recording, submit or readback; Chrome quantises them (100 µs) unless developer features are on.

const MAX_PASSES = 64;

export class PassTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private readonly readBuf: GPUBuffer;
  private readonly original: GPUDevice['createCommandEncoder'];
  private passes = 0;
  private armed = false;

  /** Null when the device lacks 'timestamp-query' (the caller then reports wall time only). */
  static create(device: GPUDevice): PassTimer | null {
    return device.features.has('timestamp-query') ? new PassTimer(device) : null;
  }

  private constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * MAX_PASSES, label: 'bench pass timer' });
    const bytes = 2 * MAX_PASSES * 8;
    this.resolveBuf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'bench timer resolve' });
    this.readBuf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'bench timer read' });
    this.original = device.createCommandEncoder.bind(device);
    // An own property shadows GPUDevice.prototype's method for this device only.
    device.createCommandEncoder = (desc?: GPUCommandEncoderDescriptor) => this.wrap(this.original(desc));
  }

  /** Starts timing: passes begun from now on get timestamp writes. */
  begin(): void {
    this.passes = 0;
    this.armed = true;
  }

  /** Stops timing and returns the summed GPU milliseconds of the passes since `begin` (after they completed). */
  async end(): Promise<number | null> {
    this.armed = false;
    const n = this.passes;
    if (n === 0) return null;
    const enc = this.original({ label: 'bench timer resolve' });
    enc.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuf, 0);
    enc.copyBufferToBuffer(this.resolveBuf, 0, this.readBuf, 0, 2 * n * 8);
    this.device.queue.submit([enc.finish()]);
    await this.readBuf.mapAsync(GPUMapMode.READ, 0, 2 * n * 8);
    const t = new BigInt64Array(this.readBuf.getMappedRange(0, 2 * n * 8).slice(0));
    this.readBuf.unmap();
    let ns = 0n;
    for (let i = 0; i < n; i++) ns += t[2 * i + 1] - t[2 * i];
    return Number(ns) / 1e6;
  }

  /** Restores the device's own method and frees the query resources. */
  dispose(): void {
    delete (this.device as Partial<Pick<GPUDevice, 'createCommandEncoder'>>).createCommandEncoder;
    this.querySet.destroy();
    this.resolveBuf.destroy();
    this.readBuf.destroy();
  }

  private wrap(enc: GPUCommandEncoder): GPUCommandEncoder {
    const begin = enc.beginComputePass.bind(enc);
    enc.beginComputePass = (desc?: GPUComputePassDescriptor) => {
      if (!this.armed || desc?.timestampWrites) return begin(desc);
      if (this.passes >= MAX_PASSES) throw new Error(`PassTimer: more than ${MAX_PASSES} compute passes in one timed iteration`);
      const i = this.passes++;
      return begin({ ...desc, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
    };
    return enc;
  }
}
