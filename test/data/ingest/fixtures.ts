// Fixture builders for the ingest tests: in-memory entries, PNGs of any colour type/depth/filter (our own small
// encoder with real deflate, independent of the decoder under test), and a JPEG from jpeg-js's encoder.
import { concatBytes } from '../../../src/codec/concat';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { zlibSync } from 'fflate';
import { encodePng, pngChunk } from '../../../src/codec/png';
import type { IngestEntry } from '../../../src/data/ingest';

export type FileSpec = Uint8Array | string | { error: string };

/** Entries over in-memory bytes; strings are UTF-8; `{ error }` makes read() reject. Counts reads per path. */
export function memEntries(files: Record<string, FileSpec>, reads?: Map<string, number>): IngestEntry[] {
  return Object.entries(files).map(([path, spec]) => {
    const bytes = typeof spec === 'string' ? new TextEncoder().encode(spec) : spec instanceof Uint8Array ? spec : undefined;
    return {
      path,
      size: bytes?.length ?? 0,
      read: async () => {
        reads?.set(path, (reads.get(path) ?? 0) + 1);
        if (!bytes) throw new Error((spec as { error: string }).error);
        return bytes;
      },
    };
  });
}

/** 8-bit RGB PNG through the project's encoder, pixel colours from `color(x, y)`. */
export function rgbPng(width: number, height: number, color: (x: number, y: number) => [number, number, number]): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set(color(x, y), (y * width + x) * 3);
  return encodePng(rgb, width, height);
}

export const solid = (w: number, h: number, c: [number, number, number]) => rgbPng(w, h, () => c);


export interface RawPngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  depth: 1 | 2 | 4 | 8 | 16;
  /** Samples per pixel, row-major, at full precision (0..2^depth-1); palette indices for type 3. */
  samples: number[];
  palette?: Array<[number, number, number]>;
  trns?: number[];
  /** Filter type per row (cycled); default all 0. */
  filters?: number[];
  interlace?: boolean;
}

const CH: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** A PNG of any colour type/depth with the given per-row filters: an encoder independent of the decoder. */
export function rawPng(s: RawPngSpec): Uint8Array {
  const ch = CH[s.colorType];
  const bpp = Math.max(1, (ch * s.depth) >> 3);
  const stride = Math.ceil((s.width * ch * s.depth) / 8);
  const lines: Uint8Array[] = [];
  for (let y = 0; y < s.height; y++) {
    const line = new Uint8Array(stride);
    for (let i = 0; i < s.width * ch; i++) {
      const v = s.samples[y * s.width * ch + i];
      if (s.depth === 16) {
        line[i * 2] = v >> 8;
        line[i * 2 + 1] = v & 0xff;
      } else if (s.depth === 8) line[i] = v;
      else {
        const bit = i * s.depth;
        line[bit >> 3] |= v << (8 - s.depth - (bit & 7));
      }
    }
    lines.push(line);
  }
  const raw = new Uint8Array(s.height * (stride + 1));
  lines.forEach((line, y) => {
    const f = s.filters ? s.filters[y % s.filters.length] : 0;
    const prev = y > 0 ? lines[y - 1] : new Uint8Array(stride);
    raw[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? line[x - bpp] : 0;
      const b = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
      raw[y * (stride + 1) + 1 + x] = (line[x] - pred) & 0xff;
    }
  });
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, s.width);
  v.setUint32(4, s.height);
  ihdr.set([s.depth, s.colorType, 0, 0, s.interlace ? 1 : 0], 8);
  const parts = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr)];
  if (s.palette) parts.push(pngChunk('PLTE', Uint8Array.from(s.palette.flat())));
  if (s.trns) parts.push(pngChunk('tRNS', Uint8Array.from(s.trns)));
  parts.push(pngChunk('IDAT', zlibSync(raw, { level: 6 })), pngChunk('IEND', new Uint8Array(0)));
  return concatBytes(parts);
}

