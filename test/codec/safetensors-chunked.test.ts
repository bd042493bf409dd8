// The chunked safetensors reader (header first, each tensor's bytes when asked) against the whole-file reader:
// the same tensors from F32, F16 and BF16 files, in memory, from a Blob and from disk by range; only the
// asked-for bytes are read; malformed headers are refused with the whole-file reader's messages and the file's name.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_HEADER_BYTES, readSafetensors, SafetensorsError, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { blobSource, bytesSource, ChunkedSafetensors, type ByteSource } from '../../src/codec/safetensors-chunked';
import { openFileSource } from '../../src/io/node-byte-source';
import { bf16File } from '../io/tuned-fixtures';
import { rand } from '../tensor/harness';

const TENSORS = new Map<string, TensorToWrite>([
  ['transformer_blocks.0.attn.to_q.weight', { shape: [6, 5], data: Float32Array.from(rand(30, 1)) }],
  ['transformer_blocks.0.attn.to_q.bias', { shape: [6], data: Float32Array.from(rand(6, 2)) }],
  ['pos_embed.proj.weight', { shape: [4, 3, 2, 2], data: Float32Array.from(rand(48, 3)) }],
  ['empty', { shape: [0, 3], data: new Float32Array(0) }],
]);

/** Counts the bytes a reader asks for. */
function counting(source: ByteSource): ByteSource & { bytesRead: number } {
  const s = {
    name: source.name,
    size: source.size,
    bytesRead: 0,
    read: async (begin: number, end: number) => {
      s.bytesRead += end - begin;
      return source.read(begin, end);
    },
  };
  return s;
}

async function expectSameAsWhole(bytes: Uint8Array, source: ByteSource): Promise<void> {
  const whole = readSafetensors(bytes);
  const st = await ChunkedSafetensors.open(source);
  expect(st.names().sort()).toEqual([...whole.tensors.keys()].sort());
  expect(st.metadata).toEqual(whole.metadata);
  for (const [name, t] of whole.tensors) {
    const c = await st.read(name);
    expect(c.dtype).toBe(t.dtype);
    expect(c.shape).toEqual(t.shape);
    expect(Array.from(c.data)).toEqual(Array.from(t.data));
  }
}

