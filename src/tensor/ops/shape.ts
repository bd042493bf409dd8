// Shape ops (concat, split, permute, scaled copy) and the shape utilities every op family shares: NumPy
// broadcasting, contiguous strides, dim merging, WGSL template sections.
//
// All copies run on one strided kernel family (shaders/shape.wgsl). Before a dispatch, dims are merged
// (size-1 dims dropped, neighbours that every operand walks contiguously fused), so a [B, T, D] slice or a
// [B, N, D] + [D] broadcast costs 2 or 3 index dims whatever the tensor's rank, and the kernels need only 4.
//
// Module order (no cycles): shape <- reduce <- elementwise; patch and timestep stand alone.
import shapeWgsl from '../../../shaders/shape.wgsl?raw';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import { fmtShape, shapeSize, type Shape, type Tensor } from '../tensor';

const WG = 256; // matches @workgroup_size in shaders/shape.wgsl
export const MAX_KERNEL_DIMS = 4; // vec4u dims/strides in the kernels' uniforms

// ------------------------------------------------------------------------------------------ utilities

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Resolves a possibly negative axis; the error names the op and the tensor. */
export function normAxis(op: string, axis: number, t: Tensor): number {
  const r = t.shape.length;
  const a = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= r) throw new RangeError(`${op}: axis ${axis} is out of range for ${t.describe()}`);
  return a;
}

/** NumPy broadcasting of two shapes (right-aligned; equal dims or a 1). Throws naming the op and both tensors. */
export function broadcastShapes(op: string, a: Tensor, b: Tensor): number[] {
  const r = Math.max(a.shape.length, b.shape.length);
  const out = new Array<number>(r);
  for (let k = 1; k <= r; k++) {
    const da = a.shape[a.shape.length - k] ?? 1;
    const db = b.shape[b.shape.length - k] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`${op}: cannot broadcast ${a.describe()} with ${b.describe()} (dim -${k}: ${da} vs ${db})`);
    }
    out[r - k] = da === 1 ? db : da;
  }
  return out;
}

/** Strides (in elements) for reading `shape` as if broadcast to `outShape`: 0 on dims it repeats. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = contiguousStrides(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : own[i - lead]));
}

/**
 * Drops size-1 dims and fuses neighbours that every operand walks contiguously (outer stride = inner stride ·
 * inner size; two broadcast dims fuse too, 0 = 0·n). Iteration order and addresses are unchanged.
 */