function paeth(a: number, b: number, c: number): number {
  const pa = Math.abs(b - c);
  const pb = Math.abs(a - c);
  const pc = Math.abs(a + b - 2 * c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}


/** A JPEG of a solid colour, through jpeg-js's encoder. */
export async function solidJpeg(w: number, h: number, c: [number, number, number]): Promise<Uint8Array> {
  const m = (await import('jpeg-js')) as unknown as { encode?: JpegEncode; default?: { encode: JpegEncode } };
  const encode = (m.encode ?? m.default!.encode) as JpegEncode;
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...c, 255], i * 4);
  return new Uint8Array(encode({ data, width: w, height: h }, 95).data);
}
type JpegEncode = (img: { data: Uint8Array; width: number; height: number }, quality: number) => { data: Uint8Array };

/**
 * The smallest RIFF/WEBP header: enough for sniffing and for its size (a lossy VP8 frame header declaring
 * width × height); the Node decoder refuses WebP before parsing the rest.
 */
export function webpHeader(width = 16, height = 16): Uint8Array {
  const b = new Uint8Array(30);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode('RIFF'), 0);
  v.setUint32(4, 22, true);
  b.set(new TextEncoder().encode('WEBPVP8 '), 8);
  v.setUint32(16, 10, true);
  b.set([0x9d, 0x01, 0x2a], 23); // the VP8 key frame start code, then 14-bit width and height
  v.setUint16(26, width, true);
  v.setUint16(28, height, true);
  return b;
}

/** Channel c of pixel (x, y) of a [3, H, W] image. */
export function px(img: Float32Array, w: number, h: number, x: number, y: number, c: number): number {
  return img[c * w * h + y * w + x];
}

/**
 * A messy folder of images with sidecar captions: one file for every reason the report knows in this format
 * (the expected outcome of each is in ingest-captions.test.ts). Also usable as an e2e drop/upload folder through
 * writeDataset (the `{ error }` file cannot exist on disk and is left out there).
 */
export async function messyCaptionDataset(): Promise<Record<string, FileSpec>> {
  const good = solid(32, 24, [200, 100, 50]);
  const jpeg = await solidJpeg(24, 24, [0, 128, 255]);
  return {
    'a.png': good,
    'a.txt': '  a red\n\n   square\t ',
    'a.caption': 'ignored: a.txt wins',
    'sub/b.png': rgbPng(20, 20, (x) => (x < 10 ? [255, 0, 0] : [0, 0, 255])),
    'sub/b.caption': 'two halves',
    'c.png': good, // no caption
    'd.png': good,
    'd.txt': ' \n\t ',
    'e.png': good.subarray(0, good.length - 40), // truncated inside the image data
    'e.txt': 'broken',
    'f.png': good,
    'f.jpg': good,
    'f.txt': 'which one?',
    'g.jpg': good, // a PNG named .jpg
    'g.txt': 'wrong extension',
    'h.png': solid(4, 6, [0, 0, 0]),
    'h.txt': 'tiny',
    'i.webp': webpHeader(),
    'i.txt': 'webp in node',
    'k.jpg': jpeg,
    'k.txt': 'a real jpeg',
    'l.jpg': jpeg.subarray(0, jpeg.length - 100), // truncated JPEG
    'l.txt': 'broken jpeg',
    'm.png': solid(12, 12, [255, 255, 255]),
    'm.txt': 'small, upscaled',
    'n.png': { error: 'EACCES: permission denied' },
    'n.txt': 'unreadable image',
    'o.png': new Uint8Array(0),
    'o.txt': 'empty file',
    'p.gif': solid(16, 16, [1, 2, 3]), // a PNG named .gif: taken
    'p.txt': 'png named gif',
    'q.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9]), // "café" in Windows-1252
    'q.png': good,
    'notes.txt': 'a stray text file',
    'junk.gif': new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]),
    'real.gif': new TextEncoder().encode('GIF89a....'),
    'README.md': '# my dataset',
    '.DS_Store': new Uint8Array([0, 0, 0, 1]),
    '__MACOSX/._a.png': new Uint8Array([0, 5, 22, 7]),
  };
}

/** Writes a file set under `dir` (for e2e uploads or the CLI); `{ error }` files are left out. */
export function writeDataset(dir: string, files: Record<string, FileSpec>): void {
  for (const [path, spec] of Object.entries(files)) {
    if (!(spec instanceof Uint8Array) && typeof spec !== 'string') continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), spec);
  }
}
