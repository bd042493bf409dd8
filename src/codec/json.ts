// Untrusted JSON (file headers, metadata, manifests): parsing with bounded nesting and no duplicate keys, a
// bounded description of any value for error messages, and typed reads of fields that name the field and what
// was found. JSON.parse itself survives any nesting, but JSON.stringify, structuredClone and recursive checks
// overflow the stack near 5,000 levels, and JSON.parse keeps the last of two equal keys silently; so nothing
// deeper than MAX_JSON_DEPTH or with a repeated key gets past parseJson. Pure: no project imports.

/** Every format of this project nests a few levels; 64 leaves room and stays far below any stack limit. */
export const MAX_JSON_DEPTH = 64;

export class JsonFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonFormatError';
  }
}

/** Throws the caller's error for a message (each file format refuses with its own error class and advice). */
export type Fail = (message: string) => never;

const defaultFail: Fail = (m) => {
  throw new JsonFormatError(m);
};

/** Parses `text`; invalid JSON, nesting over MAX_JSON_DEPTH and duplicate keys are refused naming `what`. */
export function parseJson(text: string, what: string, fail: Fail = defaultFail): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail(`${what} is not valid JSON (${clip((e as Error).message, 120)})`);
  }
  const problem = jsonStructureProblem(text);
  if (problem) fail(`${what}: ${problem}`);
  return value;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * Nesting deeper than `maxDepth`, or one key twice in an object, as a message; null when neither. One linear
 * pass over text that JSON.parse accepted (so strings are well formed and brackets balance).
 */
export function jsonStructureProblem(text: string, maxDepth = MAX_JSON_DEPTH): string | null {
  // Per open container: the keys seen so far (objects) or null (arrays).
  const open: Array<Set<string> | null> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      const keys = open[open.length - 1];
      if (!keys) continue;
      let j = i + 1;
      while (isSpace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 0x3a) continue; // a value, not a key
      const raw = text.slice(start, i + 1);
      const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      if (keys.has(key)) return `key ${show(key)} appears twice in one object (a reader would keep only the last)`;
      keys.add(key);
    } else if (c === 0x7b || c === 0x5b) {
      if (open.length >= maxDepth) return `nested more than ${maxDepth} levels deep`;
      open.push(c === 0x7b ? new Set() : null);
    } else if (c === 0x7d || c === 0x5d) open.pop();
  }
  return null;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** A short description of any value for a message: never recursive, never longer than about `max` characters. */
export function show(v: unknown, max = 100): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(clip(v, max));
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const flat = v.length <= 8 && v.every((x) => x === null || typeof x === 'number' || typeof x === 'boolean');
    return flat ? clip(`[${v.join(', ')}]`, max) : `a list of ${v.length}`;
  }
  return typeof v === 'object' ? 'an object' : typeof v;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Typed reads of one JSON object's fields; each refusal names the field's path and what was there. */
export class JsonObject {
  private constructor(
    readonly value: Record<string, unknown>,
    readonly path: string,
    private readonly fail: Fail,
  ) {}

  static of(v: unknown, path: string, fail: Fail = defaultFail): JsonObject {
    if (!isObject(v)) fail(`${path} must be an object, got ${show(v)}`);
    return new JsonObject(v as Record<string, unknown>, path, fail);
  }

  has(k: string): boolean {
    return Object.hasOwn(this.value, k) && this.value[k] !== undefined;
  }

  private bad(k: string, want: string): never {
    return this.fail(`${this.path}.${k} must be ${want}, got ${show(this.value[k])}`);
  }

  str(k: string): string {
    const v = this.value[k];
    return typeof v === 'string' ? v : this.bad(k, 'a string');
  }

  int(k: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value[k];
    return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : this.bad(k, `an integer in [${min}, ${max}]`);
  }

  /** A finite number (JSON has no NaN or Infinity, so a non-number is the only way to be wrong). */
  num(k: string): number {
    const v = this.value[k];
    return typeof v === 'number' && Number.isFinite(v) ? v : this.bad(k, 'a number');
  }

  /** A number, or null (JSON.stringify writes NaN and Infinity as null, so metrics may hold it). */
  numOrNull(k: string): number | null {
    const v = this.value[k];
    return v === null || typeof v === 'number' ? v : this.bad(k, 'a number or null');
  }

  bool(k: string): boolean {
    const v = this.value[k];
    return typeof v === 'boolean' ? v : this.bad(k, 'true or false');
  }

  oneOf<T extends string | null>(k: string, values: readonly T[]): T {
    const v = this.value[k];
    return values.includes(v as T) ? (v as T) : this.bad(k, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
  }

  list(k: string): unknown[] {
    const v = this.value[k];
    return Array.isArray(v) ? v : this.bad(k, 'a list');
  }

  intList(k: string, min = 0, max = Number.MAX_SAFE_INTEGER): number[] {
    const v = this.list(k);
    return v.every((x) => Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max) ? (v as number[]) : this.bad(k, `a list of integers in [${min}, ${max}]`);
  }

  strList(k: string): string[] {
    const v = this.list(k);
    return v.every((x) => typeof x === 'string') ? (v as string[]) : this.bad(k, 'a list of strings');
  }

  obj(k: string): JsonObject {
    return JsonObject.of(this.value[k], `${this.path}.${k}`, this.fail);
  }

  /** Each element of list `k` as an object. */
  objects(k: string): JsonObject[] {
    return this.list(k).map((x, i) => JsonObject.of(x, `${this.path}.${k}[${i}]`, this.fail));
  }
}
