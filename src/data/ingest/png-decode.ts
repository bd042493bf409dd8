// A small PNG decoder for Node (tests, CLI): every non-interlaced colour type and bit depth (grey 1-16, RGB 8/16,
// palette 1-8 with tRNS, grey+alpha, RGBA) to 8-bit RGBA. 16-bit samples keep their high byte; gamma/colour
// chunks (gAMA, iCCP, sRGB) are ignored, as most training pipelines do. Interlaced (Adam7) PNGs are rare in
// datasets and are refused with a clear message rather than decoded wrongly. Chunk CRCs are not checked:
// truncation and damage show up as inflate errors or short data, which are checked.
//
// Memory is bounded by the header: its size is checked (image-header.ts) before anything is allocated, and the
// image data is inflated into one buffer of exactly the size the header implies, in slices, stopping when it
// is full, so a small file cannot inflate to more (a decompression bomb). fast-png, the well-kept alternative,
// inflates every IDAT with no cap, so this decoder stays.
import { Unzlib } from 'fflate';
import { sizeProblem } from './image-header';
import { ImageDecodeError, type DecodedImage } from './types';

const SIGNATURE_LENGTH = 8;
/**
 * Deflate's largest expansion: a 258-byte match coded in 2 bits. Image data needing more than this many times
 * the compressed bytes cannot be complete, so it is refused before its buffer is allocated.
 */
const MAX_DEFLATE_RATIO = 1032;

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

function corrupt(message: string): ImageDecodeError {
  return new ImageDecodeError('corrupt', message);
}

export function decodePng(bytes: Uint8Array): DecodedImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let pos = SIGNATURE_LENGTH;
  let ended = false;
  while (pos + 8 <= bytes.length) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    const start = pos + 8;
    if (start + length > bytes.length) {
      throw corrupt(`the file is truncated: chunk ${type} needs ${length} bytes, only ${bytes.length - start} are left`);
    }
    const data = bytes.subarray(start, start + length);
    if (type === 'IHDR') header = readHeader(data);
    else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    pos = start + length + 4; // + CRC
  }
  if (!header) throw corrupt('no IHDR chunk: not a complete PNG');
  if (idat.length === 0) throw corrupt(ended ? 'no image data (IDAT) in the PNG' : 'the file is truncated before its image data');
  const h = header;
  if (h.interlace !== 0) {
    throw new ImageDecodeError('unsupported', 'interlaced (Adam7) PNGs are not read by the Node decoder: re-save the image without interlacing, or load the folder in the browser');
  }
  if (h.colorType === 3 && !palette) throw corrupt('palette PNG without a PLTE chunk');

  const channels = CHANNELS[h.colorType];
  const bitsPerPixel = channels * h.depth;
  const stride = Math.ceil((h.width * bitsPerPixel) / 8);
  const expected = h.height * (stride + 1);
  const compressed = idat.reduce((n, d) => n + d.length, 0);
  if (expected > compressed * MAX_DEFLATE_RATIO + 1024) {
    throw corrupt(`the image data is truncated: ${compressed} compressed bytes cannot hold the ${expected} a ${h.width}×${h.height} image needs`);
  }
  const raw = inflateExactly(idat, expected);
  unfilter(raw, h.height, stride, Math.max(1, bitsPerPixel >> 3));
  return { width: h.width, height: h.height, rgba: toRgba(raw, h, stride, palette, trns) };
}

function readHeader(d: Uint8Array): Header {
  if (d.length < 13) throw corrupt('IHDR chunk is too short');
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const hd: Header = { width: v.getUint32(0), height: v.getUint32(4), depth: d[8], colorType: d[9], interlace: d[12] };
  if (hd.width === 0 || hd.height === 0) throw corrupt(`the PNG claims a size of ${hd.width}×${hd.height}`);
  const tooLarge = sizeProblem(hd);
  if (tooLarge) throw new ImageDecodeError('too-large', tooLarge);
  if (!(hd.colorType in CHANNELS)) throw corrupt(`unknown PNG colour type ${hd.colorType}`);
  if (!DEPTHS[hd.colorType].includes(hd.depth)) throw corrupt(`bit depth ${hd.depth} is not valid for PNG colour type ${hd.colorType}`);
  return hd;
}

/**
 * Inflates the zlib stream split over `parts` into exactly `expected` bytes. Input goes in slices small enough
 * that one slice cannot inflate to much more than what is still missing (MAX_DEFLATE_RATIO), and inflation stops
 * once the buffer is full: data past the image's end is ignored, as libpng does, without being inflated.
 */
export function inflateExactly(parts: readonly Uint8Array[], expected: number): Uint8Array {
  const raw = new Uint8Array(expected);
  let filled = 0;
  const stream = new Unzlib((chunk) => {
    const n = Math.min(chunk.length, expected - filled);
    raw.set(n === chunk.length ? chunk : chunk.subarray(0, n), filled);
    filled += n;
  });
  try {
    let ended = false;
    for (let p = 0; p < parts.length && filled < expected; p++) {
      const part = parts[p];
      for (let at = 0; at < part.length && filled < expected; ) {
        const slice = Math.min(64 << 10, Math.max(1 << 10, Math.ceil((expected - filled) / MAX_DEFLATE_RATIO)));
        const end = Math.min(part.length, at + slice);
        ended = p === parts.length - 1 && end === part.length;
        stream.push(part.subarray(at, end), ended);
        at = end;
      }
    }
    if (filled < expected && !ended) stream.push(new Uint8Array(0), true);
  } catch (e) {
    throw corrupt(`the compressed image data is damaged or truncated (${e instanceof Error ? e.message : String(e)})`);
  }
  if (filled < expected) throw corrupt(`the image data is truncated: ${filled} of ${expected} bytes after decompression`);
  return raw;
}

