// Multi-tensor optimiser ops: global gradient norm (shaders/gradnorm.wgsl) and AdamW with clipping and
// non-finite refusal folded in (shaders/adamw.wgsl). Spec: src/tensor/reference/optim.ts.
//
// Why arenas. WebGPU has no bindless buffers, so one dispatch cannot reach an unbounded list of separately
// allocated tensors, and the engine's tensors own whole buffers (a Storage has no byte offset, so a parameter
// cannot be a view into a shared buffer). The optimiser therefore keeps flat arenas (param, grad, m, v) in
// which tensor k occupies chunks of 1024 floats from offset[k]; each step gathers grads and params into them
// with buffer copies, runs a CONSTANT 4 dispatches (norm partial, norm finish, prepare, update) whatever the
// number of tensors, and copies the params back. The copies cost ~5 extra passes over the parameter bytes:
// nothing next to a forward/backward of the model, and they vanish once tensors can be arena views.
//
// Non-finite gradients: when the global norm is NaN/Inf the update dispatch changes nothing (params, moments,
// step counts) and writes skipped = 1; the CPU learns it whenever it reads the step's report, without the
// step ever waiting on a readback. That is GradScaler's "skip the step" semantics.
import gradnormWgsl from '../../../shaders/gradnorm.wgsl?raw';
import adamwWgsl from '../../../shaders/adamw.wgsl?raw';
import emaWgsl from '../../../shaders/ema.wgsl?raw';
import type { Engine } from '../engine';
import type { PooledBuffer } from '../../gpu/runtime';
import type { Tensor } from '../tensor';
import { grid1d, uniforms } from '../dispatch';
import { ADAMW_DEFAULTS, type AdamWHyper } from '../reference/optim';

export { ADAMW_DEFAULTS, type AdamWHyper } from '../reference/optim';

/** Floats per chunk = per workgroup of the multi-tensor kernels (256 threads × vec4). */
export const CHUNK = 1024;

const NORM_PARTIAL = { name: 'gradnorm.partial', code: gradnormWgsl, entryPoint: 'partial' };
const NORM_FINISH = { name: 'gradnorm.finish', code: gradnormWgsl, entryPoint: 'finish' };
const EMA = { name: 'ema', code: emaWgsl };
const NORM_PARTIAL_SERIAL = { name: 'gradnorm.partial_serial', code: gradnormWgsl, entryPoint: 'partial_serial' };
const ADAMW_PREPARE = { name: 'adamw.prepare', code: adamwWgsl, entryPoint: 'prepare' };
const ADAMW_UPDATE = { name: 'adamw.update', code: adamwWgsl, entryPoint: 'update' };

/** Where each tensor lives in an arena, and the per-chunk table (tensor index, valid floats) the kernels read. */
export interface ArenaLayout {
  sizes: number[];
  /** Float offset of each tensor (a multiple of CHUNK). */
  offsets: number[];
  /** Arena length in floats (a multiple of CHUNK). */
  length: number;
  nChunks: number;
  /** 2 u32 per chunk: tensor index, valid floats in the chunk (1..CHUNK). */
  chunks: Uint32Array;
}

export function arenaLayout(sizes: readonly number[]): ArenaLayout {
  const offsets: number[] = [];
  const table: number[] = [];
  let chunk = 0;
  sizes.forEach((size, k) => {
    offsets.push(chunk * CHUNK);
    for (let start = 0; start < size; start += CHUNK, chunk++) table.push(k, Math.min(CHUNK, size - start));
  });
  return { sizes: [...sizes], offsets, length: chunk * CHUNK, nChunks: chunk, chunks: Uint32Array.from(table) };
}

function uploadU32(engine: Engine, data: Uint32Array, label: string): PooledBuffer {
  const buf = engine.gpu.alloc(Math.max(16, data.byteLength), label);
  if (data.length) engine.gpu.write(buf, data);
  return buf;
}

/** Copies each tensor into its place in the arena (tensors flagged false are left alone). */
function gather(engine: Engine, tensors: readonly Tensor[], arena: PooledBuffer, layout: ArenaLayout, take: readonly boolean[]): void {
  tensors.forEach((t, k) => {
    if (take[k] && t.size > 0) engine.gpu.copy(t.buffer, 0, arena, layout.offsets[k] * 4, t.size * 4);
  });
}

