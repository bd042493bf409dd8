// GPU time of every dispatch of a training step, from timestamp queries.
//
// Why not bench/lib/pass-timer.ts: it sums the runtime's compute passes (at most 64, which a whole training
// step fits: the bench uses it for the step's GPU time). Per-kernel times need one pass PER DISPATCH, thousands
// of them in a SOAR step: the probe (probe.ts) ends the runtime's pass before each dispatch while this
// profiler is armed, and this class gives each of those passes a begin/end timestamp pair in large query sets.
// Splitting passes changes what is measured a little (a pass boundary per dispatch), so the profiled step is
// an extra step reported on its own, never one of the timed steps.
//
// Like PassTimer, this shadows the device's createCommandEncoder with an own property while armed; it restores
// whatever was there before (PassTimer's own wrapper included), so both can coexist.

/** WebGPU's limit on a query set's size. */
const QUERIES_PER_SET = 4096;
const PASSES_PER_SET = QUERIES_PER_SET / 2;

export interface PassTime {
  /** What the probe said was being dispatched when the pass began (its dispatch index in the step). */
  tag: number;
  beginNs: number;
  endNs: number;
}

export class KernelProfiler {
  private readonly sets: GPUQuerySet[] = [];
  private readonly resolveBufs: GPUBuffer[] = [];
  private readonly readBufs: GPUBuffer[] = [];
  private tags: number[] = [];
  private saved: PropertyDescriptor | undefined;
  private armed = false;
  /** Set by the probe before each dispatch: the tag the next pass is recorded under. */
  current = -1;

  static create(device: GPUDevice, maxPasses = 16384): KernelProfiler | null {
    return device.features.has('timestamp-query') ? new KernelProfiler(device, maxPasses) : null;
  }

  private constructor(
    private readonly device: GPUDevice,
    readonly maxPasses: number,
  ) {
    // Everything is created up front: the profiled step must not show the profiler's own buffers as new.
    for (let i = 0; i < Math.ceil(maxPasses / PASSES_PER_SET); i++) {
      this.sets.push(device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: `bench kernel profiler ${i}` }));
      const bytes = QUERIES_PER_SET * 8;
      this.resolveBufs.push(device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'bench profiler resolve' }));
      this.readBufs.push(device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'bench profiler read' }));
    }
  }

  get isArmed(): boolean {
    return this.armed;
  }

  /** From now on every compute pass begun on this device gets timestamps, tagged with `current`. */
  arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.tags = [];
    this.saved = Object.getOwnPropertyDescriptor(this.device, 'createCommandEncoder');
    const base = this.device.createCommandEncoder.bind(this.device);
    this.device.createCommandEncoder = (desc?: GPUCommandEncoderDescriptor) => this.wrap(base(desc));
  }

  /** Stops, waits for the GPU, and returns every timed pass in submission order. */
  async disarm(): Promise<PassTime[]> {
    if (!this.armed) return [];
    this.armed = false;
    if (this.saved) Object.defineProperty(this.device, 'createCommandEncoder', this.saved);
    else delete (this.device as Partial<Pick<GPUDevice, 'createCommandEncoder'>>).createCommandEncoder;
    const n = this.tags.length;
    if (n === 0) return [];
    const used = Math.ceil(n / PASSES_PER_SET);
    const enc = this.device.createCommandEncoder({ label: 'bench profiler resolve' });
    for (let s = 0; s < used; s++) {
      const queries = 2 * Math.min(PASSES_PER_SET, n - s * PASSES_PER_SET);
      enc.resolveQuerySet(this.sets[s], 0, queries, this.resolveBufs[s], 0);
      enc.copyBufferToBuffer(this.resolveBufs[s], 0, this.readBufs[s], 0, queries * 8);
    }
    this.device.queue.submit([enc.finish()]);
    const out: PassTime[] = [];
    for (let s = 0; s < used; s++) {
      const queries = 2 * Math.min(PASSES_PER_SET, n - s * PASSES_PER_SET);
      await this.readBufs[s].mapAsync(GPUMapMode.READ, 0, queries * 8);
      const t = new BigInt64Array(this.readBufs[s].getMappedRange(0, queries * 8).slice(0));
      this.readBufs[s].unmap();
      for (let i = 0; i < queries / 2; i++) {
        out.push({ tag: this.tags[s * PASSES_PER_SET + i], beginNs: Number(t[2 * i]), endNs: Number(t[2 * i + 1]) });
      }
    }
    return out;
  }

  dispose(): void {
    for (const q of this.sets) q.destroy();
    for (const b of [...this.resolveBufs, ...this.readBufs]) b.destroy();
  }

  private wrap(enc: GPUCommandEncoder): GPUCommandEncoder {
    const begin = enc.beginComputePass.bind(enc);
    enc.beginComputePass = (desc?: GPUComputePassDescriptor) => {
      if (!this.armed || desc?.timestampWrites) return begin(desc);
      const i = this.tags.length;
      if (i >= this.maxPasses) throw new Error(`KernelProfiler: more than ${this.maxPasses} passes in one profiled step`);
      this.tags.push(this.current);
      const set = this.sets[Math.floor(i / PASSES_PER_SET)];
      const j = i % PASSES_PER_SET;
      return begin({ ...desc, timestampWrites: { querySet: set, beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 } });
    };
    return enc;
  }
}
