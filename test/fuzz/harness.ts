// Shared pieces of the untrusted-input fuzz tests: a seeded mutator of byte strings and JSON values, and the
// rule every entry point that takes a user's bytes must keep: it returns in-bounds data, or it throws an Error
// of the project's own (a message that says what was wrong), never a JavaScript engine error.
import { expect } from 'vitest';

/** mulberry32: small, seeded, fast; the fuzz corpus is the same on every run and machine. */
export class FuzzRandom {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

// Values that sit on the edges parsers get wrong: sizes, signs, the ends of integer ranges.
const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 10000, 65535];

/** One random byte-level mutation of `input` (flip, set, insert, delete, truncate, duplicate a slice, edge values). */
export function mutateBytes(input: Uint8Array, r: FuzzRandom): Uint8Array {
  const b = Array.from(input);
  const at = () => r.int(Math.max(1, b.length));
  switch (r.int(8)) {
    case 0: // bit flip
      if (b.length) b[at()] ^= 1 << r.int(8);
      break;
    case 1: // random byte
      if (b.length) b[at()] = r.int(256);
      break;
    case 2: // insert random bytes
      b.splice(at(), 0, ...Array.from({ length: 1 + r.int(8) }, () => r.int(256)));
      break;
    case 3: // delete a run
      b.splice(at(), 1 + r.int(16));
      break;
    case 4: // truncate
      b.length = r.int(b.length + 1);
      break;
    case 5: { // duplicate a slice somewhere else
      const s = at();
      const slice = b.slice(s, s + 1 + r.int(32));
      b.splice(at(), 0, ...slice);
      break;
    }
    case 6: { // an edge value, little or big endian
      const v = r.pick(INTERESTING_U32);
      const p = at();
      const bytes = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
      if (r.int(2)) bytes.reverse();
      for (let i = 0; i < 4 && p + i < b.length; i++) b[p + i] = bytes[i];
      break;
    }
    default: // an ASCII digit, quote or bracket: the characters JSON headers are made of
      if (b.length) b[at()] = r.pick([0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x30, 0x39, 0x65, 0x6e]);
  }
  return Uint8Array.from(b);
}

/** `n` mutations in a row (1 to n chosen at random). */
export function mutateBytesN(input: Uint8Array, r: FuzzRandom, n = 3): Uint8Array {
  let out = input;
  for (let i = 1 + r.int(n); i > 0; i--) out = mutateBytes(out, r);
  return out;
}

const JSON_EDGE_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -0, NaN, '', 'x', '../../etc/passwd', '/abs', 'C:\\x', [], {}, [[[]]], { a: null }, 2 ** 53, '12'];

/** One structural mutation of a JSON value: replace, delete or nest a random node, or change its type. */
export function mutateJson(value: unknown, r: FuzzRandom): unknown {
  const copy = structuredClone(value) as unknown;
  const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  (function walk(v: unknown) {
    if (v && typeof v === 'object') {
      for (const k of Object.keys(v as object)) {
        nodes.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
        walk((v as Record<string, unknown>)[k]);
      }
    }
  })(copy);
  if (!nodes.length) return r.pick(JSON_EDGE_VALUES);
  const { parent, key } = r.pick(nodes);
  const p = parent as Record<string | number, unknown>;
  switch (r.int(4)) {
    case 0:
      p[key] = structuredClone(r.pick(JSON_EDGE_VALUES));
      break;
    case 1:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
      break;
    case 2: // nest deeply: the stack-overflow class of bugs
      p[key] = deepNest(p[key], 1 + r.int(r.int(2) ? 20 : 6000));
      break;
    default: // change the type: number <-> string, array <-> object
      p[key] = typeof p[key] === 'number' ? String(p[key]) : Array.isArray(p[key]) ? { ...(p[key] as unknown[]) } : typeof p[key] === 'string' ? Number(p[key]) || -7 : [p[key]];
  }
  return copy;
}

export function deepNest(v: unknown, depth: number): unknown {
  let out = v;
  for (let i = 0; i < depth; i++) out = [out];
  return out;
}

// JavaScript's own errors mean the parser trusted its input; every refusal must be the project's words.
const ENGINE_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/** Checks the outcome of one fuzz input: either a value or an Error of the project's own with a message. */
export function checkRefusal(error: unknown, label: string): void {
  if (!(error instanceof Error)) throw new Error(`${label}: threw a non-Error ${String(error)}`);
  const engine = ENGINE_ERRORS.find((E) => error.constructor === E);
  if (engine || !error.message.trim() || /\(\)\s*$/.test(error.message)) {
    throw new Error(`${label}: ${error.constructor.name}: ${error.message}\n${error.stack?.split('\n').slice(0, 6).join('\n')}`);
  }
}

/** Runs `parse` on each input; returns the count accepted, and fails on the first engine error with its input. */
export async function fuzz(
  label: string,
  inputs: Iterable<Uint8Array>,
  parse: (bytes: Uint8Array) => unknown | Promise<unknown>,
  opts: {
    accept?: (value: unknown, bytes: Uint8Array) => void;
    maxBytesPerInputByte?: number;
    /** Allowed on top of the per-byte bound: a number, or per input (a decoded image's declared-and-allowed size). */
    extraBytes?: number | ((value: unknown, bytes: Uint8Array) => number);
  } = {},
): Promise<{ accepted: number; refused: number }> {
  let accepted = 0;
  let refused = 0;
  let i = 0;
  for (const bytes of inputs) {
    const name = `${label} #${i++} (${bytes.length} bytes)`;
    let value: unknown;
    try {
      value = await parse(bytes);
    } catch (error) {
      checkRefusal(error, name);
      refused++;
      continue;
    }
    accepted++;
    const held = heldBytes(value);
    const extra = typeof opts.extraBytes === 'function' ? opts.extraBytes(value, bytes) : (opts.extraBytes ?? 0);
    const bound = (opts.maxBytesPerInputByte ?? 16) * bytes.length + extra + 4096;
    expect(held, `${name}: parsed data holds ${held} bytes, over the bound ${bound}`).toBeLessThanOrEqual(bound);
    opts.accept?.(value, bytes);
  }
  return { accepted, refused };
}

/** Bytes held by typed arrays reachable from a parsed value (what a decoder allocated for its result). */
export function heldBytes(root: unknown): number {
  // A walk with its own stack: parsed values may nest deeper than the call stack goes.
  const seen = new Set<unknown>();
  const todo: unknown[] = [root];
  let n = 0;
  while (todo.length) {
    const value = todo.pop();
    if (!value || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value)) n += value.byteLength;
    else if (value instanceof ArrayBuffer) n += value.byteLength;
    else todo.push(...(value instanceof Map ? value.values() : Object.values(value as object)));
  }
  return n;
}