/** A file from a raw header object and data bytes (for malformed cases). */
function rawFile(header: unknown, data = new Uint8Array(0), headerLen?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('chunked safetensors reader', () => {
  it('reads the same tensors as the whole-file reader: F32, F16 and BF16, from memory, a Blob and disk', async () => {
    const files = { f32: writeSafetensors(TENSORS, { format: 'pt' }, 'F32'), f16: writeSafetensors(TENSORS, {}, 'F16'), bf16: bf16File(TENSORS) };
    const dir = mkdtempSync(join(tmpdir(), 'soar-chunked-'));
    for (const [kind, bytes] of Object.entries(files)) {
      await expectSameAsWhole(bytes, bytesSource(bytes, kind));
      await expectSameAsWhole(bytes, blobSource(new Blob([bytes.slice()]), kind));
      const path = join(dir, `${kind}.safetensors`);
      writeFileSync(path, bytes);
      const disk = await openFileSource(path);
      await expectSameAsWhole(bytes, disk);
      await disk.close();
    }
    // BF16 keeps float32's exponent: values come back within its 8-bit mantissa.
    const bf = await (await ChunkedSafetensors.open(bytesSource(files.bf16))).read('transformer_blocks.0.attn.to_q.weight');
    expect(bf.dtype).toBe('BF16');
    const src = TENSORS.get('transformer_blocks.0.attn.to_q.weight')!.data;
    bf.data.forEach((v, i) => expect(Math.abs(v - src[i])).toBeLessThanOrEqual(Math.abs(src[i]) * 2 ** -8));
  });

  it('reads a tensor past 2 GiB from disk, where readFileSync refuses the file (a sparse file: no disk used)', async () => {
    const gap = 2 ** 31 + 1024; // a U8 filler tensor (as a 5 GB transformer's other weights would be)
    const w = Float32Array.from([1.5, -2, 3.25]);
    const header = new TextEncoder().encode(JSON.stringify({ filler: { dtype: 'U8', shape: [gap], data_offsets: [0, gap] }, w: { dtype: 'F32', shape: [3], data_offsets: [gap, gap + 12] } }));
    const path = join(mkdtempSync(join(tmpdir(), 'soar-big-')), 'big.safetensors');
    const fd = openSync(path, 'w');
    try {
      const prefix = new Uint8Array(8);
      new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
      writeSync(fd, prefix, 0, 8, 0);
      writeSync(fd, header, 0, header.length, 8);
      ftruncateSync(fd, 8 + header.length + gap);
      writeSync(fd, new Uint8Array(w.buffer), 0, 12, 8 + header.length + gap);
    } finally {
      closeSync(fd);
    }
    try {
      expect(() => readFileSync(path)).toThrow(/2 GiB|File size .* is greater/);
      const source = await openFileSource(path);
      const st = await ChunkedSafetensors.open(source);
      expect(Array.from((await st.read('w')).data)).toEqual([1.5, -2, 3.25]);
      await source.close();
    } finally {
      rmSync(path);
    }
  });

  it('reads the header, then only the bytes of the tensor asked for', async () => {
    const bytes = writeSafetensors(TENSORS);
    const source = counting(bytesSource(bytes));
    const st = await ChunkedSafetensors.open(source);
    const headerBytes = st.header.dataStart;
    expect(source.bytesRead).toBe(8 + headerBytes);
    await st.read('transformer_blocks.0.attn.to_q.bias');
    expect(source.bytesRead - 8 - headerBytes).toBe(6 * 4);
  });

  it('a header length over the limit is refused after reading 8 bytes', async () => {
    const source = counting(bytesSource(rawFile({}, new Uint8Array(8), BigInt(MAX_HEADER_BYTES) + 1n), 'big.safetensors'));
    await expect(ChunkedSafetensors.open(source)).rejects.toThrow(/big\.safetensors: header length \d+ is over the .* limit/);
    expect(source.bytesRead).toBe(8);
  });

  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['an empty file', () => new Uint8Array(3), /too short/],
    ['a header length past the end (truncated header)', () => rawFile(ok, new Uint8Array(8), 10_000n), /runs past the end of the file .* truncated/],
    ['tensor data past the end (truncated data)', () => rawFile(ok, new Uint8Array(4)), /run past the data section .* truncated/],
    ['offsets out of range', () => rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [64, 72] } }, new Uint8Array(8)), /run past the data section/],
    ['overlapping tensors', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /"a" and "b" overlap/],
    ['a shape that does not fit its offsets', () => rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(16)), /needs 12 bytes but data_offsets span 8/],
    ['a header that is not JSON', () => new Uint8Array([...new Uint8Array(new BigUint64Array([4n]).buffer), 0x7b, 0x7b, 0x7b, 0x7b]), /not valid UTF-8 JSON/],
  ];
  it.each(cases)('refuses %s, naming the file', async (_name, make, message) => {
    const bytes = make();
    expect(() => readSafetensors(bytes)).toThrow(message); // the same refusal as the whole-file reader
    const err = await ChunkedSafetensors.open(bytesSource(bytes, 'tuned.safetensors')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toMatch(/^tuned\.safetensors: /);
    expect((err as Error).message).toMatch(message);
  });

  it('an unsupported dtype is refused when read; a file that shrank since it was opened says so', async () => {
    const st = await ChunkedSafetensors.open(bytesSource(rawFile({ i: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'x.safetensors'));
    await expect(st.read('i')).rejects.toThrow(/x\.safetensors: tensor "i": dtype I64 is not supported \(F32, F16 and BF16 are\)/);
    await expect(st.read('nope')).rejects.toThrow(/there is no tensor "nope"/);
    const bytes = writeSafetensors(TENSORS);
    const shrinking: ByteSource = { name: 's.safetensors', size: bytes.length, read: async (b, e) => bytes.subarray(b, Math.min(e, bytes.length - 4)) };
    const s = await ChunkedSafetensors.open(shrinking);
    const last = s.header.entries.reduce((a, b) => (b.end > a.end ? b : a));
    await expect(s.read(last.name)).rejects.toThrow(/data is truncated/);
  });
});
