// float64 reference of the reductions (spec of shaders/reduce.wgsl and src/tensor/ops/reduce.ts).
import { size, unravel, ravel, type Shape } from './shape';

/** NumPy broadcasting of two shapes (right-aligned). */
export function broadcastShapeRef(a: Shape, b: Shape): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = r; k >= 1; k--) {
    const da = a[a.length - k] ?? 1;
    const db = b[b.length - k] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new RangeError(`cannot broadcast [${a}] with [${b}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Flat index into `inShape` of the element that broadcasting reads for flat output index i of `outShape`. */
export function broadcastSource(i: number, outShape: Shape, inShape: Shape): number {
  const idx = unravel(i, outShape);
  const lead = outShape.length - inShape.length;
  return ravel(
    inShape.map((d, k) => (d === 1 ? 0 : idx[k + lead])),
    inShape,
  );
}

/** x broadcast to `target`. */
export function expandRef(x: Float64Array, shape: Shape, target: Shape): Float64Array {
  const out = new Float64Array(size(target));
  for (let i = 0; i < out.length; i++) out[i] = x[broadcastSource(i, target, shape)];
  return out;
}

/** Σ of x over the dims that broadcasting `target` to `shape` repeats (the adjoint of expand). */
export function sumToShapeRef(x: Float64Array, shape: Shape, target: Shape): Float64Array {
  const out = new Float64Array(size(target));
  for (let i = 0; i < x.length; i++) out[broadcastSource(i, shape, target)] += x[i];
  return out;
}

/** Σ (or mean) over `axes` (all when undefined); returns the keepDims=false shape. */
export function sumRef(x: Float64Array, shape: Shape, axes?: readonly number[], isMean = false): { y: Float64Array; shape: number[] } {
  const r = shape.length;
  const mask = shape.map((_, i) => axes === undefined || axes.some((a) => (a + r) % r === i));
  const kept = shape.map((d, i) => (mask[i] ? 1 : d));
  const y = sumToShapeRef(x, shape, kept);
  const count = size(shape.filter((_, i) => mask[i]));
  if (isMean) for (let i = 0; i < y.length; i++) y[i] /= count;
  return { y, shape: shape.filter((_, i) => !mask[i]) };
}

export function sumBackwardRef(g: Float64Array, shape: Shape, axes?: readonly number[], isMean = false): Float64Array {
  const r = shape.length;
  const mask = shape.map((_, i) => axes === undefined || axes.some((a) => (a + r) % r === i));
  const kept = shape.map((d, i) => (mask[i] ? 1 : d));
  const gx = expandRef(g, kept, shape);
  const count = size(shape.filter((_, i) => mask[i]));
  if (isMean) for (let i = 0; i < gx.length; i++) gx[i] /= count;
  return gx;
}

/** mean over all non-batch elements of (pred − target)²: [B]. */
export function perSampleMseRef(pred: Float64Array, target: Float64Array, batch: number): Float64Array {
  const inner = pred.length / batch;
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let j = 0; j < inner; j++) s += (pred[b * inner + j] - target[b * inner + j]) ** 2;
    out[b] = s / inner;
  }
  return out;
}

export function perSampleMseBackwardRef(pred: Float64Array, target: Float64Array, g: Float64Array): { gPred: Float64Array; gTarget: Float64Array } {
  const inner = pred.length / g.length;
  const gPred = new Float64Array(pred.length);
  const gTarget = new Float64Array(pred.length);
  for (let i = 0; i < pred.length; i++) {
    const d = (2 / inner) * g[Math.floor(i / inner)] * (pred[i] - target[i]);
    gPred[i] = d;
    gTarget[i] = -d;
  }
  return { gPred, gTarget };
}
