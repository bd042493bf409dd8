// Bench-local instrumentation of a training step, without edits to src/: every hook is an own property set on
// an instance (Gpu, GPUDevice, Engine, MMDiT, the trainer's AdamW) that shadows its class's method and is
// deleted again by `uninstall`. What it records per step:
//
// - every dispatch: kernel, FLOPs (flops.ts) and the PHASE of the step it belongs to (below);
// - uploads (gpu.write) and submits with their cause: a read, a write that had to flush first (the runtime
//   submits the pending batch when a buffer already used in it is written again: Gpu.write), a uniform-arena
//   growth, or a sync;
// - GPU buffers created (GPUDevice.createBuffer: pool size classes, readback staging, the uniform arena),
//   the pool's peak bytes in use during the step, and pool buffers acquired in the step and never released
//   (a leak shows up as bytes in use growing step after step).
//
// Phases come from the order of trainStep (src/train/step.ts), observed through the hooks:
//   prep → fwd.main → loss.main → [fwd.uncond → rollout] → bwd.main → [aux.gather → fwd.aux → loss.aux →
//   bwd.aux] → metrics → optimizer → (readback)
// A forward is MMDiT.forward (uncond = called under noGrad). A backward starts when autograd allocates its
// seed ('grad.seed') and ends when the Engine.scope it runs in exits. The optimiser is the trainer's AdamW.step.
import type { Dispatch, PooledBuffer } from '../../src/gpu/runtime';
import type { Engine } from '../../src/tensor/engine';
import type { MMDiT } from '../../src/model/mmdit';
import type { AdamW } from '../../src/tensor/ops/optim';
import type { Method } from '../../src/train/config';
import { dispatchFlops } from './flops';
import type { KernelProfiler } from './kernel-profiler';

export const PHASES = ['prep', 'fwd.main', 'loss.main', 'fwd.uncond', 'rollout', 'bwd.main', 'aux.gather', 'fwd.aux', 'loss.aux', 'bwd.aux', 'metrics', 'optimizer', 'readback'] as const;
export type Phase = (typeof PHASES)[number];

export interface DispatchRecord {
  kernel: string;
  phase: Phase;
  flops: number;
  executedFlops: number;
  detail: string;
}

export type FlushCause = 'read' | 'write-hazard' | 'uniform-arena' | 'sync' | 'other';

export interface StepTally {
  dispatches: DispatchRecord[];
  uploads: Array<{ phase: Phase; label: string; bytes: number }>;
  submits: Array<{ phase: Phase; cause: FlushCause; label: string }>;
  /** GPU buffers created during the step (after warm-up this should be empty). */
  created: Array<{ label: string; bytes: number; kind: 'pool' | 'readback staging' | 'uniform arena' | 'other' }>;
  /** Pool buffers acquired during the step and still held when it ended (after its metrics were read). */
  leaked: Array<{ label: string; bytes: number; phase: Phase }>;
  peakBytesInUse: number;
  /** Pool bytes in use when the step began (so peak − start is the step's own working set). */
  startBytesInUse: number;
  /** Compute passes begun (the runtime's batching; PassTimer can time at most 64). */
  passes: number;
  /** CPU ms spent inside Gpu.dispatch (pipeline lookup, bind group creation, encoding), summed. */
  dispatchCpuMs: number;
}

/** Kernel key for tables: the kernel name without its tile-size suffix, plus the entry point. */
export function kernelKey(d: Dispatch): string {
  const name = d.kernel.name.replace(/(_\d+)+$/, '');
  const entry = d.kernel.entryPoint;
  return entry && entry !== 'main' && !name.endsWith(entry) ? `${name}:${entry}` : name;
}

type Own = Record<string, unknown>;

export class StepProbe {
  private tally: StepTally | null = null;
  private phase: Phase = 'prep';
  private forwards = 0;
  private auxForwards = 0;
  private scopeDepth = 0;
  private backwardDepth = -1;
  private backwards = 0;
  private inAlloc = false;
  private flushCause: { cause: FlushCause; label: string } | null = null;
  private readonly live = new Map<PooledBuffer, { label: string; phase: Phase }>();
  private readonly undo: Array<() => void> = [];
  /** When set, each dispatch gets its own compute pass, timed by the profiler under the dispatch's index. */
  profiler: KernelProfiler | null = null;