/** Reverses the per-scanline filters in place; each line's filter byte stays in front of it. */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): void {
  for (let y = 0; y < height; y++) {
    const line = y * (stride + 1) + 1;
    const prev = line - (stride + 1); // only read when y > 0
    const type = raw[line - 1];
    // One loop per filter type, so the per-byte work has no branch (multi-megapixel PNGs in the CLI).
    if (type === 0) continue;
    if (type === 1) {
      for (let x = bpp; x < stride; x++) raw[line + x] = (raw[line + x] + raw[line + x - bpp]) & 0xff;
    } else if (type === 2) {
      if (y > 0) for (let x = 0; x < stride; x++) raw[line + x] = (raw[line + x] + raw[prev + x]) & 0xff;
    } else if (type === 3) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? raw[line + x - bpp] : 0;
        const b = y > 0 ? raw[prev + x] : 0;
        raw[line + x] = (raw[line + x] + ((a + b) >> 1)) & 0xff;
      }
    } else if (type === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? raw[line + x - bpp] : 0;
        const b = y > 0 ? raw[prev + x] : 0;
        const c = x >= bpp && y > 0 ? raw[prev + x - bpp] : 0;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        raw[line + x] = (raw[line + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
    } else throw corrupt(`unknown PNG filter type ${type} on row ${y}`);
  }
}

/** The common case (8-bit, no colour key) without per-sample calls. */
function toRgba8(raw: Uint8Array, width: number, height: number, stride: number, channels: number, out: Uint8ClampedArray): void {
  for (let y = 0; y < height; y++) {
    let s = y * (stride + 1) + 1;
    let o = y * width * 4;
    for (let x = 0; x < width; x++, s += channels, o += 4) {
      if (channels >= 3) {
        out[o] = raw[s];
        out[o + 1] = raw[s + 1];
        out[o + 2] = raw[s + 2];
        out[o + 3] = channels === 4 ? raw[s + 3] : 255;
      } else {
        out[o] = out[o + 1] = out[o + 2] = raw[s];
        out[o + 3] = channels === 2 ? raw[s + 1] : 255;
      }
    }
  }
}

function toRgba(raw: Uint8Array, h: Header, stride: number, palette: Uint8Array | undefined, trns: Uint8Array | undefined): Uint8ClampedArray {
  const { width, height, depth, colorType } = h;
  const out = new Uint8ClampedArray(width * height * 4);
  const channels = CHANNELS[colorType];
  const maxSample = (1 << depth) - 1;
  // tRNS for grey/RGB: one colour (in sample units) that is fully transparent.
  const key = trns && (colorType === 0 || colorType === 2) ? Array.from({ length: colorType === 0 ? 1 : 3 }, (_, i) => (trns[2 * i] << 8) | trns[2 * i + 1]) : undefined;
  if (depth === 8 && colorType !== 3 && !key) {
    toRgba8(raw, width, height, stride, channels, out);
    return out;
  }
  for (let y = 0; y < height; y++) {
    const line = y * (stride + 1) + 1;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      // sample(i): the i-th channel of this pixel at full precision (for the tRNS key), and its 8-bit value.
      const full = (i: number): number => {
        if (depth === 16) return (raw[line + (x * channels + i) * 2] << 8) | raw[line + (x * channels + i) * 2 + 1];
        if (depth === 8) return raw[line + x * channels + i];
        const bit = (x * channels + i) * depth;
        return (raw[line + (bit >> 3)] >> (8 - depth - (bit & 7))) & maxSample;
      };
      const to8 = (v: number): number => (depth === 16 ? v >> 8 : depth === 8 ? v : Math.round((v * 255) / maxSample));
      if (colorType === 3) {
        const idx = full(0);
        if (idx * 3 + 2 >= palette!.length) throw corrupt(`palette index ${idx} is outside the ${palette!.length / 3}-colour PLTE`);
        out[o] = palette![idx * 3];
        out[o + 1] = palette![idx * 3 + 1];
        out[o + 2] = palette![idx * 3 + 2];
        out[o + 3] = trns && idx < trns.length ? trns[idx] : 255;
      } else if (colorType === 0 || colorType === 4) {
        const g = full(0);
        out[o] = out[o + 1] = out[o + 2] = to8(g);
        out[o + 3] = colorType === 4 ? to8(full(1)) : key && g === key[0] ? 0 : 255;
      } else {
        const r = full(0);
        const g = full(1);
        const b = full(2);
        out[o] = to8(r);
        out[o + 1] = to8(g);
        out[o + 2] = to8(b);
        out[o + 3] = colorType === 6 ? to8(full(3)) : key && r === key[0] && g === key[1] && b === key[2] ? 0 : 255;
      }
    }
  }
  return out;
}
