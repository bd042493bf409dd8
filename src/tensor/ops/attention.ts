// Fused multi-head scaled-dot-product attention (non-causal), forward and backward.
// Kernels: shaders/attention_fwd.wgsl, shaders/attention_bwd.wgsl; reference: reference/attention.ts.
//
// q: [B, Tq, H·Dh], k and v: [B, Tk, H·Dh], heads interleaved in channels exactly as diffusers'
// `to_q(x).view(B, T, H, Dh)`, so no transpose is ever materialised. SD3's joint attention concatenates image
// and context tokens along T before calling this.
import fwdWgsl from '../../../shaders/attention_fwd.wgsl?raw';
import bwdWgsl from '../../../shaders/attention_bwd.wgsl?raw';
import rowsWgsl from '../../../shaders/attention_rows.wgsl?raw';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import { fmtShape, type Tensor } from '../tensor';
import type { AttentionVariant } from '../kernels';

export interface AttentionOptions {
  /** Multiplies q·k before the softmax; default 1/sqrt(Dh). */
  scale?: number;
}

// Variants ('flash' | 'rows', src/tensor/kernels.ts): 'flash' keeps FlashAttention-2 tiles in workgroup memory
// and no Tq×Tk matrix (any length; what GPUs run fastest); 'rows' runs one thread per row with P and dS kept in
// memory and no barrier (short sequences on software adapters); see shaders/attention_rows.wgsl.
export type { AttentionVariant } from '../kernels';

/** Largest B·H·Tq·Tk the 'rows' variant takes (P and dS: 16 MiB each); longer sequences run 'flash'. */
export const ROWS_MAX_SCORES = 1 << 22;

/** The variant a call runs: the engine's tuned choice for short sequences, 'flash' past the size limit or
 *  when Dh is not a multiple of 4 ('rows' reads rows as vec4s). */
export function pickAttention(preferred: AttentionVariant, batch: number, heads: number, tq: number, tk: number, dh: number): AttentionVariant {
  return preferred === 'rows' && batch * heads * tq * tk <= ROWS_MAX_SCORES && dh % 4 === 0 ? 'rows' : 'flash';
}

/**
 * Largest supported head dimension. Registers, not workgroup memory, set it: a forward thread keeps its q
 * and O rows (2·Dh floats) plus 32 scores, i.e. 160 of the 255/256 registers NVIDIA/AMD give a thread at
 * Dh = 64. Up to 128 still works (the tiles shrink to stay in 16 KiB) but spills registers on most GPUs;
 * past that the tile would drop below 8 rows and the rows would not fit in registers at all.
 */
export const MAX_HEAD_DIM = 128;

/** Workgroup memory the kernels may use: WebGPU's guaranteed minimum, see the shader headers. */
const WORKGROUP_BYTES = 16 * 1024;
/** Rows owned per workgroup (forward queries, dq queries, dkdv keys): see the shader headers. */
const OWNED_ROWS = 64;
const LOG2E = Math.LOG2E;
/** 'rows' variant: threads (rows) per workgroup; no shared memory, so only the dispatch granularity. */
const ROWS_WG = 64;

/** FLOPs of one call: forward 4·B·H·Tq·Tk·Dh (QKᵀ and PV); backward 2.5× that (the five products of the
 *  algorithm; the kernels execute 3.5× because dQ and dK/dV each recompute S and dP). */
export function attentionFlops(batch: number, heads: number, tq: number, tk: number, dh: number): { forward: number; backward: number } {
  const forward = 4 * batch * heads * tq * tk * dh;
  return { forward, backward: 2.5 * forward };
}

interface Dims {
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  dh: number;
}

/** Largest tile (≤ 32 rows, a power of two) whose workgroup memory, at `bytesPerRow`, fits the budget. */
function tileRows(bytesPerRow: number): number {
  let t = 32;
  while (t > 1 && t * bytesPerRow > WORKGROUP_BYTES) t /= 2;
  return t;
}

