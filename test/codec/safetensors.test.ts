import { describe, expect, it } from 'vitest';
import { MAX_HEADER_BYTES, SafetensorsError, findNonFinite, readSafetensors, writeSafetensors } from '../../src/codec/safetensors';
import { f16ToF32, f32ToF16 } from '../../src/codec/half';

/** An independent minimal reader: only what the format says, no code shared with src/io. */
function minimalRead(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; values: number[] }> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  const out: Record<string, { dtype: string; shape: number[]; values: number[] }> = {};
  for (const [k, v] of Object.entries<any>(header)) {
    if (k === '__metadata__') continue;
    const [b, e] = v.data_offsets;
    const values: number[] = [];
    for (let p = 8 + n + b; p < 8 + n + e; p += 4) values.push(dv.getFloat32(p, true));
    out[k] = { dtype: v.dtype, shape: v.shape, values };
  }
  return out;
}

/** Builds a file from a raw header object and data bytes (for malformed cases). */
function rawFile(header: unknown, data = new Uint8Array(0), headerLen?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 tensors and metadata; header padded with spaces to 8 bytes', () => {
    const tensors = {
      'transformer.b.weight': { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) },
      'transformer.a.weight': { shape: [1], data: Float32Array.from([42]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    };
    const bytes = writeSafetensors(tensors, { format: 'pt', rank: '4' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(bytes[8 + n - 1] === 0x20 || bytes[8 + n - 1] === 0x7d).toBe(true);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt', rank: '4' });
    expect(Array.from(back.tensors.get('transformer.b.weight')!.data)).toEqual(Array.from(tensors['transformer.b.weight'].data));
    expect(back.tensors.get('empty')!.shape).toEqual([0, 4]);
    const indep = minimalRead(bytes);
    expect(indep['transformer.a.weight']).toEqual({ dtype: 'F32', shape: [1], values: [42] });
    expect(Object.keys(indep)).toEqual(['empty', 'transformer.a.weight', 'transformer.b.weight']); // sorted
  });

  it('writes F16 and reads F16/BF16 with conversion', () => {
    const vals = [0, 1, -1, 0.5, 65504, 1e-5, -3.140625];
    const bytes = writeSafetensors({ x: { shape: [vals.length], data: vals } }, {}, 'F16');
    const back = readSafetensors(bytes).tensors.get('x')!;
    expect(back.dtype).toBe('F16');
    vals.forEach((v, i) => expect(Math.abs(back.data[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-7));
    // BF16: 1.0 = 0x3F80, -2.5 = 0xC020
    const data = new Uint8Array([0x80, 0x3f, 0x20, 0xc0]);
    const bf = readSafetensors(rawFile({ y: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, data));
    expect(Array.from(bf.tensors.get('y')!.data)).toEqual([1, -2.5]);
  });

  it('converts halves exactly at representable values and rounds to nearest even', () => {
    for (const v of [0, 1, -2, 0.333251953125, 65504, 6.103515625e-5, 5.960464477539063e-8]) expect(f16ToF32(f32ToF16(v))).toBe(v);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1e6)).toBe(0x7c00); // overflow → inf
    expect(Number.isNaN(f16ToF32(f32ToF16(Number.NaN)))).toBe(true);
  });

  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['empty file', () => new Uint8Array(3), /too short/],
    ['huge header length', () => rawFile(ok, new Uint8Array(8), BigInt(MAX_HEADER_BYTES) + 1n), /over the .* limit/],
    ['header length past the end', () => rawFile(ok, new Uint8Array(8), 10_000n), /truncated/],
    ['non-JSON header', () => rawFile('{"w": nope', new Uint8Array(8)), /not valid UTF-8 JSON/],
    ['header is an array', () => rawFile([1, 2], new Uint8Array(8)), /not a JSON object/],
    ['truncated data', () => rawFile(ok, new Uint8Array(4)), /run past the data section/],
    ['unknown dtype', () => rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /unknown dtype "Q4"/],
    ['unsupported dtype', () => rawFile({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /I64 is not supported/],
    ['shape/size mismatch', () => rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(16)), /needs 12 bytes but data_offsets span 8/],
    ['negative dim', () => rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)), /non-negative integers/],
    ['huge shape', () => rawFile({ w: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 8] } }, new Uint8Array(8)), /larger than the file/],
    ['end before begin', () => rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, new Uint8Array(8)), /before begin/],
    ['overlapping offsets', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /overlap/],
    ['bad offsets type', () => rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: '0-8' } }, new Uint8Array(8)), /data_offsets must be/],
    ['metadata not strings', () => rawFile({ __metadata__: { rank: 4 }, ...ok }, new Uint8Array(8)), /must be a string/],
    ['entry not an object', () => rawFile({ w: 5 }, new Uint8Array(8)), /not an object/],
    ['invalid UTF-8', () => { const f = rawFile('{"w":1}'); f[9] = 0xff; return f; }, /not valid UTF-8/],
    // Was a RangeError (stack overflow) from JSON.stringify in the error message.
    ['a shape nested 5,000 levels', () => rawFile(`{"w":{"dtype":"F32","shape":${'['.repeat(5000)}${']'.repeat(5000)},"data_offsets":[0,8]}}`, new Uint8Array(8)), /header: nested more than 64 levels deep/],
    ['data_offsets nested 5,000 levels', () => rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":${'['.repeat(5000)}0${']'.repeat(5000)}}}`, new Uint8Array(8)), /nested more than 64 levels/],
    ['a shape nested a few levels', () => rawFile({ w: { dtype: 'F32', shape: [[[2]]], data_offsets: [0, 8] } }, new Uint8Array(8)), /shape must be a list of non-negative integers, got a list of 1/],
    ['a tensor named twice', () => rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(8)), /key "w" appears twice in one object/],
    ['a metadata key twice', () => rawFile('{"__metadata__":{"format":"a","format":"b"}}'), /key "format" appears twice/],
  ];
  it('finds NaN and Inf from the raw bytes in F32, F16 and BF16, and nothing in finite data', () => {
    const finite = writeSafetensors({ a: { shape: [3], data: [0, -65504, 3.4e38] }, b: { shape: [2], data: [1e-30, -0] } });
    expect(findNonFinite(finite)).toBeNull();
    expect(findNonFinite(writeSafetensors({ a: { shape: [2], data: [1, 2] }, b: { shape: [3], data: [0, 1, Number.NaN] } }))).toEqual({ name: 'b', index: 2 });
    expect(findNonFinite(writeSafetensors({ h: { shape: [2], data: [0, Number.NEGATIVE_INFINITY] } }, {}, 'F16'))).toEqual({ name: 'h', index: 1 });
    expect(findNonFinite(writeSafetensors({ h: { shape: [1], data: [65504] } }, {}, 'F16'))).toBeNull();
    // BF16 0x7F80 = +Inf, 0xFFC0 = NaN, 0x7F7F = the largest finite.
    expect(findNonFinite(rawFile({ y: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array([0x7f, 0x7f, 0xc0, 0xff])))).toEqual({ name: 'y', index: 1 });
    expect(findNonFinite(rawFile({ y: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array([0x7f, 0x7f])))).toBeNull();
  });

  it.each(cases)('refuses a malformed file: %s', (_name, make, message) => {
    let err: unknown = null;
    try {
      readSafetensors(make());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(String((err as Error).message)).toMatch(message);
  });
});
