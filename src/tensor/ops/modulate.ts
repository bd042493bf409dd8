// adaLN modulation and gates (SD3's AdaLayerNormZero and the gated residuals of a joint block), the row sums that
// are the gradients of any vector broadcast over tokens, and `chunk` to take one modulation vector out of
// norm1.linear's [B, 6·D] output. Kernels: shaders/modulate.wgsl; float64 spec: reference/modulate.ts.
//
// Chunks: `chunk(emb, n, i)` is an op (a strided copy, with backward) returning [B, D]; the modulation ops take
// plain [B, D] tensors. The copy is B·D floats, negligible beside the B·T·D activations the ops stream.
import type { Kernel } from '../../gpu/runtime';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import { fmtShape, type Shape, type Tensor } from '../tensor';
import modulateWgsl from '../../../shaders/modulate.wgsl?raw';

// ------------------------------------------------------------------------------------------------- shared

export type VecWidth = 1 | 4;

/** vec4 when every row of D floats starts 16-byte aligned: one 128-bit load per thread instead of four. */
export function vecWidth(d: number): VecWidth {
  return d % 4 === 0 ? 4 : 1;
}

/** WGSL prepended to the norm and modulate kernels: they are written once over `vt`, f32 or vec4<f32>. */
export function vecPrelude(vw: VecWidth): string {
  return vw === 4
    ? 'alias vt = vec4<f32>;\nconst VW: u32 = 4u;\n' +
        'fn hsum(v: vt) -> f32 { return v.x + v.y + v.z + v.w; }\nfn first(v: vt) -> f32 { return v.x; }\n'
    : 'alias vt = f32;\nconst VW: u32 = 1u;\n' + 'fn hsum(v: vt) -> f32 { return v; }\nfn first(v: vt) -> f32 { return v; }\n';
}

const CODE: Record<VecWidth, string> = { 1: vecPrelude(1) + modulateWgsl, 4: vecPrelude(4) + modulateWgsl };

function kernel(entryPoint: string, vw: VecWidth, constants?: Record<string, number>): Kernel {
  return { name: `modulate.${entryPoint}.v${vw}`, code: CODE[vw], entryPoint, constants };
}

const flag = (b: boolean): number => (b ? 1 : 0);

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Rows per part of the colsum kernel: 64 (enough workgroups to fill a big GPU, partials 1/64 of dy; see
 * shaders/modulate.wgsl), more when a group is so long that sum_chunks would loop over more than 256 parts
 * (the q/k RMSNorm weight sums B·T·H ≈ 2e5 rows into Dh = 64 columns: 16 vec4 threads in the second pass).
 */
export function colsumChunking(group: number): { chunk: number; nchunk: number } {
  const chunk = Math.max(64, Math.ceil(group / 256));
  return { chunk, nchunk: Math.max(1, Math.ceil(group / chunk)) };
}

/**
 * Sums over each group of rows: a = Σ dy·xh, b = Σ dy, as [groups, D] (reshaped to `outShape`). xh is x, or
 * the normalised x when the norm's `stats` are given. The gradients of vectors broadcast over rows: dscale and
 * dgate (a), dshift (b), and a norm's dweight (a) and dbias (b) with groups = 1. Pass `want` to skip the final
 * pass of a sum nobody needs. Two passes when a group has more than 64 rows; no float atomics.
 */
