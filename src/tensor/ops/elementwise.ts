// Elementwise ops, declared ONCE in the tables below: each op is a WGSL forward expression and a WGSL backward
// expression (per operand for binary ops); the kernels are generated from shaders/elementwise.wgsl (a template)
// and the autograd wiring is generic. Binary ops broadcast like NumPy; the gradient of a broadcast operand is
// summed back to its shape with the two-pass reduction (reduce.ts).
//
// Conventions of the expressions: x (unary input), a, b (binary inputs), g (gradient of the output), s (the op's
// scalar). A backward expression that is exactly 'g' means the gradient passes through: no kernel runs. The
// backward saves only the inputs its expressions read (a regex over the expression), so linear ops keep nothing
// alive for the backward. Functions like gelu_tanh come from shaders/activation.wgsl.
import activationWgsl from '../../../shaders/activation.wgsl?raw';
import elementwiseWgsl from '../../../shaders/elementwise.wgsl?raw';
import stridedWgsl from '../../../shaders/strided.wgsl?raw';
import type { Kernel } from '../../gpu/runtime';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import { shapeSize, type Shape, type Tensor } from '../tensor';
import { reduceMasked, sumToShape, type Traffic } from './reduce';
import {
  assertSameEngine,
  broadcastShapes,
  broadcastStrides,
  mergeDims,
  pad4,
  sameShape,
  wgslSection,
} from './shape';

export interface UnaryDef {
  forward: string;
  backward: string;
}
export interface BinaryDef {
  forward: string;
  backward: readonly [string, string];
}

/** Unary ops for a DiT trainer: FFN and adaLN activations, loss and schedule arithmetic. */
export const UNARY_OPS = {
  gelu: { forward: 'gelu_tanh(x)', backward: 'g * gelu_tanh_grad(x)' }, // SD3 FeedForward: gelu, tanh approx.
  silu: { forward: 'silu(x)', backward: 'g * silu_grad(x)' }, // adaLN and timestep MLP
  sigmoid: { forward: 'ew_sigmoid(x)', backward: 'g * ew_sigmoid(x) * (1.0 - ew_sigmoid(x))' },
  tanh: { forward: 'tanh_safe(x)', backward: 'g * (1.0 - tanh_safe(x) * tanh_safe(x))' },
  exp: { forward: 'exp(x)', backward: 'g * exp(x)' },
  neg: { forward: '-x', backward: '-g' },
  square: { forward: 'x * x', backward: '2.0 * x * g' },
  scale: { forward: 's * x', backward: 's * g' }, // scale(x, s)
  addScalar: { forward: 'x + s', backward: 'g' }, // e.g. 1 + scale in adaLN modulation
} as const satisfies Record<string, UnaryDef>;
export type UnaryOp = keyof typeof UNARY_OPS;

/** Binary ops with NumPy broadcasting. addScaled(a, b, s) = a + s·b (Euler steps, interpolation). */
export const BINARY_OPS = {
  add: { forward: 'a + b', backward: ['g', 'g'] },
  sub: { forward: 'a - b', backward: ['g', '-g'] },
  mul: { forward: 'a * b', backward: ['g * b', 'g * a'] },
  div: { forward: 'a / b', backward: ['g / b', '-g * (a / b) / b'] },
  addScaled: { forward: 'a + s * b', backward: ['g', 's * g'] },
} as const satisfies Record<string, BinaryDef>;
export type BinaryOp = keyof typeof BINARY_OPS;

const WG = 256; // matches @workgroup_size in shaders/elementwise.wgsl
const prelude = activationWgsl + stridedWgsl + wgslSection(elementwiseWgsl, 'prelude');
const kernels = new Map<string, Kernel>();

/** The generated kernel for one template section and op (cached; its name is the pipeline cache key). */
function kernel(section: string, op: string, expr: string, constants?: Record<string, number>): Kernel {
  const name = `ew.${section}.${op}`;
  let k = kernels.get(name);
  if (!k) {
    k = { name, code: prelude + wgslSection(elementwiseWgsl, section).replace('$EXPR', expr) };
    kernels.set(name, k);
  }
  return constants ? { ...k, constants } : k;
}

/** Whether a WGSL expression reads the identifier `name` (decides what the backward must save). */
function reads(expr: string, name: string): boolean {
  return new RegExp(`\\b${name}\\b`).test(expr);
}

interface Bcast {
  dims: number[];
  sa: number[];
  sb: number[];
  /** Every operand has the output's layout: the kernel can skip the index math. */
  flat: boolean;
}