/** The two norm dispatches: partial sums per chunk, then one workgroup -> out[0] = sqrt(Σ)·scale (NaN if non-finite). */
function normDispatches(engine: Engine, arena: PooledBuffer, chunks: PooledBuffer, active: PooledBuffer, nChunks: number, scale: number, out: Tensor): void {
  const partials = engine.gpu.alloc(Math.max(16, nChunks * 4), 'gradnorm.partials');
  // The tuned reduction variant: a workgroup tree per chunk (GPUs), or one thread per chunk (no barrier).
  const serial = engine.kernels.reduction === 'serial';
  engine.gpu.dispatch({
    kernel: serial ? NORM_PARTIAL_SERIAL : NORM_PARTIAL,
    buffers: [arena, chunks, active, partials],
    uniforms: uniforms([['u32', nChunks]]),
    workgroups: grid1d(nChunks, serial ? 64 : 1),
    detail: `${nChunks} chunks`,
  });
  engine.gpu.dispatch({
    kernel: NORM_FINISH,
    buffers: [partials, out.buffer],
    uniforms: uniforms([['u32', nChunks], ['f32', scale]]),
    workgroups: [1],
    detail: `${nChunks} partials`,
  });
  engine.gpu.release(partials);
}

/**
 * Global L2 norm of all the tensors as one [1] tensor on the GPU (NaN when any element is NaN/Inf), times
 * |scale|. Two dispatches whatever the number of tensors (plus one buffer copy per tensor into a scratch arena).
 * Read it back asynchronously (`await norm.item()`) for metrics; nothing here waits.
 */
export function gradNorm(tensors: readonly Tensor[], scale = 1): Tensor {
  if (tensors.length === 0) throw new RangeError('gradNorm: no tensors');
  const engine = tensors[0].engine;
  const layout = arenaLayout(tensors.map((t) => t.size));
  const arena = engine.empty([layout.length], 'gradNorm.arena'); // padding is masked, so no fill needed
  gather(engine, tensors, arena.buffer, layout, tensors.map(() => true));
  const chunks = uploadU32(engine, layout.chunks, 'gradNorm.chunks');
  const active = uploadU32(engine, new Uint32Array(tensors.length).fill(1), 'gradNorm.active');
  const out = engine.empty([1], 'gradNorm');
  normDispatches(engine, arena.buffer, chunks, active, layout.nChunks, Math.abs(scale), out);
  engine.gpu.release(chunks);
  engine.gpu.release(active);
  arena.release();
  return out;
}

/** What one AdamW step reports, on the GPU; read it whenever convenient (the values are fixed at the step). */
export interface AdamWStepReport {
  /** [1] global norm of gradScale·grads before clipping; NaN/Inf when the step was refused. */
  norm: Tensor;
  /** [1] 1 when the step was refused (non-finite gradients: nothing changed, no step counted), else 0. */
  skipped: Tensor;
  /** Reads both back (each read flushes the pending batch). */
  read(): Promise<{ norm: number; skipped: boolean }>;
}

/** Checkpointable optimiser state, per parameter in constructor order (PyTorch's step, exp_avg, exp_avg_sq). */
export interface AdamWState {
  steps: number[];
  m: Float32Array[];
  v: Float32Array[];
  /** The parameters' moving average, when the optimiser keeps one (emaDecay > 0). */
  ema?: Float32Array[];
}

function checkHyper(hp: AdamWHyper): void {
  const bad = (what: string) => {
    throw new RangeError(`AdamW: ${what} (got ${JSON.stringify(hp)})`);
  };
  if (!(hp.lr >= 0)) bad('lr must be >= 0');
  if (!(hp.beta1 >= 0 && hp.beta1 < 1) || !(hp.beta2 >= 0 && hp.beta2 < 1)) bad('betas must be in [0, 1)');
  if (!(hp.eps >= 0)) bad('eps must be >= 0');
  if (!(hp.weightDecay >= 0)) bad('weightDecay must be >= 0');
  if (!(hp.maxGradNorm >= 0)) bad('maxGradNorm must be >= 0 (0 = no clipping)');
}

/** ln β for 1 − β^t = −expm1(t·ln β); β = 0 would give −∞, clamped to a finite value with the same result. */
function lnBeta(beta: number): number {
  return Math.max(Math.log(beta), -1e30);
}

/**
 * torch.optim.AdamW over a fixed list of parameters, with clip_grad_norm_ (hp.maxGradNorm > 0) and refusal of
 * non-finite steps on the GPU. `hp` may be changed between steps (LR schedules): it is passed as uniforms.
 * Moments `m`, `v` and the per-parameter step counts stay on the GPU; `state()`/`load()` checkpoint them.
 */
export class AdamW {
  hp: AdamWHyper;
  readonly params: readonly Tensor[];
  readonly layout: ArenaLayout;
  /** First and second moments of all parameters, flat (parameter k at layout.offsets[k]). */
  readonly m: Tensor;
  readonly v: Tensor;
  private readonly engine: Engine;
  private readonly paramArena: Tensor;
  private readonly gradArena: Tensor;
  private readonly chunks: PooledBuffer;
  private readonly active: PooledBuffer;
  private readonly steps: PooledBuffer;
  private readonly coef: PooledBuffer;
  private readonly lrScale: PooledBuffer;
  private lastActive: boolean[] | null = null;
  private disposed = false;