export function broadcastGrads(
  dy: Tensor,
  x: Tensor,
  stats: Tensor | null,
  groups: number,
  outShape: Shape,
  want: { a: boolean; b: boolean },
): { a: Tensor | null; b: Tensor | null } {
  const e = dy.engine;
  const d = x.shape[x.shape.length - 1];
  const rows = x.size / d;
  const group = groups > 0 ? rows / groups : 0;
  const vw = vecWidth(d);
  const nv = d / vw;
  const { chunk: chunkRows, nchunk } = colsumChunking(group);
  const nparts = groups * nchunk;
  const direct = nchunk === 1;
  const pa = e.empty(direct ? outShape : [nparts, d], 'colsum.a');
  const pb = e.empty(direct ? outShape : [nparts, d], 'colsum.b');
  if (nparts > 0 && d > 0) {
    const y = Math.min(nparts, 65535);
    e.gpu.dispatch({
      // The tuned reduction variant: 4 row lanes added in workgroup memory (GPUs), or 1 lane and no barrier.
      kernel: kernel('colsum', vw, { NORMED: flag(stats !== null), LANES: e.kernels.reduction === 'serial' ? 1 : 4 }),
      buffers: [dy.buffer, x.buffer, (stats ?? x).buffer, pa.buffer, pb.buffer],
      uniforms: uniforms([['u32', nv], ['u32', group], ['u32', chunkRows], ['u32', nchunk], ['u32', nparts]]),
      workgroups: [Math.ceil(nv / 64), y, Math.ceil(nparts / y)],
      detail: `${dy.describe()} groups ${groups}`,
    });
  }
  const finish = (p: Tensor, wanted: boolean): Tensor | null => {
    if (!wanted) {
      p.release();
      return null;
    }
    if (direct) return p;
    const out = e.empty(outShape, p.name);
    const n = groups * nv;
    e.gpu.dispatch({
      kernel: kernel('sum_chunks', vw),
      buffers: [p.buffer, out.buffer],
      uniforms: uniforms([['u32', n], ['u32', nv], ['u32', nchunk]]),
      workgroups: grid1d(n, 256),
      detail: `${fmtShape(outShape)} from ${nchunk} parts`,
    });
    p.release();
    return out;
  };
  return { a: finish(pa, want.a), b: finish(pb, want.b) };
}

/** y = x·(onePlus ? 1 + a : a) + b + h, a and b [G, D] broadcast over groups of rows (see `bcast` in the WGSL). */
function bcast(x: Tensor, a: Tensor, b: Tensor | null, h: Tensor | null, onePlus: boolean, name: string): Tensor {
  const e = x.engine;
  const d = x.shape[x.shape.length - 1];
  const vw = vecWidth(d);
  const nv = d / vw;
  const groups = a.size / d;
  const y = e.empty(x.shape, name);
  const n = x.size / vw;
  if (n === 0) return y;
  e.gpu.dispatch({
    kernel: kernel('bcast', vw, { ONE_PLUS: flag(onePlus), HAS_B: flag(b !== null), HAS_H: flag(h !== null) }),
    buffers: [x.buffer, a.buffer, (b ?? x).buffer, (h ?? x).buffer, y.buffer],
    uniforms: uniforms([['u32', n], ['u32', nv], ['u32', x.size / d / groups]]),
    workgroups: grid1d(n, 256),
    detail: `${name} ${x.describe()}`,
  });
  return y;
}

/** Checks x [B, T, D] against per-sample vectors [B, D]; returns [B, T, D]. */
export function checkModulation(op: string, x: Tensor, vecs: Record<string, Tensor>): [number, number, number] {
  if (x.shape.length !== 3) throw new RangeError(`${op}: x ${fmtShape(x.shape)} must be [B, T, D]`);
  const [bs, t, d] = x.shape;
  for (const [name, v] of Object.entries(vecs)) {
    if (!sameShape(v.shape, [bs, d])) {
      throw new RangeError(`${op}: ${name} ${fmtShape(v.shape)} does not match x ${fmtShape(x.shape)}: expected ${fmtShape([bs, d])}`);
    }
  }
  return [bs, t, d];
}

// ------------------------------------------------------------------------------------------------- ops

/** adaLN modulation: x·(1 + scale) + shift, x [B, T, D], shift and scale [B, D] broadcast over T. */
export function modulate(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  const [bs] = checkModulation('modulate', x, { shift, scale });
  const y = bcast(x, scale, shift, null, true, 'modulate');
  return record(y, 'modulate', [x, shift, scale], [x, scale], (dy, [xs, sc]) => {
    const dx = x.requiresGrad ? bcast(dy, sc, null, null, true, 'modulate.dx') : null;
    const v = broadcastGrads(dy, xs, null, bs, shift.shape, { a: scale.requiresGrad, b: shift.requiresGrad });
    return [dx, v.b, v.a];
  });
}

/** g·x, x [B, T, D], g [B, D] broadcast over T (gate_msa, gate_mlp). */
export function gate(x: Tensor, g: Tensor): Tensor {
  const [bs] = checkModulation('gate', x, { g });
  const y = bcast(x, g, null, null, false, 'gate');
  return record(y, 'gate', [x, g], [x, g], (dy, [xs, gs]) => {
    const dx = x.requiresGrad ? bcast(dy, gs, null, null, false, 'gate.dx') : null;
    const dg = g.requiresGrad ? broadcastGrads(dy, xs, null, bs, g.shape, { a: true, b: false }).a : null;
    return [dx, dg];
  });
}

