// safetensors read and write (https://github.com/huggingface/safetensors format):
//   u64 little-endian header length N | N bytes of JSON header | tensor data
// The header maps names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data start) and
// may hold "__metadata__": {string: string}. Files are untrusted: every length, offset and shape is checked
// before a byte of data is read, and every failure is a SafetensorsError that says what is wrong. The header's
// JSON may not nest deeper than the format needs nor repeat a key (JSON.parse would keep the last one silently).
import { f16ToF32, f32ToF16, bf16ToF32 } from './half';
import { isObject, parseJson, show } from './json';

export type DType = 'F32' | 'F16' | 'BF16';

/** Bytes per element of the dtypes this reader understands. */
const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2 };
/** Other dtypes a file may declare (for a precise error, and for bounds checks). */
const OTHER_DTYPE_BYTES: Record<string, number> = { F64: 8, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };

/** The reference implementation refuses headers over 100 MB; a larger one is a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  dataStart: number;
}

export interface LoadedTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, LoadedTensor>;
  metadata: Record<string, string>;
}

/** Parses and validates the header. `fileBytes` is the total file size (to bounds-check offsets). */
export function parseHeader(bytes: Uint8Array, fileBytes = bytes.byteLength): SafetensorsHeader {
  if (bytes.byteLength < 8) throw new SafetensorsError(`file too short (${bytes.byteLength} bytes): a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit: not a safetensors file, or corrupt`);
  const headerLen = Number(n);
  if (8 + headerLen > fileBytes) throw new SafetensorsError(`header length ${headerLen} runs past the end of the file (${fileBytes} bytes): the file is truncated`);
  if (8 + headerLen > bytes.byteLength) throw new SafetensorsError(`need ${8 + headerLen} bytes to read the header, got ${bytes.byteLength}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch (e) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  const json = parseJson(text, 'header', (m) => {
    throw new SafetensorsError(m.replace('header is not valid JSON', 'header is not valid UTF-8 JSON'));
  });
  if (!isObject(json)) throw new SafetensorsError('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataBytes = fileBytes - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!isObject(raw)) throw new SafetensorsError('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${show(k).slice(1, -1)} must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, raw, dataStart, dataBytes));
  }
  // Offsets must not overlap (the reference also requires them contiguous from 0; we accept gaps).
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new SafetensorsError(`tensors ${show(sorted[i - 1].name)} and ${show(sorted[i].name)} overlap (bytes ${sorted[i].begin - dataStart} < ${sorted[i - 1].end - dataStart})`);
    }
  }
  return { entries, metadata, dataStart };
}

function parseEntry(name: string, raw: unknown, dataStart: number, dataBytes: number): HeaderEntry {
  const where = `tensor ${show(name)}`;
  if (!isObject(raw)) throw new SafetensorsError(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') throw new SafetensorsError(`${where}: missing dtype`);
  const width = (DTYPE_BYTES as Record<string, number>)[dtype] ?? OTHER_DTYPE_BYTES[dtype];
  if (width === undefined) throw new SafetensorsError(`${where}: unknown dtype ${show(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`${where}: shape must be a list of non-negative integers, got ${show(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end], got ${show(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) throw new SafetensorsError(`${where}: data_offsets end ${end} is before begin ${begin}`);
  if (end > dataBytes) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] run past the data section (${dataBytes} bytes): the file is truncated`);
  let count = 1;
  for (const d of shape as number[]) {
    count *= d;
    if (count * width > dataBytes) throw new SafetensorsError(`${where}: shape ${show(shape)} is larger than the file`);
  }
  if (count * width !== end - begin) {
    throw new SafetensorsError(`${where}: shape ${show(shape)} of ${dtype} needs ${count * width} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end };
}

/** Decodes one tensor's bytes to float32 (F16 and BF16 are widened). */
export function decodeTensor(entry: HeaderEntry, bytes: Uint8Array): LoadedTensor {
  if (!(entry.dtype in DTYPE_BYTES)) {
    throw new SafetensorsError(`tensor ${show(entry.name)}: dtype ${entry.dtype} is not supported (F32, F16 and BF16 are)`);
  }
  const dtype = entry.dtype as DType;
  const raw = bytes.subarray(entry.begin, entry.end);
  if (raw.byteLength !== entry.end - entry.begin) throw new SafetensorsError(`tensor ${show(entry.name)}: data is truncated`);
  const count = raw.byteLength / DTYPE_BYTES[dtype];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const data = new Float32Array(count);
  if (dtype === 'F32') for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'F16') for (let i = 0; i < count; i++) data[i] = f16ToF32(view.getUint16(i * 2, true));
  else for (let i = 0; i < count; i++) data[i] = bf16ToF32(view.getUint16(i * 2, true));
  return { dtype, shape: entry.shape, data };
}

export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  const header = parseHeader(bytes);
  const tensors = new Map<string, LoadedTensor>();
  for (const e of header.entries) tensors.set(e.name, decodeTensor(e, bytes));
  return { tensors, metadata: header.metadata };
}

/**
 * The first float tensor holding NaN or ±Infinity, found from the raw bytes (an all-ones exponent) without
 * decoding or allocating: one pass over the data. Null when every value is finite.
 */
export function findNonFinite(bytes: Uint8Array, header: SafetensorsHeader = parseHeader(bytes)): { name: string; index: number } | null {
  for (const e of header.entries) {
    const width = e.dtype === 'F32' ? 4 : e.dtype === 'F16' || e.dtype === 'BF16' ? 2 : 0;
    if (!width) continue;
    const raw = bytes.subarray(e.begin, e.end);
    const n = Math.floor(raw.length / width);
    for (let i = 0; i < n; i++) {
      const hi = raw[i * width + width - 1];
      const lo = raw[i * width + width - 2];
      const nonFinite = e.dtype === 'F16' ? (hi & 0x7c) === 0x7c : (hi & 0x7f) === 0x7f && (lo & 0x80) !== 0;
      if (nonFinite) return { name: e.name, index: i };
    }
  }
  return null;
}

export interface TensorToWrite {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/**
 * Writes tensors (sorted by name, as the reference writer does, so files are reproducible) in F32 or F16.
 * The header is padded with spaces so the data section starts 8-byte aligned.
 */
export function writeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
  dtype: 'F32' | 'F16' = 'F32',
): Uint8Array {
  const list = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const width = DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new SafetensorsError(`metadata ${k} must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of list) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new SafetensorsError(`tensor ${name}: shape [${t.shape.join(', ')}] holds ${count} values, data has ${t.data.length}`);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + count * width] };
    offset += count * width;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const [, t] of list) {
    if (dtype === 'F32') for (let i = 0; i < t.data.length; i++, pos += 4) view.setFloat32(pos, t.data[i], true);
    else for (let i = 0; i < t.data.length; i++, pos += 2) view.setUint16(pos, f32ToF16(t.data[i]), true);
  }
  return out;
}