function bcastPlan(op: string, outShape: Shape, aShape: Shape, bShape: Shape): Bcast {
  const m = mergeDims(outShape, [broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)]);
  const flat = m.dims.length === 0 || (m.dims.length === 1 && m.strides[0][0] === 1 && m.strides[1][0] === 1);
  const pa = pad4(m.dims, m.strides[0], op);
  return { dims: pa.dims, sa: pa.strides, sb: pad4(m.dims, m.strides[1], op).strides, flat };
}

const NO_BCAST: Bcast = { dims: [1, 1, 1, 1], sa: [0, 0, 0, 0], sb: [0, 0, 0, 0], flat: true };

function run(k: Kernel, buffers: Tensor[], n: number, s: number, inner: number, plan: Bcast, detail: string): void {
  if (n === 0) return;
  const u32s = (xs: number[]) => xs.map((v): ['u32', number] => ['u32', v]);
  buffers[0].engine.gpu.dispatch({
    kernel: k,
    buffers: buffers.map((t) => t.buffer),
    uniforms: uniforms([['u32', n], ['f32', s], ...u32s([inner, 0, ...plan.dims, ...plan.sa, ...plan.sb])]),
    workgroups: grid1d(n, WG),
    detail,
  });
}

/**
 * The gradient g handed on unchanged, as a view of `shape` (never g itself: the tape releases g after the
 * backward). Views may share storage with other gradients (add gives one to each operand); the tape copies a
 * shared gradient before it accumulates into it, so no kernel runs here.
 */
function passThrough(g: Tensor, shape: Shape): Tensor {
  return g.reshape(shape);
}

// ------------------------------------------------------------------------------------------ unary

export function unary(op: UnaryOp, x: Tensor, s = 0): Tensor {
  const def = UNARY_OPS[op];
  const y = x.engine.empty(x.shape, op);
  run(kernel('unary', op, def.forward), [x, y], y.size, s, 0, NO_BCAST, x.describe());
  const savesX = reads(def.backward, 'x');
  return record(y, op, [x], savesX ? [x] : [], (g, saved) => {
    if (def.backward === 'g') return [passThrough(g, x.shape)];
    const gx = x.engine.empty(x.shape, `${op}.grad`);
    run(kernel('unary_grad', op, def.backward), [savesX ? saved[0] : g, g, gx], gx.size, s, 0, NO_BCAST, x.describe());
    return [gx];
  });
}