  /** The parameters' exponential moving average (same arena layout), when emaDecay > 0. */
  private readonly ema: Tensor | null;
  readonly emaDecay: number;

  /**
   * `lrScales[k]` multiplies the learning rate (and so the weight decay step) of parameter k: parameter groups.
   * `emaDecay` > 0 keeps an exponential moving average of the parameters, updated after every applied step
   * (one more dispatch), starting from the parameters as they are now.
   */
  constructor(params: readonly Tensor[], hp: Partial<AdamWHyper> = {}, lrScales: readonly number[] = params.map(() => 1), emaDecay = 0) {
    if (!(emaDecay >= 0 && emaDecay < 1)) throw new RangeError(`AdamW: emaDecay must be in [0, 1), got ${emaDecay}`);
    if (params.length === 0) throw new RangeError('AdamW: no parameters');
    if (lrScales.length !== params.length) throw new RangeError(`AdamW: ${lrScales.length} lr scales for ${params.length} parameters`);
    const badScale = lrScales.findIndex((s) => !(s >= 0 && Number.isFinite(s)));
    if (badScale >= 0) throw new RangeError(`AdamW: lr scale of parameter ${badScale} (${params[badScale].name}) must be a finite number >= 0, got ${lrScales[badScale]}`);
    if (new Set(params).size !== params.length) throw new RangeError('AdamW: a parameter is listed twice');
    this.hp = { ...ADAMW_DEFAULTS, ...hp };
    checkHyper(this.hp);
    this.params = [...params];
    const e = (this.engine = params[0].engine);
    const n = params.length;
    this.layout = arenaLayout(params.map((p) => p.size));
    const len = [this.layout.length];
    // Zeroed arenas: padding lanes are computed along with real ones and must stay finite.
    this.paramArena = e.keep(e.zeros(len, 'adamw.param'));
    this.gradArena = e.keep(e.zeros(len, 'adamw.grad'));
    this.m = e.keep(e.zeros(len, 'adamw.m'));
    this.v = e.keep(e.zeros(len, 'adamw.v'));
    this.chunks = uploadU32(e, this.layout.chunks, 'adamw.chunks');
    this.active = uploadU32(e, new Uint32Array(n), 'adamw.active');
    this.steps = uploadU32(e, new Uint32Array(n), 'adamw.steps');
    this.coef = e.gpu.alloc(Math.max(16, n * 16), 'adamw.coef');
    this.lrScale = e.gpu.alloc(Math.max(16, n * 4), 'adamw.lr_scale');
    e.gpu.write(this.lrScale, Float32Array.from(lrScales));
    this.emaDecay = emaDecay;
    this.ema = emaDecay > 0 ? e.keep(e.zeros(len, 'adamw.ema')) : null;
    if (this.ema) gather(e, this.params, this.ema.buffer, this.layout, this.params.map((p) => p.size > 0));
  }