  private method: Method | 'pretrain' = 'sft';

  constructor(private readonly engine: Engine) {
    this.install();
  }

  /**
   * Hooks a trainer's model and optimiser (several trainers may be watched: only the one stepping between
   * `begin` and `end` calls its hooks).
   */
  watch(model: MMDiT, optimizer: AdamW): void {
    // Every argument passes through: the trainer names its adapters in the call (MMDiT.forward(inputs, adapters)).
    this.hook(model, 'forward', (orig) => (inp, adapters) => {
      if (!this.tally) return orig(inp, adapters);
      const uncond = !this.engine.gradEnabled;
      this.forwards++;
      const kind = uncond ? 'uncond' : this.forwards === 1 ? 'main' : 'aux';
      if (kind === 'aux') this.auxForwards++;
      this.phase = `fwd.${kind}`;
      const out = orig(inp, adapters);
      this.phase = kind === 'main' ? 'loss.main' : kind === 'uncond' ? 'rollout' : 'loss.aux';
      return out;
    });
    this.hook(optimizer, 'step', (orig) => (gradScale?: number) => {
      this.phase = 'optimizer';
      return orig(gradScale);
    });
  }

  /** Starts recording a step of a trainer of `method`. */
  begin(method: Method | 'pretrain'): void {
    this.method = method;
    this.tally = { dispatches: [], uploads: [], submits: [], created: [], leaked: [], peakBytesInUse: this.engine.gpu.pool.bytesInUse, startBytesInUse: this.engine.gpu.pool.bytesInUse, passes: 0, dispatchCpuMs: 0 };
    this.phase = 'prep';
    this.forwards = 0;
    this.auxForwards = 0;
    this.backwards = 0;
    this.backwardDepth = -1;
    this.live.clear();
  }

  /** Marks the point after which the trainer only reads back (its trainStep resolved). */
  recorded(): void {
    this.phase = 'readback';
  }

  /** Stops recording; call after the step's metrics were read and the GPU is idle. */
  end(): StepTally {
    const t = this.tally;
    if (!t) throw new Error('StepProbe.end without begin');
    for (const [buf, info] of this.live) t.leaked.push({ label: info.label, bytes: buf.bytes, phase: info.phase });
    this.live.clear();
    this.tally = null;
    return t;
  }

  uninstall(): void {
    while (this.undo.length) this.undo.pop()!();
  }

  // ------------------------------------------------------------------ hooks

  /** Shadows `obj[key]` with `make(original)` as an own property; `uninstall` restores the previous state. */
  private hook<T extends object, K extends keyof T & string>(obj: T, key: K, make: (orig: T[K]) => T[K]): void {
    const before = Object.getOwnPropertyDescriptor(obj, key);
    const orig = (obj[key] as unknown as (...a: unknown[]) => unknown).bind(obj) as T[K];
    (obj as Own)[key] = make(orig);
    this.undo.push(() => {
      if (before) Object.defineProperty(obj, key, before);
      else delete (obj as Own)[key];
    });
  }