export function mergeDims(dims: readonly number[], strides: ReadonlyArray<readonly number[]>): { dims: number[]; strides: number[][] } {
  const outDims: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < dims.length; d++) {
    if (dims[d] === 1) continue;
    const last = outDims.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * dims[d])) {
      outDims[last] *= dims[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outDims.push(dims[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { dims: outDims, strides: outStrides };
}

/** Front-pads merged dims to the kernels' 4 (dim 1, stride 0); `what` names the op for the error. */
export function pad4(dims: readonly number[], strides: readonly number[], what: string): { dims: number[]; strides: number[] } {
  if (dims.length > MAX_KERNEL_DIMS) {
    throw new RangeError(`${what}: needs ${dims.length} index dims after merging ${fmtShape(dims)}; the kernels support ${MAX_KERNEL_DIMS}`);
  }
  const pad = MAX_KERNEL_DIMS - dims.length;
  return { dims: [...new Array<number>(pad).fill(1), ...dims], strides: [...new Array<number>(pad).fill(0), ...strides] };
}

/**
 * Cuts `//! <name>` out of a WGSL template file (up to the next `//! ` marker). Templates keep WGSL in .wgsl files
 * while TypeScript generates the variants; placeholders start with `$`, which is not WGSL, so a missed
 * substitution fails to compile rather than running something else.
 */
export function wgslSection(source: string, name: string): string {
  const parts = source.split(/^\/\/! /m);
  const hit = parts.find((p) => p.startsWith(name + '\n') || p.startsWith(name + '\r\n'));
  if (!hit) throw new Error(`WGSL template has no section '//! ${name}'`);
  return hit.slice(name.length + 1);
}

export function assertSameEngine(op: string, ts: Tensor[]): void {
  for (const t of ts) if (t.engine !== ts[0].engine) throw new Error(`${op}: ${t.describe()} belongs to another engine`);
}

// ------------------------------------------------------------------------------------------ kernels

type CopyEntry = 'gather' | 'scatter' | 'embed';
const KERNELS: Record<CopyEntry, { name: string; code: string; entryPoint: string }> = {
  gather: { name: 'shape', code: shapeWgsl, entryPoint: 'gather' },
  scatter: { name: 'shape', code: shapeWgsl, entryPoint: 'scatter' },
  embed: { name: 'shape', code: shapeWgsl, entryPoint: 'embed' },
};

function copyDispatch(entry: CopyEntry, x: Tensor, y: Tensor, n: number, dims: number[], strides: number[], base: number, s: number, extent = 0): void {
  if (n === 0) return;
  const p = pad4(dims, strides, `${entry} ${x.describe()} -> ${y.describe()}`);
  y.engine.gpu.dispatch({
    kernel: KERNELS[entry],
    buffers: [x.buffer, y.buffer],
    uniforms: uniforms([
      ['u32', n],
      ['u32', base],
      ['f32', s],
      ['u32', extent],
      ...p.dims.map((d): ['u32', number] => ['u32', d]),
      ...p.strides.map((d): ['u32', number] => ['u32', d]),
    ]),
    workgroups: grid1d(n, WG),
    detail: `${x.describe()} -> ${y.describe()}`,
  });
}

/**
 * New contiguous tensor of `outShape` with out[idx] = s · x[base + Σ idx_k · strides_k] (no autograd: callers
 * record their own backward). Strides may be 0 (broadcast) or permuted.
 */
export function gatherStrided(x: Tensor, outShape: Shape, strides: readonly number[], base = 0, s = 1, name = 'gather'): Tensor {
  const y = x.engine.empty(outShape, name);
  const m = mergeDims(outShape, [strides]);
  copyDispatch('gather', x, y, y.size, m.dims, m.strides[0], base, s);
  return y;
}

/** y[base + Σ idx_k · strides_k] = x[idx] over x's shape (no autograd). */
function scatterStrided(x: Tensor, y: Tensor, strides: readonly number[], base: number): void {
  const m = mergeDims(x.shape, [strides]);
  copyDispatch('scatter', x, y, x.size, m.dims, m.strides[0], base, 1);
}

// ------------------------------------------------------------------------------------------ ops

/** s·x as a new tensor (a copy when s = 1). The backward is s·g. */
export function scaledCopy(x: Tensor, s = 1): Tensor {
  const y = gatherStrided(x, x.shape, contiguousStrides(x.shape), 0, s, 'copy');
  return record(y, 'scaledCopy', [x], [], (g) => [scaledCopy(g, s)]);
}

/** View of a tensor as [outer, len, inner] around `axis`. */
function around(shape: Shape, axis: number): [number, number, number] {
  return [shapeSize(shape.slice(0, axis)), shape[axis], shapeSize(shape.slice(axis + 1))];
}

/**
 * Concatenates along `axis` (default 1: the sequence axis of [B, T, D]; SD3's joint attention puts image tokens
 * first, then context tokens). One scatter per part: every byte is read once and written once.
 */
export function concat(parts: readonly Tensor[], axis = 1): Tensor {
  if (parts.length === 0) throw new RangeError('concat: no tensors given');
  assertSameEngine('concat', [...parts]);
  const first = parts[0];
  const ax = normAxis('concat', axis, first);
  for (const t of parts) {
    if (t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new RangeError(`concat: ${parts.map((p) => p.describe()).join(', ')} differ outside axis ${ax}`);
    }
  }
  const total = parts.reduce((n, t) => n + t.shape[ax], 0);
  const outShape = first.shape.map((d, i) => (i === ax ? total : d));
  const y = first.engine.empty(outShape, 'concat');
  const [, , inner] = around(outShape, ax);
  const outStrides = contiguousStrides(outShape);
  let offset = 0;
  const offsets: number[] = [];
  for (const t of parts) {
    offsets.push(offset);
    scatterStrided(t, y, outStrides, offset * inner);
    offset += t.shape[ax];
  }
  return record(y, 'concat', [...parts], [], (g) =>
    parts.map((t, k) => (t.requiresGrad ? gatherStrided(g, t.shape, outStrides, offsets[k] * inner, 1, 'concat.grad') : null)),
  );
}

/**
 * Splits along `axis` into pieces of the given sizes (they must add up to the axis). Each piece is its own op
 * on the tape; its backward writes a full-size gradient that is zero outside the piece, in one pass ('embed'),
 * and the tape adds the pieces' gradients. (A multi-output tape node would avoid the full-size temporaries;
 * the core records one output per node.)
 */
export function split(x: Tensor, sizes: readonly number[], axis = 1): Tensor[] {
  const ax = normAxis('split', axis, x);
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sizes.some((s) => !Number.isInteger(s) || s < 0) || sum !== x.shape[ax]) {
    throw new RangeError(`split: sizes [${sizes.join(', ')}] do not add up to axis ${ax} of ${x.describe()}`);
  }
  const [outer, total, inner] = around(x.shape, ax);
  const strides = contiguousStrides(x.shape);
  const pieces: Tensor[] = [];
  let offset = 0;
  for (const len of sizes) {
    const shape = x.shape.map((d, i) => (i === ax ? len : d));
    const start = offset;
    const piece = gatherStrided(x, shape, strides, start * inner, 1, 'split');
    pieces.push(
      record(piece, 'split', [x], [], (g) => {
        const gx = x.engine.empty(x.shape, 'split.grad');
        copyDispatch('embed', g, gx, gx.size, [outer, total, inner], [0, 0, 0], start, 1, len);
        return [gx];
      }),
    );
    offset += len;
  }
  return pieces;
}

/** out.shape[i] = x.shape[perm[i]]; a general transpose (any rank whose merged dims fit in 4). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const r = x.shape.length;
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new RangeError(`permute: [${perm.join(', ')}] is not a permutation of the ${r} axes of ${x.describe()}`);
  }
  const xs = contiguousStrides(x.shape);
  const y = gatherStrided(
    x,
    perm.map((p) => x.shape[p]),
    perm.map((p) => xs[p]),
    0,
    1,
    'permute',
  );
  const inverse = new Array<number>(r);
  perm.forEach((p, i) => (inverse[p] = i));
  return record(y, 'permute', [x], [], (g) => [permute(g, inverse)]);
}