/** The consts the shaders expect, prepended to the code (function-scope arrays need const sizes). */
function variant(dh: number) {
  const dh4 = Math.ceil(dh / 4);
  const fwd = { DH4: dh4, BQ: OWNED_ROWS, BK: tileRows(2 * dh4 * 16) }; // K and V rows as vec4s
  const tile = tileRows(2 * dh4 * 16 + 2 * OWNED_ROWS * 4); // two staged rows + a P and a dP column: 16 at Dh ≤ 64
  const bwd = { DH4: dh4, DH4H: Math.ceil(dh4 / 2), DQ_ROWS: OWNED_ROWS, DQ_KEYS: tile, DKV_KEYS: OWNED_ROWS, DKV_ROWS: tile };
  const header = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join('');
  const tag = (c: Record<string, number>) => Object.values(c).join('_');
  return {
    fwd: { name: `attention_fwd_${tag(fwd)}`, code: header(fwd) + fwdWgsl },
    bwd: { name: `attention_bwd_${tag(bwd)}`, code: header(bwd) + bwdWgsl },
    rows: { name: `attention_rows_${dh4}`, code: header({ DH4: dh4 }) + unrollHeadDim(rowsWgsl, dh4) },
  };
}

/**
 * Unrolls the 'rows' kernels' loops over the head dimension (see shaders/attention_rows.wgsl): each
 * `var x: array<vec4f, DH4>;` becomes DH4 named vec4s and each one-line `for (var d4 ...) { body }` becomes DH4
 * copies of its body with d4 a literal, so no array is indexed by a variable.
 */
export function unrollHeadDim(code: string, dh4: number): string {
  const arrays = new Set<string>();
  const copies = (f: (i: number) => string) => Array.from({ length: dh4 }, (_, i) => f(i));
  return code
    .split('\n')
    .map((line) => {
      const decl = /^(\s*)var (\w+): array<vec4f, DH4>;\s*$/.exec(line);
      if (decl) {
        arrays.add(decl[2]);
        return decl[1] + copies((i) => `var ${decl[2]}_${i}: vec4f;`).join(' ');
      }
      const loop = /^(\s*)for \(var d4 = 0u; d4 < DH4; d4\+\+\) \{ (.*) \}\s*$/.exec(line);
      if (!loop) return line;
      const body = loop[2];
      return copies((i) => loop[1] + body.replace(/(\w+)\[d4\]/g, (m, name: string) => (arrays.has(name) ? `${name}_${i}` : m)).replace(/\bd4\b/g, `${i}u`)).join('\n');
    })
    .join('\n');
}

const variants = new Map<number, ReturnType<typeof variant>>();
function kernels(dh: number) {
  let v = variants.get(dh);
  if (!v) variants.set(dh, (v = variant(dh)));
  return v;
}

function checkShapes(q: Tensor, k: Tensor, v: Tensor, heads: number): Dims {
  const all = `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}, heads ${heads}`;
  if (q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3) {
    throw new RangeError(`attention: q, k and v must be [B, T, H·Dh]; got ${all}`);
  }
  const [batch, tq, c] = q.shape;
  const [kb, tk, kc] = k.shape;
  if (v.shape[0] !== kb || v.shape[1] !== tk || v.shape[2] !== kc) throw new RangeError(`attention: k and v shapes differ; got ${all}`);
  if (kb !== batch) throw new RangeError(`attention: batch sizes differ; got ${all}`);
  if (kc !== c) throw new RangeError(`attention: q and k/v channel counts differ; got ${all}`);
  if (!Number.isInteger(heads) || heads < 1 || c % heads !== 0) throw new RangeError(`attention: channels are not a multiple of heads; got ${all}`);
  const dh = c / heads;
  if (dh < 1 || dh > MAX_HEAD_DIM) throw new RangeError(`attention: head dim ${dh} outside 1..${MAX_HEAD_DIM}; got ${all}`);
  if (tk < 1 && batch * tq > 0) throw new RangeError(`attention: no keys to attend to; got ${all}`);
  return { batch, heads, tq, tk, dh };
}

function params(d: Dims, scale: number, withScale: boolean): ArrayBuffer {
  const f: Array<['u32' | 'f32', number]> = [['u32', d.tq], ['u32', d.tk], ['u32', d.heads], ['u32', d.dh], ['f32', scale * LOG2E]];
  if (withScale) f.push(['f32', scale]);
  return uniforms(f);
}

