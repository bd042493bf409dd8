// The engine: one GPU runtime, tensor creation, scopes (lifetime) and the grad mode.
import type { Gpu } from '../gpu/runtime';
import { Storage, Tensor, fmtShape, shapeSize, type Shape } from './tensor';
import fillWgsl from '../../shaders/fill.wgsl?raw';
import axpyWgsl from '../../shaders/axpy.wgsl?raw';
import { grid1d } from './dispatch';
import { record } from './autograd';
import { defaultKernels, type KernelChoices } from './kernels';

const FILL = { name: 'fill', code: fillWgsl };
const AXPY = { name: 'axpy', code: axpyWgsl };

export class Engine {
  /** Tests set this: every new output buffer is filled with NaN first, so a kernel that skips an element fails. */
  poisonOutputs = false;
  /** The kernel variant each op runs per shape class: defaults until tuneKernels() measured (tuning.ts). */
  kernels: KernelChoices;
  private scopes: Set<Tensor>[] = [];
  private gradDepth = 0; // > 0 inside noGrad

  constructor(readonly gpu: Gpu) {
    this.kernels = defaultKernels(gpu.summary.isSoftware);
  }

  get gradEnabled(): boolean {
    return this.gradDepth === 0;
  }

  // ------------------------------------------------------------- creation

  /** Uninitialised output tensor (poisoned in tests). */
  empty(shape: Shape, name = ''): Tensor {
    const size = shapeSize(shape);
    const buf = this.gpu.alloc(Math.max(4, size * 4), name || `tensor${fmtShape(shape)}`);
    const t = new Tensor(this, shape, new Storage(this.gpu, buf), name);
    if (this.poisonOutputs && size > 0) this.fill(t, Number.NaN);
    return t;
  }

  zeros(shape: Shape, name = ''): Tensor {
    const t = this.empty(shape, name);
    this.fill(t, 0);
    return t;
  }

  full(shape: Shape, value: number, name = ''): Tensor {
    const t = this.empty(shape, name);
    this.fill(t, value);
    return t;
  }

  fromArray(data: ArrayLike<number>, shape: Shape, name = ''): Tensor {
    const size = shapeSize(shape);
    if (data.length !== size) throw new RangeError(`fromArray ${name}: ${data.length} values for shape ${fmtShape(shape)} (${size})`);
    const buf = this.gpu.allocForUpload(Math.max(4, size * 4), name || `tensor${fmtShape(shape)}`);
    const t = new Tensor(this, shape, new Storage(this.gpu, buf), name);
    if (size > 0) this.gpu.write(buf, data instanceof Float32Array ? data : Float32Array.from(data));
    return t;
  }

  /** A trainable leaf: requires grad, not owned by any scope. */
  parameter(data: ArrayLike<number>, shape: Shape, name: string): Tensor {
    const t = this.keep(this.fromArray(data, shape, name));
    t.requiresGrad = true;
    return t;
  }

  view(of: Tensor, shape: Shape): Tensor {
    of.store.retain();
    const v = new Tensor(this, shape, of.store, of.name, false);
    return record(v, 'reshape', [of], [], (g) => [g.reshape(of.shape)]);
  }

  /** A copy with its own storage (stream-ordered buffer copy, no kernel). */
  clone(t: Tensor, name = t.name): Tensor {
    const c = this.empty(t.shape, name);
    if (t.size > 0) this.gpu.copy(t.buffer, 0, c.buffer, 0, t.size * 4);
    return c;
  }

  /** Writes `value` into every element (one dispatch). */
  fill(t: Tensor, value: number): void {
    if (t.size === 0) return;
    const u = new ArrayBuffer(16);
    new Uint32Array(u, 0, 1)[0] = t.size;
    new Float32Array(u, 4, 1)[0] = value;
    this.gpu.dispatch({ kernel: FILL, buffers: [t.buffer], uniforms: u, workgroups: grid1d(t.size, 256), detail: t.describe() });
  }

  /** y += alpha·x in place (gradient accumulation, merges). Same element count required. */
  axpy(y: Tensor, x: Tensor, alpha = 1): void {
    if (x.size !== y.size) throw new RangeError(`axpy: ${y.describe()} += ${x.describe()}: sizes differ`);
    if (y.size === 0) return;
    const u = new ArrayBuffer(16);
    new Uint32Array(u, 0, 1)[0] = y.size;
    new Float32Array(u, 4, 1)[0] = alpha;
    this.gpu.dispatch({ kernel: AXPY, buffers: [y.buffer, x.buffer], uniforms: u, workgroups: grid1d(y.size, 256), detail: y.describe() });
  }

  // ------------------------------------------------------------- lifetime

  track(t: Tensor): void {
    this.scopes[this.scopes.length - 1]?.add(t);
  }

  untrack(t: Tensor): void {
    for (const s of this.scopes) s.delete(t);
  }

  /** Removes a tensor from every scope so that it outlives them (parameters, results to return). */
  keep<T extends Tensor>(t: T): T {
    this.untrack(t);
    return t;
  }

  /**
   * Runs `fn`; every tensor created inside and not kept is released at the end. Tensors in the result
   * (a tensor, or an array/object of tensors) are kept automatically.
   */
  scope<R>(fn: () => R): R {
    const mine = new Set<Tensor>();
    this.scopes.push(mine);
    let result: R;
    try {
      result = fn();
    } finally {
      this.scopes.pop();
    }
    if (result && typeof (result as { then?: unknown }).then === 'function') {
      // The scope would release the tensors at the callback's first await, while it still uses them.
      for (const t of mine) t.release();
      throw new Error('Engine.scope: the callback returned a promise; scopes are synchronous (record the GPU work inside, await reads outside)');
    }
    for (const t of collectTensors(result)) {
      mine.delete(t);
      this.track(t); // hand it to the enclosing scope
    }
    for (const t of mine) t.release();
    return result;
  }

  noGrad<R>(fn: () => R): R {
    this.gradDepth++;
    try {
      return fn();
    } finally {
      this.gradDepth--;
    }
  }
}

function collectTensors(value: unknown, out: Tensor[] = [], depth = 0): Tensor[] {
  if (value instanceof Tensor) out.push(value);
  else if (depth < 3 && Array.isArray(value)) for (const v of value) collectTensors(v, out, depth + 1);
  else if (depth < 3 && value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
  }
  return out;
}
