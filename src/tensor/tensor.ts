// fp32 tensors on the GPU with explicit lifetime.
//
// Lifetime: a Tensor holds one reference to a Storage (a pooled GPU buffer). Views (reshape, detach) share
// the storage. `release()` drops the tensor's reference; the buffer returns to the pool when the last
// reference goes: the tensor's own, the scope's (see Engine.scope) and the autograd tape's saved copies.
import type { Gpu, PooledBuffer } from '../gpu/runtime';
import type { Engine } from './engine';
import type { TapeNode } from './autograd';

export type Shape = readonly number[];

export class Storage {
  refs = 1;
  constructor(
    readonly gpu: Gpu,
    readonly buffer: PooledBuffer,
  ) {}
  retain(): void {
    if (this.refs <= 0) throw new Error(`retain of released storage ${this.buffer.label}`);
    this.refs++;
  }
  drop(): void {
    if (--this.refs === 0) this.gpu.release(this.buffer);
  }
}

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  readonly size: number;
  requiresGrad: boolean;
  /** Accumulated gradient (leaves only): persists across backward calls until zeroGrad. */
  grad: Tensor | null = null;
  /** The recorded op that produced this tensor; null for leaves and for tensors made without grad. */
  node: TapeNode | null = null;
  private _released = false;

  constructor(
    readonly engine: Engine,
    readonly shape: Shape,
    private storage: Storage,
    public name = '',
    requiresGrad = false,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`tensor ${name || ''} has an invalid shape ${fmtShape(shape)}`);
    }
    this.size = shapeSize(shape);
    this.requiresGrad = requiresGrad;
    engine.track(this);
  }

  get released(): boolean {
    return this._released;
  }

  get buffer(): PooledBuffer {
    if (this._released) throw new Error(`tensor ${this.describe()} was used after release`);
    return this.storage.buffer;
  }

  /** The shared storage, for views and for the tape (which retains what it saves). */
  get store(): Storage {
    if (this._released) throw new Error(`tensor ${this.describe()} was used after release`);
    return this.storage;
  }

  get bytes(): number {
    return this.size * 4;
  }

  describe(): string {
    return `${this.name || 'tensor'}${fmtShape(this.shape)}`;
  }

  /** Drops this tensor's reference; the buffer is reused once no view or saved copy holds it. */
  release(): void {
    if (this._released) return;
    this._released = true;
    this.storage.drop();
    if (this.grad) {
      this.grad.release();
      this.grad = null;
    }
    this.engine.untrack(this);
  }

  /** A view with another shape over the same data (row-major, so any shape with the same size). */
  reshape(shape: Shape): Tensor {
    const size = shapeSize(shape);
    if (size !== this.size) throw new RangeError(`reshape ${this.describe()} to ${fmtShape(shape)}: sizes differ (${this.size} vs ${size})`);
    return this.engine.view(this, shape);
  }

  /** The same data, cut from the tape: no gradient flows through the result. */
  detach(): Tensor {
    const view = new Tensor(this.engine, this.shape, this.storage, this.name ? this.name + '.detach' : '', false);
    this.storage.retain();
    return view;
  }

  async toArray(): Promise<Float32Array> {
    return this.engine.gpu.readF32(this.buffer, this.size);
  }

  /** Asynchronous scalar read (flushes the batch). */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item() on ${this.describe()}: needs exactly one element`);
    return (await this.toArray())[0];
  }
}