/** h + g·x: SD3's `hidden_states = hidden_states + gate.unsqueeze(1) * out`; h and x [B, T, D], g [B, D]. */
export function gatedResidual(h: Tensor, x: Tensor, g: Tensor): Tensor {
  const [bs] = checkModulation('gatedResidual', x, { g });
  if (!sameShape(h.shape, x.shape)) throw new RangeError(`gatedResidual: h ${fmtShape(h.shape)} does not match x ${fmtShape(x.shape)}`);
  const y = bcast(x, g, null, h, false, 'gatedResidual');
  return record(y, 'gatedResidual', [h, x, g], [x, g], (dy, [xs, gs]) => {
    // dh = dy: a view, no copy (autograd only reads it or accumulates into it after dy's own reference is gone).
    const dh = h.requiresGrad ? dy.detach() : null;
    const dx = x.requiresGrad ? bcast(dy, gs, null, null, false, 'gatedResidual.dx') : null;
    const dg = g.requiresGrad ? broadcastGrads(dy, xs, null, bs, g.shape, { a: true, b: false }).a : null;
    return [dh, dx, dg];
  });
}

/** Chunk `index` of `count` along the last dim: emb [..., count·D] → [..., D] (norm1.linear's 6 modulations). */
export function chunk(emb: Tensor, count: number, index: number): Tensor {
  const wide = emb.shape[emb.shape.length - 1];
  if (emb.shape.length < 1 || !Number.isInteger(count) || count < 1 || wide % count !== 0) {
    throw new RangeError(`chunk: emb ${fmtShape(emb.shape)} does not split into ${count} chunks along its last dim`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`chunk: index ${index} out of [0, ${count}) for emb ${fmtShape(emb.shape)}`);
  const e = emb.engine;
  const d = wide / count;
  const vw = vecWidth(d);
  const shape = [...emb.shape.slice(0, -1), d];
  const run = (entry: 'chunk_fwd' | 'chunk_bwd', src: Tensor, out: Tensor) => {
    const n = out.size / vw;
    if (n === 0) return;
    e.gpu.dispatch({
      kernel: kernel(entry, vw),
      buffers: [src.buffer, out.buffer],
      uniforms: uniforms([['u32', n], ['u32', d / vw], ['u32', count], ['u32', index]]),
      workgroups: grid1d(n, 256),
      detail: `${emb.describe()} ${index}/${count}`,
    });
  };
  const y = e.empty(shape, `chunk${index}`);
  run('chunk_fwd', emb, y);
  return record(y, 'chunk', [emb], [], (dy) => {
    const g = e.empty(emb.shape, 'chunk.grad');
    run('chunk_bwd', dy, g);
    return [g];
  });
}

// ------------------------------------------------------------------------------------------------- traffic

/** DRAM bytes of one call, each tensor read or written once (forward; backward with every input needing grad). */
export interface Traffic {
  forward: number;
  backward: number;
}

/** Bytes of broadcastGrads over [rows, D] into [groups, D] (both sums; partials when a group has > 64 rows). */
export function broadcastGradsBytes(rows: number, d: number, groups: number, normed: boolean): number {
  const { nchunk } = colsumChunking(rows / groups);
  const read = 2 * rows * d + (normed ? 4 * rows : 0);
  const partials = 2 * groups * nchunk * d;
  return 4 * (read + partials + (nchunk > 1 ? partials + 2 * groups * d : 0));
}

/** modulate, gate, gatedResidual on x [B, T, D]. */
export function modulateBytes(shape: Shape, op: 'modulate' | 'gate' | 'gatedResidual'): Traffic {
  const [bs, t, d] = shape;
  const act = bs * t * d;
  const vec = bs * d;
  const vecs = op === 'modulate' ? 2 : 1;
  const acts = op === 'gatedResidual' ? 3 : 2; // read x (and h), write y
  return {
    forward: 4 * (acts * act + vecs * vec),
    // dx: read dy, write dx; the vectors' sums; gatedResidual's dh is a view of dy (no traffic).
    backward: 4 * (2 * act + vec) + broadcastGradsBytes(bs * t, d, bs, false),
  };
}

/** chunk: [rows, count·D] → [rows, D]. */
export function chunkBytes(rows: number, d: number, count: number): Traffic {
  return { forward: 4 * 2 * rows * d, backward: 4 * (rows * d + rows * count * d) };
}
