// The embedding op: rows of a table [V, W] picked by token id, with the gradient summed back into the table.
// Kernels: shaders/embedding.wgsl; float64 spec: embeddingRef / embeddingBackwardRef in reference.ts.
//
// Token ids come from the tokenizer on the host, so the op takes them as host numbers: it uploads them, and
// when the table needs a gradient it also groups the positions by id on the host (a counting sort, O(N + V))
// so that the backward kernel can sum each row's gradients in a fixed order without float atomics.
import embeddingWgsl from '../../shaders/embedding.wgsl?raw';
import type { Kernel } from '../gpu/runtime';
import { needsGrad, record } from '../tensor/autograd';
import { grid1d, uniforms } from '../tensor/dispatch';
import { fmtShape, shapeSize, type Shape, type Tensor } from '../tensor/tensor';

const GATHER: Kernel = { name: 'embedding', code: embeddingWgsl, entryPoint: 'gather' };
const SCATTER_ADD: Kernel = { name: 'embedding', code: embeddingWgsl, entryPoint: 'scatter_add' };
const WG = 256; // matches @workgroup_size in shaders/embedding.wgsl

/** Indices travel as f32 (the engine's only dtype); f32 represents every integer below 2^24 exactly. */
export const MAX_EXACT_INDEX = 2 ** 24;

/**
 * Positions grouped by id (CSR): the positions holding id v are order[offsets[v] .. offsets[v + 1]), ascending.
 * As f32 arrays, ready to upload.
 */
export function groupPositions(ids: ArrayLike<number>, rows: number): { offsets: Float32Array; order: Float32Array } {
  const offsets = new Float32Array(rows + 1);
  for (let n = 0; n < ids.length; n++) offsets[ids[n] + 1]++;
  for (let v = 0; v < rows; v++) offsets[v + 1] += offsets[v];
  const next = offsets.slice(0, rows);
  const order = new Float32Array(ids.length);
  for (let n = 0; n < ids.length; n++) order[next[ids[n]]++] = n;
  return { offsets, order };
}

function check(table: Tensor, ids: ArrayLike<number>, shape: Shape): void {
  const what = `embedding: table ${fmtShape(table.shape)}, ids of shape ${fmtShape(shape)}`;
  if (table.shape.length !== 2) throw new RangeError(`${what}: the table must be [rows, width]`);
  const rows = table.shape[0];
  if (ids.length !== shapeSize(shape)) throw new RangeError(`${what}: ${ids.length} ids given for ${shapeSize(shape)} positions`);
  if (rows + 1 > MAX_EXACT_INDEX || ids.length > MAX_EXACT_INDEX) throw new RangeError(`${what}: more than 2^24 rows or ids`);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new RangeError(`${what}: id ${id} at position ${n} is outside 0..${rows - 1}`);
  }
}

/**
 * table[ids] as [...shape, W]: the token embedding. `ids` (host numbers, row-major over `shape`) must be
 * integers in [0, V). The table's gradient is Σ over positions of the output gradient of that position's row.
 */
export function embedding(table: Tensor, ids: ArrayLike<number>, shape: Shape): Tensor {
  check(table, ids, shape);
  const e = table.engine;
  const [rows, width] = table.shape;
  const n = ids.length;
  const out = e.empty([...shape, width], 'embedding');
  const detail = `${table.describe()} ids${fmtShape(shape)}`;
  if (out.size > 0) {
    const idsT = e.fromArray(Float32Array.from(ids), [n], 'embedding.ids');
    e.gpu.dispatch({
      kernel: GATHER,
      buffers: [table.buffer, idsT.buffer, out.buffer],
      uniforms: uniforms([['u32', out.size], ['u32', width]]),
      workgroups: grid1d(out.size, WG),
      detail,
    });
    idsT.release(); // safe: the pool hands the buffer out again only to later work, in stream order
  }
  if (!needsGrad(e, [table])) return out;

  const csr = groupPositions(ids, rows);
  const offsets = e.fromArray(csr.offsets, [rows + 1], 'embedding.offsets');
  const order = e.fromArray(csr.order, [n], 'embedding.order');
  record(out, 'embedding', [table], [offsets, order], (g, [so, sr]) => {
    const dtable = e.empty(table.shape, 'embedding.grad');
    if (dtable.size > 0) {
      e.gpu.dispatch({
        kernel: SCATTER_ADD,
        buffers: [g.buffer, so.buffer, sr.buffer, dtable.buffer],
        uniforms: uniforms([['u32', dtable.size], ['u32', width]]),
        workgroups: grid1d(dtable.size, WG),
        detail,
      });
    }
    return [dtable];
  });
  offsets.release(); // the tape holds its own references
  order.release();
  return out;
}