  /**
   * One step: grads × gradScale, global-norm clipping, AdamW on every parameter with a `.grad` (the others are
   * skipped, their step counts unchanged). Records 4 dispatches and 3 copies per parameter; never waits.
   * A non-finite global norm refuses the whole step on the GPU: see the report's `skipped`.
   */
  step(gradScale = 1): AdamWStepReport {
    if (this.disposed) throw new Error('AdamW.step after dispose');
    checkHyper(this.hp);
    const e = this.engine;
    const { hp, layout } = this;
    const take = this.params.map((p, k) => {
      if (!p.grad) return false;
      if (p.grad.size !== p.size) throw new RangeError(`AdamW: gradient ${p.grad.describe()} does not match parameter ${k} ${p.describe()}`);
      return p.size > 0;
    });
    if (!this.lastActive || take.some((t, k) => t !== this.lastActive![k])) {
      e.gpu.write(this.active, Uint32Array.from(take, Number));
      this.lastActive = take;
    }
    gather(e, this.params.map((p) => p.grad ?? p), this.gradArena.buffer, layout, take);
    gather(e, this.params, this.paramArena.buffer, layout, take);

    const norm = e.empty([1], 'adamw.norm');
    const skipped = e.empty([1], 'adamw.skipped');
    normDispatches(e, this.gradArena.buffer, this.chunks, this.active, layout.nChunks, Math.abs(gradScale), norm);
    e.gpu.dispatch({
      kernel: ADAMW_PREPARE,
      buffers: [norm.buffer, skipped.buffer, this.active, this.steps, this.coef, this.lrScale],
      uniforms: uniforms([
        ['u32', this.params.length],
        ['f32', hp.lr],
        ['f32', lnBeta(hp.beta1)],
        ['f32', lnBeta(hp.beta2)],
        ['f32', hp.weightDecay],
      ]),
      workgroups: [1],
      detail: `${this.params.length} tensors`,
    });
    e.gpu.dispatch({
      kernel: ADAMW_UPDATE,
      buffers: [this.paramArena.buffer, this.gradArena.buffer, this.m.buffer, this.v.buffer, this.chunks, this.coef, norm.buffer],
      uniforms: uniforms([
        ['u32', layout.nChunks],
        ['f32', hp.beta1],
        ['f32', 1 - hp.beta1],
        ['f32', hp.beta2],
        ['f32', 1 - hp.beta2],
        ['f32', hp.eps],
        ['f32', hp.maxGradNorm === Infinity ? 0 : hp.maxGradNorm],
        ['f32', gradScale],
      ]),
      workgroups: grid1d(layout.nChunks, 1),
      detail: `${this.params.length} tensors, ${layout.length} floats`,
    });
    if (this.ema) {
      e.gpu.dispatch({
        kernel: EMA,
        buffers: [this.ema.buffer, this.paramArena.buffer, this.chunks, this.coef],
        uniforms: uniforms([['u32', layout.nChunks], ['f32', 1 - this.emaDecay]]),
        workgroups: grid1d(layout.nChunks * 256, 64),
        detail: `${layout.length} floats`,
      });
    }
    this.params.forEach((p, k) => {
      if (take[k]) e.gpu.copy(this.paramArena.buffer, layout.offsets[k] * 4, p.buffer, 0, p.size * 4);
    });
    return {
      norm,
      skipped,
      read: async () => {
        const [nv, sv] = await Promise.all([norm.item(), skipped.item()]);
        return { norm: nv, skipped: sv !== 0 };
      },
    };
  }

  /** Reads the moments and step counts back (one flush; the copies are taken at the call, in stream order). */
  async state(): Promise<AdamWState> {
    const { layout, params } = this;
    const [m, v, steps, ema] = await Promise.all([
      this.m.toArray(),
      this.v.toArray(),
      this.engine.gpu.read(this.steps, params.length * 4),
      this.ema?.toArray() ?? null,
    ]);
    const slice = (a: Float32Array, k: number) => a.slice(layout.offsets[k], layout.offsets[k] + layout.sizes[k]);
    return {
      steps: Array.from(new Uint32Array(steps)),
      m: params.map((_, k) => slice(m, k)),
      v: params.map((_, k) => slice(v, k)),
      ...(ema ? { ema: params.map((_, k) => slice(ema, k)) } : {}),
    };
  }

  /** Restores moments and step counts saved by `state()` for the same parameter list (sizes are checked). */
  load(state: AdamWState): void {
    const { layout, params } = this;
    const n = params.length;
    if (state.steps.length !== n || state.m.length !== n || state.v.length !== n) {
      throw new RangeError(`AdamW.load: state for ${state.steps.length} parameters, optimiser has ${n}`);
    }
    if (this.ema && state.ema?.length !== n) throw new RangeError(`AdamW.load: the optimiser keeps a moving average and the state has ${state.ema ? `${state.ema.length} of ${n}` : 'none'}`);
    const m = new Float32Array(layout.length);
    const v = new Float32Array(layout.length);
    const ema = this.ema ? new Float32Array(layout.length) : null;
    params.forEach((p, k) => {
      if (ema) {
        if (state.ema![k].length !== p.size) throw new RangeError(`AdamW.load: parameter ${k} ${p.describe()} has ${p.size} values, its average has ${state.ema![k].length}`);
        ema.set(state.ema![k], layout.offsets[k]);
      }
      if (state.m[k].length !== p.size || state.v[k].length !== p.size) {
        throw new RangeError(`AdamW.load: parameter ${k} ${p.describe()} has ${p.size} values, state has ${state.m[k].length}/${state.v[k].length}`);
      }
      const s = state.steps[k];
      if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) throw new RangeError(`AdamW.load: step ${s} of parameter ${k} is not a u32`);
      m.set(state.m[k], layout.offsets[k]);
      v.set(state.v[k], layout.offsets[k]);
    });
    const gpu = this.engine.gpu;
    if (layout.length > 0) {
      gpu.write(this.m.buffer, m);
      gpu.write(this.v.buffer, v);
      if (ema) gpu.write(this.ema!.buffer, ema);
    }
    gpu.write(this.steps, Uint32Array.from(state.steps));
  }

  /** Frees the arenas and tables (the parameters are the caller's). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [this.paramArena, this.gradArena, this.m, this.v]) t.release();
    this.ema?.release();
    for (const b of [this.chunks, this.active, this.steps, this.coef, this.lrScale]) this.engine.gpu.release(b);
  }
}
