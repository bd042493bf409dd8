// Fuzzing every entry point of dataset ingestion that takes a user's bytes: PNG and JPEG decoding, caption
// files, metadata.jsonl, the reference trainer's JSONL, and whole folders through the shared ingest core and the
// Node entries path the CLI uses. Seeded and bounded (a few thousand inputs, seconds). Each input must give
// in-bounds data or the project's own error with a message; the ingestion itself must never throw (a bad file is
// a report line); and what a result holds stays within a fixed multiple of the input's size plus the
// declared-and-allowed image size.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCaptionText, normalizeCaption, pickReferenceCaption } from '../../src/data/ingest/caption';
import { checkImageSize, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../../src/data/ingest/image-header';
import { createJsImageDecoder, decodePng, ingestDataset, IngestReport, type DecodedImage, type IngestResult } from '../../src/data/ingest';
import { firstJsonlObject, parseJsonl } from '../../src/data/ingest/jsonl';
import { entriesFromDirectory } from '../../src/data/ingest/node-entries';
import { memEntries, rawPng, solid, solidJpeg, writeDataset, type FileSpec, type RawPngSpec } from '../data/ingest/fixtures';
import { jpegHeaderOnly, pngWithIdat, withJpegSize, zerosZlib } from '../data/ingest/hostile';
import { checkRefusal, fuzz, FuzzRandom, heldBytes, mutateBytesN, mutateJson } from './harness';

const RES = 8;
const decoder = createJsImageDecoder();
const utf8 = (s: string) => new TextEncoder().encode(s);

// Sizes a header may claim: the edges of the limits, of 16 and 32 bits, and of what decoders index with.
const SIDES = [0, 1, 7, 8, 9, 255, 256, 4096, 8160, MAX_IMAGE_SIDE, MAX_IMAGE_SIDE + 1, 65535, 0x7fffffff, 0xffffffff];

function* generate<T>(seed: number, count: number, make: (r: FuzzRandom, i: number) => T): Generator<T> {
  const r = new FuzzRandom(seed);
  for (let i = 0; i < count; i++) yield make(r, i);
}

/** A decoded image is in bounds: the header's size, within the limits, with exactly its pixels. */
function inBounds(value: unknown, bytes: Uint8Array, mime: 'image/png' | 'image/jpeg'): void {
  const img = value as DecodedImage;
  expect(Number.isInteger(img.width) && Number.isInteger(img.height)).toBe(true);
  expect(img.width >= 1 && img.height >= 1 && img.width <= MAX_IMAGE_SIDE && img.height <= MAX_IMAGE_SIDE).toBe(true);
  expect(img.width * img.height).toBeLessThanOrEqual(MAX_IMAGE_PIXELS);
  expect(img.rgba.length).toBe(img.width * img.height * 4);
  expect(checkImageSize(bytes, mime)).toMatchObject({ width: img.width, height: img.height });
}

/** The RGBA a decoded image may hold on top of the per-byte bound: its declared (and allowed) size. */
const declaredRgba = (value: unknown) => 4 * (value as DecodedImage).width * (value as DecodedImage).height;

const PNG_SEEDS: RawPngSpec[] = [
  { width: 5, height: 4, colorType: 2, depth: 8, samples: Array.from({ length: 60 }, (_, i) => (i * 37) & 0xff), filters: [0, 1, 2, 3, 4] },
  { width: 9, height: 3, colorType: 0, depth: 1, samples: Array.from({ length: 27 }, (_, i) => i & 1) },
  { width: 5, height: 2, colorType: 0, depth: 4, samples: Array.from({ length: 10 }, (_, i) => i), trns: [0, 3] },
  { width: 3, height: 3, colorType: 0, depth: 16, samples: Array.from({ length: 9 }, (_, i) => i * 7000), filters: [4] },
  { width: 4, height: 4, colorType: 3, depth: 2, samples: Array.from({ length: 16 }, (_, i) => i % 3), palette: [[255, 0, 0], [0, 255, 0], [0, 0, 255]], trns: [0, 128] },
  { width: 6, height: 2, colorType: 3, depth: 8, samples: Array.from({ length: 12 }, (_, i) => i % 2), palette: [[1, 2, 3], [4, 5, 6]], filters: [1, 3] },
  { width: 3, height: 4, colorType: 4, depth: 8, samples: Array.from({ length: 24 }, (_, i) => i * 10), filters: [2] },
  { width: 2, height: 3, colorType: 6, depth: 16, samples: Array.from({ length: 24 }, (_, i) => i * 2700), filters: [4, 3] },
  { width: 8, height: 8, colorType: 6, depth: 8, samples: Array.from({ length: 256 }, (_, i) => (i * 13) & 0xff), filters: [0, 1, 2, 3, 4] },
];

/** The seeds as files, plus hostile ones: a bomb and headers that claim more than they hold. */
function pngSeeds(): Uint8Array[] {
  return [...PNG_SEEDS.map(rawPng), solid(12, 9, [200, 100, 50]), pngWithIdat(8, 8, 8, 6, zerosZlib(1 << 20)), pngWithIdat(3000, 3000, 8, 2, zerosZlib(5000))];
}

/** Byte mutations, or a header that claims another size (the CRC is not checked, so it goes straight in). */
function mutatePng(seed: Uint8Array, r: FuzzRandom): Uint8Array {
  if (r.int(4) > 0) return mutateBytesN(seed, r);
  const out = seed.slice();
  const v = new DataView(out.buffer);
  if (out.length >= 24) v.setUint32(16 + 4 * r.int(2), r.pick(SIDES) >>> 0);
  return out;
}

async function jpegSeeds(): Promise<Uint8Array[]> {
  const m = (await import('jpeg-js')) as unknown as { encode?: JpegEncode; default?: { encode: JpegEncode } };
  const encode = (m.encode ?? m.default!.encode) as JpegEncode;
  const gradient = (w: number, h: number, q: number) => {
    const data = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([(i * 7) & 0xff, (i * 3) & 0xff, (i >> 2) & 0xff, 255], i * 4);
    return new Uint8Array(encode({ data, width: w, height: h }, q).data);
  };
  return [gradient(16, 16, 90), gradient(17, 9, 50), gradient(8, 24, 10), await solidJpeg(24, 24, [0, 128, 255]), jpegHeaderOnly(64, 64)];
}
type JpegEncode = (img: { data: Uint8Array; width: number; height: number }, quality: number) => { data: Uint8Array };

function mutateJpeg(seed: Uint8Array, r: FuzzRandom): Uint8Array {
  if (r.int(4) > 0 || seed.length < 30) return mutateBytesN(seed, r);
  return withJpegSize(seed, r.pick(SIDES) & 0xffff, r.pick(SIDES) & 0xffff);
}

describe('fuzz: image decoders', () => {
  it('PNG: the Node decoder (1200 inputs)', async () => {
    const seeds = pngSeeds();
    const inputs = generate(0x5eed_0001, 1200, (r) => mutatePng(r.pick(seeds), r));
    const { accepted, refused } = await fuzz('decodePng', inputs, (b) => decodePng(b), { accept: (v, b) => inBounds(v, b, 'image/png'), extraBytes: declaredRgba });
    // The mutations must reach the decoder's insides, not only its first check.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('JPEG: the Node decoder (600 inputs)', async () => {
    const seeds = await jpegSeeds();
    const inputs = generate(0x5eed_0002, 600, (r) => mutateJpeg(r.pick(seeds), r));
    const { accepted, refused } = await fuzz('jpeg', inputs, (b) => decoder.decode(b, 'image/jpeg'), { accept: (v, b) => inBounds(v, b, 'image/jpeg'), extraBytes: declaredRgba });
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});

/** One JSONL line; a row nested past what JSON.stringify's recursion takes is written by hand, as deep. */
function line(row: unknown): string {
  try {
    return JSON.stringify(row) ?? 'null';
  } catch {
    return `{"file_name":${'['.repeat(6000)}${']'.repeat(6000)},"text":"deep"}`;
  }
}

describe('fuzz: captions and JSONL', () => {
  const captionSeeds = [utf8('\ufeffa red  square\n\tnext line '), new Uint8Array([0x63, 0x61, 0x66, 0xe9]), utf8('日本語のキャプション ✓'), new Uint8Array([0xef, 0xbb, 0xbf, 0xf0, 0x9f, 0x98])];
  const metadata = [
    { file_name: 'a.png', text: 'first' },
    { file_name: 'sub/b.png', text: 'second' },
    { file_name: './a.png', text: 'again' },
    { file_name: '../x.png', text: 'outside' },
    { file_name: 'C:\\a.png', text: 'absolute' },
  ];
  const reference = [
    { md5: 'aa', caption_en: JSON.stringify({ long_caption: 'long', short_caption: 'short' }), bw: 16, bh: 16 },
    { md5: 'bb', caption_en: 'plain', bw: '16', bh: 0 },
    { md5: 'AA', caption_en: '{not json' },
  ];
  const jsonlOf = (rows: unknown[]) => utf8(rows.map(line).join('\n'));

  it('caption files decode to text, whatever their bytes (800 inputs)', async () => {
    const inputs = generate(0x5eed_0003, 800, (r) => mutateBytesN(r.pick(captionSeeds), r, 6));
    await fuzz('caption', inputs, (b) => {
      const { text, encoding } = decodeCaptionText(b);
      expect(typeof normalizeCaption(text)).toBe('string');
      return encoding;
    });
  });

  it('JSONL lines parse or are reported with their line, and captions pick or say why (800 inputs)', async () => {
    const inputs = generate(0x5eed_0004, 800, (r) => {
      const rows = (r.int(2) ? metadata : reference).map((x) => (r.int(3) ? x : mutateJson(x, r)));
      return r.int(2) ? jsonlOf(rows) : mutateBytesN(jsonlOf(rows), r, 6);
    });
    await fuzz('jsonl', inputs, (b) => {
      const parsed = parseJsonl(b);
      firstJsonlObject(b);
      for (const row of parsed.rows) {
        const cap = pickReferenceCaption(row.value.caption_en);
        expect(cap.ok ? typeof cap.text : cap.problem.length > 0).toBeTruthy();
      }
      for (const bad of parsed.bad) expect(bad.line >= 1 && bad.error.length > 0).toBe(true);
      return parsed;
    });
  });

  it('metadata.jsonl and reference JSONL through the ingestion: never a throw, every row accounted (300 inputs)', async () => {
    const img = solid(16, 16, [10, 20, 30]);
    const inputs = generate(0x5eed_0005, 300, (r) => {
      const ref = r.int(2) === 1;
      const rows = (ref ? reference : metadata).map((x) => (r.int(3) ? x : mutateJson(x, r)));
      const bytes = r.int(3) ? jsonlOf(rows) : mutateBytesN(jsonlOf(rows), r, 4);
      return utf8(JSON.stringify({ ref, text: Array.from(bytes) })); // one byte string per input, for fuzz()
    });
    const { refused } = await fuzz('jsonl ingest', inputs, async (b) => {
      const { ref, text } = JSON.parse(new TextDecoder().decode(b)) as { ref: boolean; text: number[] };
      const files: Record<string, FileSpec> = ref
        ? { 'data.jsonl': Uint8Array.from(text), 'aa.png': img, 'bb.png': img, 'img/aa.jpg': img }
        : { 'metadata.jsonl': Uint8Array.from(text), 'a.png': img, 'sub/b.png': img };
      const result = await ingestDataset(memEntries(files), { resolution: RES, decoder });
      checkResult(result, files);
      return result;
    }, { extraBytes: (v) => examplesBytes(v as IngestResult) });
    expect(refused).toBe(0);
  });
});

/** Float32 CHW images at the training resolution: what the examples of a result may hold. */
function examplesBytes(result: IngestResult): number {
  return result.examples.length * 3 * RES * RES * 4;
}

/** An ingest result is in bounds, its report survives JSON, and no image was both taken and skipped. */
function checkResult(result: IngestResult, files: Record<string, FileSpec>): void {
  for (const e of result.examples) {
    expect(e.image.length).toBe(3 * RES * RES);
    expect(e.image.every((x) => x >= -1 && x <= 1)).toBe(true);
    expect(e.caption.length).toBeGreaterThan(0);
  }
  const taken = new Set(result.report.taken);
  expect(taken.size).toBe(result.examples.length);
  for (const s of result.report.skipped) {
    expect(s.message.length).toBeGreaterThan(0);
    if (s.reason !== 'jsonl-parse-error' && s.line === undefined) expect(taken.has(s.path)).toBe(false);
  }
  const text = result.report.toText();
  expect(IngestReport.fromJSON(JSON.parse(JSON.stringify(result.report)) as IngestReport['data']).toText()).toBe(text);
  expect(Object.keys(files).length).toBeGreaterThan(0);
}

// Names a folder may hold: separators of both kinds, one name in two Unicode forms, hidden and system files,
// climbs out of the folder, and names that are only an extension.
const NAMES = [
  'a.png', 'a.txt', 'a\\b.png', 'a/b.png', 'a/b.txt', 'caf\u00e9.png', 'cafe\u0301.png', 'caf\u00e9.txt', '.hidden.png', '__MACOSX/._a.png',
  'sub/../a.png', '../escape.png', './a.caption', 'x.jpg', 'x.txt', 'y.gif', 'y.txt', 'noext', 'metadata.jsonl', 'sub/metadata.jsonl', 'data.jsonl',
  'aa.png', '.png', 'Thumbs.db', 'sub/deep/z.webp', 'sub/deep/z.txt', 'readme.md',
];
const DISK_UNSAFE = (n: string) => n.includes('..') || n.startsWith('./');

describe('fuzz: whole folders', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  async function contents(): Promise<Uint8Array[]> {
    const jsonl = utf8(['{"file_name":"a.png","text":"x"}', '{"file_name":"/a.png","text":"y"}', '{"md5":"aa","caption_en":"z"}'].join('\n'));
    return [...pngSeeds().slice(0, 4), solid(12, 12, [5, 5, 5]), (await jpegSeeds())[0], jpegHeaderOnly(), utf8('a caption'), new Uint8Array(0), jsonl];
  }

  function folder(r: FuzzRandom, pool: Uint8Array[], names: string[]): Record<string, Uint8Array> {
    const files: Record<string, Uint8Array> = {};
    for (let n = 1 + r.int(8); n > 0; n--) {
      const c = r.pick(pool);
      files[r.pick(names)] = r.int(3) ? c : mutateBytesN(c, r, 4);
    }
    return files;
  }

  it('the shared ingest core takes any folder without throwing, in any listing order (400 folders)', async () => {
    const pool = await contents();
    const r = new FuzzRandom(0x5eed_0006);
    for (let i = 0; i < 400; i++) {
      const files = folder(r, pool, NAMES);
      const size = Object.values(files).reduce((n, b) => n + b.length, 0);
      const entries = memEntries(files);
      let result: IngestResult;
      try {
        result = await ingestDataset(entries, { resolution: RES, decoder });
      } catch (error) {
        checkRefusal(error, `folder #${i} ${JSON.stringify(Object.keys(files))}`);
        throw new Error(`folder #${i} ${JSON.stringify(Object.keys(files))}: the ingestion threw ${(error as Error).message}`);
      }
      checkResult(result, files);
      expect(heldBytes(result)).toBeLessThanOrEqual(16 * size + examplesBytes(result) + 4096);
      if (i % 4 === 0) {
        const again = await ingestDataset([...entries].reverse(), { resolution: RES, decoder });
        expect(again.report.toText(), `folder #${i}`).toBe(result.report.toText());
      }
    }
  });

  it('the Node entries path the CLI uses reads the same folders from disk (40 folders)', async () => {
    const pool = await contents();
    const names = NAMES.filter((n) => !DISK_UNSAFE(n));
    const r = new FuzzRandom(0x5eed_0007);
    for (let i = 0; i < 40; i++) {
      const files = folder(r, pool, names);
      // A file and a folder of one name cannot both exist on disk: keep the first of such pairs.
      for (const p of Object.keys(files)) if (Object.keys(files).some((q) => q.startsWith(`${p}/`))) delete files[p];
      const dir = mkdtempSync(join(tmpdir(), 'soar-fuzz-'));
      dirs.push(dir);
      writeDataset(dir, files);
      const listing = await entriesFromDirectory(dir);
      const result = await ingestDataset(listing, { resolution: RES, decoder });
      checkResult(result, files);
    }
  });
});