/** GELU, tanh approximation (SD3's FeedForward `gelu-approximate`). */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
export const silu = (x: Tensor): Tensor => unary('silu', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const square = (x: Tensor): Tensor => unary('square', x);
/** s·x */
export const scale = (x: Tensor, s: number): Tensor => unary('scale', x, s);
/** x + s */
export const addScalar = (x: Tensor, s: number): Tensor => unary('addScalar', x, s);

// ------------------------------------------------------------------------------------------ binary

export function binary(op: BinaryOp, a: Tensor, b: Tensor, s = 0): Tensor {
  assertSameEngine(op, [a, b]);
  const def = BINARY_OPS[op];
  const shape = broadcastShapes(op, a, b);
  const plan = bcastPlan(op, shape, a.shape, b.shape);
  const y = a.engine.empty(shape, op);
  const fwd = kernel('binary', op, def.forward, { BCAST: plan.flat ? 0 : 1 });
  run(fwd, [a, b, y], y.size, s, 0, plan, `${a.describe()}, ${b.describe()}`);

  const saveA = def.backward.some((e) => reads(e, 'a'));
  const saveB = def.backward.some((e) => reads(e, 'b'));
  const save = [...(saveA ? [a] : []), ...(saveB ? [b] : [])];
  return record(y, op, [a, b], save, (gIn, saved) => {
    const g = sameShape(gIn.shape, shape) ? gIn : gIn.reshape(shape);
    const sa = saveA ? saved[0] : g;
    const sb = saveB ? saved[saveA ? 1 : 0] : g;
    return [a, b].map((input, k) => {
      if (!input.requiresGrad) return null;
      const expr = def.backward[k];
      const broadcast = shapeSize(input.shape) !== y.size;
      if (expr === 'g') return broadcast ? sumToShape(g, input.shape) : passThrough(g, input.shape);
      // The operand's gradient at the output's shape, then summed over the dims it was broadcast along.
      const full = a.engine.empty(broadcast ? shape : input.shape, `${op}.grad`);
      const bwd = kernel('binary_grad', `${op}.${k}`, expr, { BCAST: plan.flat ? 0 : 1 });
      run(bwd, [sa, sb, g, full], full.size, s, 0, plan, `${a.describe()}, ${b.describe()}`);
      if (!broadcast) return full;
      const reduced = sumToShape(full, input.shape);
      full.release();
      return reduced;
    });
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);
/** a + alpha·b, broadcasting (Euler step z + (s_next − s)·v). */
export const addScaled = (a: Tensor, b: Tensor, alpha: number): Tensor => binary('addScaled', a, b, alpha);

// ------------------------------------------------------------------------------------------ lerp

const LERP: Kernel = { name: 'ew.lerp', code: prelude + wgslSection(elementwiseWgsl, 'lerp') }; // no $EXPR: hand-written

/**
 * (1 − t)·a + t·b with one t per sample: a, b [B, ...], t with B elements ([B] or [B, 1, ...]). SOAR's
 * z_s = (1 − s)·z0 + s·z1 with a per-sample sigma, in fp32. Gradients: (1 − t)·g, t·g, and Σ g·(b − a) per
 * sample for t.
 */
export function lerp(a: Tensor, b: Tensor, t: Tensor): Tensor {
  assertSameEngine('lerp', [a, b, t]);
  if (!sameShape(a.shape, b.shape) || a.shape.length === 0 || t.size !== a.shape[0]) {
    throw new RangeError(`lerp: a ${a.describe()} and b ${b.describe()} must share a [B, ...] shape and t ${t.describe()} have B elements`);
  }
  const inner = a.size / a.shape[0];
  const y = a.engine.empty(a.shape, 'lerp');
  run(LERP, [a, b, t, y], y.size, 0, inner, NO_BCAST, `${a.describe()}, t${t.describe()}`);
  const save = t.requiresGrad ? [t, a, b] : [t];
  return record(y, 'lerp', [a, b, t], save, (gIn, [st, sa, sb]) => {
    const g = sameShape(gIn.shape, a.shape) ? gIn : gIn.reshape(a.shape);
    const side = (input: Tensor, k: number) => {
      if (!input.requiresGrad) return null;
      const gx = a.engine.empty(a.shape, 'lerp.grad');
      run(kernel('lerp_grad', 'lerp', '', { SIDE: k }), [st, g, gx], gx.size, 0, inner, NO_BCAST, a.describe());
      return gx;
    };
    const mask = a.shape.map((_, i) => i > 0);
    const gt = t.requiresGrad ? reduceMasked('gdiff', [g, sa, sb], mask, 1, t.shape, 'lerp.grad_t') : null;
    return [side(a, 0), side(b, 1), gt];
  });
}

// ------------------------------------------------------------------------------------------ traffic

export type { Traffic } from './reduce';

/** Compulsory DRAM bytes (each operand read once, each output written once), for a benchmark's GB/s. */
export function unaryBytes(op: UnaryOp, n: number): Traffic {
  const bwd = UNARY_OPS[op].backward;
  return { forward: 8 * n, backward: bwd === 'g' ? 0 : (reads(bwd, 'x') ? 12 : 8) * n };
}

/**
 * A broadcast operand counts once (it stays in cache while re-read). Backward, per operand that needs a kernel:
 * read g and the operands its expression reads, write the gradient at the output's size, and when the operand
 * was broadcast, read that back and write the reduced gradient (reduceBytes).
 */
export function binaryBytes(op: BinaryOp, aShape: Shape, bShape: Shape, outShape: Shape): Traffic {
  const [na, nb, n] = [shapeSize(aShape), shapeSize(bShape), shapeSize(outShape)];
  let backward = 0;
  BINARY_OPS[op].backward.forEach((expr, k) => {
    const own = k === 0 ? na : nb;
    const reduce = own !== n ? 4 * (n + own) : 0;
    if (expr === 'g') backward += reduce;
    else backward += 4 * (n + (reads(expr, 'a') ? na : 0) + (reads(expr, 'b') ? nb : 0) + n) + reduce;
  });
  return { forward: 4 * (na + nb + n), backward };
}

/** lerp over [B, ...]: forward reads a, b, t, writes y; backward (all three gradients) reads g, t, a, b, writes ga, gb, gt. */
export function lerpBytes(shape: Shape): Traffic {
  const n = shapeSize(shape);
  const b = shape[0] ?? 1;
  return { forward: 4 * (3 * n + b), backward: 4 * (2 * (n + b + n) + (3 * n + b)) };
}
