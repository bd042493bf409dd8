// float64 reference of the elementwise ops (spec of the op table in src/tensor/ops/elementwise.ts): value and
// derivative(s) of every op, written independently of the WGSL expressions.
import { geluTanh, geluTanhGrad, silu, siluGrad } from './activation';
import { broadcastShapeRef, broadcastSource, sumToShapeRef } from './reduce';
import { size, type Shape } from './shape';

export interface UnaryRef {
  f: (x: number, s: number) => number;
  /** dy/dx */
  df: (x: number, s: number) => number;
}
export interface BinaryRef {
  f: (a: number, b: number, s: number) => number;
  da: (a: number, b: number, s: number) => number;
  db: (a: number, b: number, s: number) => number;
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));

export const UNARY_REF: Record<string, UnaryRef> = {
  gelu: { f: geluTanh, df: geluTanhGrad },
  silu: { f: silu, df: siluGrad },
  sigmoid: { f: sig, df: (x) => sig(x) * (1 - sig(x)) },
  tanh: { f: Math.tanh, df: (x) => 1 - Math.tanh(x) ** 2 },
  exp: { f: Math.exp, df: Math.exp },
  neg: { f: (x) => -x, df: () => -1 },
  square: { f: (x) => x * x, df: (x) => 2 * x },
  scale: { f: (x, s) => s * x, df: (_, s) => s },
  addScalar: { f: (x, s) => x + s, df: () => 1 },
};

export const BINARY_REF: Record<string, BinaryRef> = {
  add: { f: (a, b) => a + b, da: () => 1, db: () => 1 },
  sub: { f: (a, b) => a - b, da: () => 1, db: () => -1 },
  mul: { f: (a, b) => a * b, da: (_, b) => b, db: (a) => a },
  div: { f: (a, b) => a / b, da: (_, b) => 1 / b, db: (a, b) => -a / (b * b) },
  addScaled: { f: (a, b, s) => a + s * b, da: () => 1, db: (_a, _b, s) => s },
};

export function unaryRef(op: string, x: Float64Array, s = 0): Float64Array {
  const { f } = UNARY_REF[op];
  return x.map((v) => f(v, s));
}

export function unaryBackwardRef(op: string, x: Float64Array, g: Float64Array, s = 0): Float64Array {
  const { df } = UNARY_REF[op];
  return x.map((v, i) => g[i] * df(v, s));
}

export function binaryRef(op: string, a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, s = 0): { y: Float64Array; shape: number[] } {
  const { f } = BINARY_REF[op];
  const shape = broadcastShapeRef(aShape, bShape);
  const y = new Float64Array(size(shape));
  for (let i = 0; i < y.length; i++) y[i] = f(a[broadcastSource(i, shape, aShape)], b[broadcastSource(i, shape, bShape)], s);
  return { y, shape };
}

/** Gradients of Σ g·y for both operands, summed over the dims each was broadcast along. */
export function binaryBackwardRef(op: string, a: Float64Array, aShape: Shape, b: Float64Array, bShape: Shape, g: Float64Array, s = 0): { ga: Float64Array; gb: Float64Array } {
  const { da, db } = BINARY_REF[op];
  const shape = broadcastShapeRef(aShape, bShape);
  const fa = new Float64Array(g.length);
  const fb = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const av = a[broadcastSource(i, shape, aShape)];
    const bv = b[broadcastSource(i, shape, bShape)];
    fa[i] = g[i] * da(av, bv, s);
    fb[i] = g[i] * db(av, bv, s);
  }
  return { ga: sumToShapeRef(fa, shape, aShape), gb: sumToShapeRef(fb, shape, bShape) };
}

/** (1 − t)·a + t·b with t[sample], a and b [B, ...]. */
export function lerpRef(a: Float64Array, b: Float64Array, t: Float64Array): Float64Array {
  const inner = a.length / t.length;
  return a.map((av, i) => {
    const tv = t[Math.floor(i / inner)];
    return (1 - tv) * av + tv * b[i];
  });
}

export function lerpBackwardRef(a: Float64Array, b: Float64Array, t: Float64Array, g: Float64Array): { ga: Float64Array; gb: Float64Array; gt: Float64Array } {
  const inner = a.length / t.length;
  const ga = new Float64Array(a.length);
  const gb = new Float64Array(a.length);
  const gt = new Float64Array(t.length);
  for (let i = 0; i < a.length; i++) {
    const s = Math.floor(i / inner);
    ga[i] = (1 - t[s]) * g[i];
    gb[i] = t[s] * g[i];
    gt[s] += g[i] * (b[i] - a[i]);
  }
  return { ga, gb, gt };
}