/** The forward without the tape: O and the logsumexp L [B, H, Tq] (what the backward needs). */
export function attentionForward(q: Tensor, k: Tensor, v: Tensor, heads: number, opts: AttentionOptions = {}): { out: Tensor; lse: Tensor } {
  const d = checkShapes(q, k, v, heads);
  const e = q.engine;
  const scale = opts.scale ?? 1 / Math.sqrt(d.dh);
  const out = e.empty(q.shape, 'attention');
  const lse = e.empty([d.batch, d.heads, d.tq], 'attention.lse');
  if (out.size > 0) {
    e.gpu.dispatch({
      kernel: kernels(d.dh).fwd,
      buffers: [q.buffer, k.buffer, v.buffer, out.buffer, lse.buffer],
      uniforms: params(d, scale, false),
      workgroups: [Math.ceil(d.tq / OWNED_ROWS), d.heads, d.batch],
      detail: `q${fmtShape(q.shape)} k${fmtShape(k.shape)} heads ${heads}`,
    });
  }
  return { out, lse };
}

/** Gradients for q, k, v from the forward's inputs, output and logsumexp; skips the kernel nobody needs. */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  lse: Tensor,
  dOut: Tensor,
  heads: number,
  opts: AttentionOptions & { needQ?: boolean; needKV?: boolean } = {},
): { dq: Tensor | null; dk: Tensor | null; dv: Tensor | null } {
  const d = checkShapes(q, k, v, heads);
  if (dOut.size !== out.size || out.size !== q.size) {
    throw new RangeError(`attention backward: gradient ${dOut.describe()} / output ${out.describe()} do not match q ${fmtShape(q.shape)}`);
  }
  const e = q.engine;
  const scale = opts.scale ?? 1 / Math.sqrt(d.dh);
  const { needQ = true, needKV = true } = opts;
  const kern = kernels(d.dh).bwd;
  const detail = `q${fmtShape(q.shape)} k${fmtShape(k.shape)} heads ${heads}`;
  const dq = needQ ? e.empty(q.shape, 'attention.dq') : null;
  const dk = needKV ? e.empty(k.shape, 'attention.dk') : null;
  const dv = needKV ? e.empty(v.shape, 'attention.dv') : null;
  const rows = d.batch * d.heads * d.tq;
  if (rows === 0) {
    // No queries: nothing attends to the keys, so their gradients are zero.
    if (dk) e.fill(dk, 0);
    if (dv) e.fill(dv, 0);
    return { dq, dk, dv };
  }
  const dsum = e.empty([d.batch, d.heads, d.tq], 'attention.D');
  e.gpu.dispatch({
    kernel: { ...kern, entryPoint: 'rowdot' },
    buffers: [dOut.buffer, out.buffer, dsum.buffer],
    uniforms: uniforms([['u32', rows], ['u32', d.tq], ['u32', d.heads], ['u32', d.dh]]),
    workgroups: grid1d(rows, 64),
    detail,
  });
  const shared = [q.buffer, k.buffer, v.buffer, dOut.buffer, lse.buffer, dsum.buffer];
  if (dq) {
    e.gpu.dispatch({
      kernel: { ...kern, entryPoint: 'dq' },
      buffers: [...shared, dq.buffer],
      uniforms: params(d, scale, true),
      workgroups: [Math.ceil(d.tq / OWNED_ROWS), d.heads, d.batch],
      detail,
    });
  }
  if (dk && dv) {
    e.gpu.dispatch({
      kernel: { ...kern, entryPoint: 'dkdv' },
      buffers: [...shared, dk.buffer, dv.buffer],
      uniforms: params(d, scale, true),
      workgroups: [Math.ceil(d.tk / OWNED_ROWS), d.heads, d.batch],
      detail,
    });
  }
  dsum.release(); // safe: the pool hands it out again only to later work in stream order
  return { dq, dk, dv };
}

