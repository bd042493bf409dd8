// Minimal PNG writer (8-bit RGB, no interlace) and image-grid helper, with no DOM, so the same code makes sample
// grids in Node (reports, model cards, tests) and in the browser/worker (downloads). The zlib stream comes from
// fflate (already the project's zip library): real deflate makes the shipped model card's pictures ~10x smaller
// than stored blocks would.
import { concatBytes } from './concat';
import { zlibSync } from 'fflate';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data and CRC (the encoder's, and the tests' hand-made PNGs). */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** Encode interleaved 8-bit RGB (row-major, width·height·3 bytes) as a PNG file. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${rgb.length} bytes for ${width}×${height} RGB`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, adaptive filters, no interlace
  // Every scanline is prefixed with filter type 0 (None).
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  return concatBytes([Uint8Array.from(PNG_SIGNATURE), pngChunk('IHDR', ihdr), pngChunk('IDAT', zlibSync(raw, { level: 9 })), pngChunk('IEND', new Uint8Array(0))]);
}

export interface GridOptions {
  /** Side of each (square) image; inferred from the array length when omitted. */
  size?: number;
  /** Images per row (default: ceil(sqrt(n))). */
  cols?: number;
  /** Nearest-neighbour upscale factor (default 4: 32 px samples are too small to judge at 1×). */
  scale?: number;
  /** Gap between cells in output pixels (default 2), filled with `padColor` (default mid grey). */
  pad?: number;
  padColor?: readonly [number, number, number];
}

/** Lay out CHW float images in [-1, 1] as one 8-bit RGB grid. */
export function imagesToGrid(images: readonly Float32Array[], opts: GridOptions = {}): { rgb: Uint8Array; width: number; height: number } {
  if (images.length === 0) throw new Error('imagesToGrid: no images');
  const size = opts.size ?? Math.round(Math.sqrt(images[0].length / 3));
  const cols = opts.cols ?? Math.ceil(Math.sqrt(images.length));
  const rows = Math.ceil(images.length / cols);
  const scale = opts.scale ?? 4;
  const pad = opts.pad ?? 2;
  const cell = size * scale;
  const width = cols * cell + (cols + 1) * pad;
  const height = rows * cell + (rows + 1) * pad;
  const rgb = new Uint8Array(width * height * 3);
  const [pr, pg, pb] = opts.padColor ?? [128, 128, 128];
  for (let i = 0; i < width * height; i++) rgb.set([pr, pg, pb], i * 3);
  const plane = size * size;
  images.forEach((img, n) => {
    if (img.length !== 3 * plane) throw new Error(`imagesToGrid: image ${n} has ${img.length} values, expected ${3 * plane}`);
    const ox = pad + (n % cols) * (cell + pad);
    const oy = pad + Math.floor(n / cols) * (cell + pad);
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const src = Math.floor(y / scale) * size + Math.floor(x / scale);
        const dst = ((oy + y) * width + ox + x) * 3;
        for (let c = 0; c < 3; c++) rgb[dst + c] = Math.round(Math.min(1, Math.max(0, (img[c * plane + src] + 1) / 2)) * 255);
      }
    }
  });
  return { rgb, width, height };
}

/** PNG of a grid of CHW float images in [-1, 1]. */
export function gridPng(images: readonly Float32Array[], opts: GridOptions = {}): Uint8Array {
  const g = imagesToGrid(images, opts);
  return encodePng(g.rgb, g.width, g.height);
}