  private install(): void {
    const gpu = this.engine.gpu;
    // Private members of Gpu the hooks need (bench-only): the pending encoder (a write hazard flushes only while
    // one exists) and endPass (profiled steps give each dispatch its own pass). Checked here, so that a rename in
    // runtime.ts fails the benchmark instead of silently mislabelling submits.
    const priv = gpu as unknown as { encoder: GPUCommandEncoder | null; endPass(): void };
    if (!('encoder' in gpu) || typeof priv.endPass !== 'function') {
      throw new Error('bench:train probe: Gpu no longer has the private `encoder` / `endPass()` it reads (src/gpu/runtime.ts changed): update bench/train/probe.ts');
    }

    this.hook(gpu, 'dispatch', (orig) => (d: Dispatch) => {
      const t = this.tally;
      if (t) {
        const f = dispatchFlops(d);
        t.dispatches.push({ kernel: kernelKey(d), phase: this.phase, flops: f.model, executedFlops: f.executed, detail: d.detail ?? '' });
        if (this.profiler?.isArmed) {
          priv.endPass(); // one pass per dispatch, so the profiler's timestamps time this dispatch alone
          this.profiler.current = t.dispatches.length - 1;
        }
      }
      this.flushCause = { cause: 'uniform-arena', label: d.kernel.name }; // the only way a dispatch submits
      const t0 = performance.now();
      try {
        orig(d);
      } finally {
        this.flushCause = null;
        if (t) t.dispatchCpuMs += performance.now() - t0;
      }
    });

    this.hook(gpu, 'flush', (orig) => () => {
      const before = gpu.stats.submits;
      orig();
      if (this.tally && gpu.stats.submits > before) {
        this.tally.submits.push({ phase: this.phase, cause: this.flushCause?.cause ?? 'other', label: this.flushCause?.label ?? '' });
      }
    });

    this.hook(gpu, 'write', (orig) => (buf: PooledBuffer, data: ArrayBufferView, byteOffset?: number) => {
      if (this.tally) this.tally.uploads.push({ phase: this.phase, label: buf.label, bytes: data.byteLength });
      const hazard = buf.lastBatch === gpu.batchId && priv.encoder !== null;
      this.flushCause = hazard ? { cause: 'write-hazard', label: buf.label } : null;
      try {
        orig(buf, data, byteOffset);
      } finally {
        this.flushCause = null;
      }
    });

    this.hook(gpu, 'read', (orig) => (buf: PooledBuffer, bytes?: number, offset?: number) => {
      this.flushCause = { cause: 'read', label: buf.label };
      try {
        return orig(buf, bytes, offset); // flushes synchronously, before its first await
      } finally {
        this.flushCause = null;
      }
    });

    this.hook(gpu, 'sync', (orig) => () => {
      this.flushCause = { cause: 'sync', label: '' };
      try {
        return orig();
      } finally {
        this.flushCause = null;
      }
    });

    this.hook(gpu, 'alloc', (orig) => (bytes: number, label: string) => {
      if (this.tally && label === 'grad.seed') {
        // autograd.backward: the seed is allocated inside the scope the whole backward runs in.
        this.phase = this.auxForwards > 0 ? 'bwd.aux' : 'bwd.main';
        this.backwardDepth = this.scopeDepth;
      }
      this.inAlloc = true;
      let buf: PooledBuffer;
      try {
        buf = orig(bytes, label);
      } finally {
        this.inAlloc = false;
      }
      if (this.tally) {
        this.live.set(buf, { label, phase: this.phase });
        this.tally.peakBytesInUse = Math.max(this.tally.peakBytesInUse, gpu.pool.bytesInUse);
      }
      return buf;
    });

    this.hook(gpu, 'release', (orig) => (buf: PooledBuffer) => {
      this.live.delete(buf);
      orig(buf);
    });

    this.hook(gpu.device, 'createBuffer', (orig) => (desc: GPUBufferDescriptor) => {
      if (this.tally) {
        const label = desc.label ?? '';
        const kind = this.inAlloc ? 'pool' : label === 'readback staging' || label === 'uniform arena' ? label : 'other';
        this.tally.created.push({ label, bytes: desc.size, kind });
      }
      return orig(desc);
    });

    this.hook(gpu.device, 'createCommandEncoder', (orig) => (desc?: GPUCommandEncoderDescriptor) => {
      const enc = orig(desc);
      const begin = enc.beginComputePass.bind(enc);
      enc.beginComputePass = (d?: GPUComputePassDescriptor) => {
        if (this.tally) this.tally.passes++;
        return begin(d);
      };
      return enc;
    });

    this.hook(this.engine, 'scope', (orig) => <R>(fn: () => R): R => {
      this.scopeDepth++;
      try {
        return orig(fn) as R;
      } finally {
        this.scopeDepth--;
        if (this.tally && this.backwardDepth > this.scopeDepth) {
          // The backward's scope exited: what follows is the aux batch gathering (SOAR, after the main
          // backward) or the metrics (after the last backward).
          this.backwardDepth = -1;
          this.backwards++;
          this.phase = this.method === 'soar' && this.backwards === 1 ? 'aux.gather' : 'metrics';
        }
      }
    });
  }
}