/**
 * softmax(scale·Q·Kᵀ)·V per head: q [B, Tq, H·Dh], k and v [B, Tk, H·Dh] → [B, Tq, H·Dh]. Runs the engine's
 * tuned variant (`engine.kernels.attention`, or `variant` when given): 'flash' records a backward that
 * recomputes P from q, k and the saved logsumexp; 'rows' keeps P for its backward.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, heads: number, opts: AttentionOptions & { variant?: AttentionVariant } = {}): Tensor {
  const d = checkShapes(q, k, v, heads);
  const variant = pickAttention(opts.variant ?? q.engine.kernels.attention, d.batch, d.heads, d.tq, d.tk, d.dh);
  if (variant === 'rows') return attentionRows(q, k, v, d, opts);
  const { out, lse } = attentionForward(q, k, v, heads, opts);
  const needQ = q.requiresGrad;
  const needKV = k.requiresGrad || v.requiresGrad;
  record(out, 'attention', [q, k, v], [q, k, v, out, lse], (g, [qs, ks, vs, os, ls]) => {
    const r = attentionBackward(qs, ks, vs, os, ls, g, heads, { ...opts, needQ, needKV });
    // dK and dV come from one kernel; drop the one no input wants.
    if (!k.requiresGrad) r.dk?.release();
    if (!v.requiresGrad) r.dv?.release();
    return [r.dq, k.requiresGrad ? r.dk : null, v.requiresGrad ? r.dv : null];
  });
  lse.release(); // the tape holds its own reference when a backward will need it
  return out;
}

/** The 'rows' variant: forward (O, P) in one dispatch; backward dQ (+ dS), then dK/dV. */
function attentionRows(q: Tensor, k: Tensor, v: Tensor, d: Dims, opts: AttentionOptions): Tensor {
  const e = q.engine;
  const scale = opts.scale ?? 1 / Math.sqrt(d.dh);
  const kern = kernels(d.dh).rows;
  const detail = `rows q${fmtShape(q.shape)} k${fmtShape(k.shape)} heads ${d.heads}`;
  const p = uniforms([['u32', d.tq], ['u32', d.tk], ['u32', d.heads], ['u32', d.dh], ['f32', scale]]);
  const out = e.empty(q.shape, 'attention');
  if (out.size === 0) return out;
  const prob = e.empty([d.batch, d.heads, d.tq, d.tk], 'attention.P');
  const lse = e.empty([d.batch, d.heads, d.tq], 'attention.lse');
  // One dispatch of an entry point over `rows` rows per head, binding each tensor at its binding number
  // (the entry points share bindings 0-3 and differ past them; the uniform is binding 3).
  const run = (entryPoint: string, rows: number, bound: Array<[number, Tensor]>) =>
    e.gpu.dispatch({
      kernel: { ...kern, entryPoint, constants: { WG: ROWS_WG } },
      buffers: bound.map(([, t]) => t.buffer),
      bindings: bound.map(([b]) => b),
      uniforms: p,
      uniformBinding: 3,
      workgroups: [Math.ceil(rows / ROWS_WG), d.heads, d.batch],
      detail,
    });
  run('fwd', d.tq, [[0, q], [1, k], [2, v], [4, out], [5, lse], [6, prob]]);
  lse.release();
  const needQ = q.requiresGrad;
  const needKV = k.requiresGrad || v.requiresGrad;
  record(out, 'attention', [q, k, v], [q, k, v, out, prob], (g, [qs, ks, vs, os, ps]) => {
    const ds = e.empty(ps.shape, 'attention.dS');
    // dS is needed by dK even when q wants no gradient; dQ is then written to a scratch tensor.
    const dq = e.empty(q.shape, 'attention.dq');
    run('dq_rows', d.tq, [[1, ks], [2, vs], [4, ps], [5, g], [6, os], [7, ds], [8, dq]]);
    let dk: Tensor | null = null;
    let dv: Tensor | null = null;
    if (needKV) {
      dk = e.empty(k.shape, 'attention.dk');
      dv = e.empty(v.shape, 'attention.dv');
      run('dkdv_rows', d.tk, [[0, qs], [4, ps], [5, g], [7, ds], [9, dk], [10, dv]]);
    }
    ds.release();
    if (!needQ) dq.release();
    if (dk && !k.requiresGrad) { dk.release(); dk = null; }
    if (dv && !v.requiresGrad) { dv.release(); dv = null; }
    return [needQ ? dq : null, dk, dv];
  });
  prob.release(); // the tape holds its own reference when a backward will need it
  return out;
}
