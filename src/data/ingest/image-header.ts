// An image's size from its header, read before any decoder allocates for it, and the size the studio accepts.
// Decoders size their buffers from the header: a 21-byte JPEG that declares 10000×10000 made jpeg-js allocate
// 2 GB for 12 s before it failed, and a 33 KB 1-bit PNG decoded to 16384² (1 GiB of RGBA). Every decode path
// (the Node decoder, the browser's createImageBitmap, the shared ingest core) calls checkImageSize first.
import { ImageDecodeError, type ImageMime, type Size } from './types';

/**
 * 50 megapixels: the largest photos people take (50 MP phone modes, 8160×6120; full-frame cameras up to 45 MP,
 * 8256×5504) while a decode stays near 1 GB at worst (RGBA is 200 MB; jpeg-js holds about 19 bytes a pixel for
 * a 4:4:4 JPEG while it decodes). Training resizes every image to the model's resolution (at most 1024 px), so
 * a larger photo loses nothing by being downscaled first.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;
/** No side over 16384 px: wider than any camera sensor; past it is a panorama strip or a header that lies. */
export const MAX_IMAGE_SIDE = 16_384;

/**
 * Huffman-coded JPEG spends at least one bit on every 8×8 block of its full-resolution component (the DC code
 * of its first scan), so a file of n bytes cannot hold more than 512·n pixels. This bounds jpeg-js's memory by
 * the file's size, not only by the header's claim. Arithmetic coding (SOF9+) can go lower and is not bounded so.
 */
const JPEG_MAX_PIXELS_PER_BYTE = 512;

function megapixels(pixels: number): string {
  return `${Math.round(pixels / 1e5) / 10} MP`;
}

/** Why an image of this size is refused, or undefined when it is within the limits. */
export function sizeProblem(size: Size): string | undefined {
  const { width, height } = size;
  if (width * height <= MAX_IMAGE_PIXELS && width <= MAX_IMAGE_SIDE && height <= MAX_IMAGE_SIDE) return undefined;
  return (
    `it is ${width}×${height} (${megapixels(width * height)}); the studio reads images up to ${megapixels(MAX_IMAGE_PIXELS)} ` +
    `and ${MAX_IMAGE_SIDE} px a side: downscale it (training resizes it to the model's resolution anyway)`
  );
}

/** An image's declared size, within the limits. */
export interface CheckedSize extends Size {
  /** JPEG: the frame's colour components (1, 3 or 4). */
  components?: number;
}

/**
 * The most jpeg-js may allocate for a checked JPEG header: 4 bytes a sample for its coefficient blocks, 1 for its
 * output lines and 1 for its interleaved copy, per component, with MCU padding (sampling factors up to 4, so up to
 * 32 px a side), the RGBA result, and 4 MiB for tables. Given to jpeg-js as its memory cap, it refuses a second, larger frame header
 * that checkImageSize did not look at, before allocating for it.
 */
export function jpegDecodeBytes(size: CheckedSize): number {
  return (size.components ?? 4) * 6 * (size.width + 32) * (size.height + 32) + 4 * size.width * size.height + (4 << 20);
}

interface Header extends CheckedSize {
  /** Fewest bytes a complete file of this size can have (JPEG with Huffman coding); 0 when unknown. */
  minBytes: number;
}

/**
 * The declared size of a PNG, JPEG or WebP, from its first bytes; refuses (ImageDecodeError) an image whose
 * header is missing or damaged, larger than MAX_IMAGE_PIXELS / MAX_IMAGE_SIDE, or too short for its size.
 */
export function checkImageSize(bytes: Uint8Array, mime: ImageMime): CheckedSize {
  const h = mime === 'image/png' ? pngHeader(bytes) : mime === 'image/jpeg' ? jpegHeader(bytes) : webpHeader(bytes);
  if (h.width === 0 || h.height === 0) throw new ImageDecodeError('corrupt', `the header declares a size of ${h.width}×${h.height}`);
  const problem = sizeProblem(h);
  if (problem) throw new ImageDecodeError('too-large', problem);
  if (bytes.length < h.minBytes) {
    throw new ImageDecodeError('corrupt', `the header declares ${h.width}×${h.height}, but the file has only ${bytes.length} bytes, too few for that many pixels: it is truncated or damaged`);
  }
  return h.components ? { width: h.width, height: h.height, components: h.components } : { width: h.width, height: h.height };
}

function u16be(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function tag(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/** IHDR must be the first chunk (PNG spec 5.6); its width and height are 32-bit big-endian. */
function pngHeader(b: Uint8Array): Header {
  if (b.length < 8 + 8 + 13 || tag(b, 12) !== 'IHDR') throw new ImageDecodeError('corrupt', 'no IHDR chunk at the start: not a complete PNG');
  return { width: u32be(b, 16), height: u32be(b, 20), minBytes: 0 };
}

/** Start-of-frame markers: C0-CF except C4 (DHT), C8 (reserved) and CC (DAC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Walks the markers from SOI to the first SOFn: the frame header holds the height, then the width. */
function jpegHeader(b: Uint8Array): Header {
  let pos = 2;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) {
      pos++; // stray bytes between segments: decoders skip to the next marker, and so do we
      continue;
    }
    const marker = b[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    // Markers without a length: SOI, TEM, RSTn.
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) throw new ImageDecodeError('corrupt', 'the JPEG has no frame header (SOF) before its image data');
    const length = u16be(b, pos + 2);
    if (isSof(marker)) {
      if (pos + 10 > b.length) break;
      const components = b[pos + 9];
      if (pos + 10 + 3 * components > b.length) break;
      const height = u16be(b, pos + 5);
      const width = u16be(b, pos + 7);
      if (height === 0) throw new ImageDecodeError('unsupported', 'the JPEG leaves its height to a DNL marker, which decoders do not read: re-save the image');
      // Decoders allocate per component and per sampling factor: both are held to what JPEG files use.
      if (components !== 1 && components !== 3 && components !== 4) {
        throw new ImageDecodeError('unsupported', `the JPEG has ${components} colour components; only 1 (grey), 3 (colour) or 4 (CMYK) are read: re-save it as an ordinary JPEG`);
      }
      for (let c = 0; c < components; c++) {
        const hv = b[pos + 11 + 3 * c];
        if (hv >> 4 < 1 || hv >> 4 > 4 || (hv & 15) < 1 || (hv & 15) > 4) throw new ImageDecodeError('corrupt', `JPEG component ${c + 1} has sampling factors ${hv >> 4}×${hv & 15} (1 to 4 are valid)`);
      }
      const huffman = marker <= 0xc3;
      const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
      return { width, height, components, minBytes: huffman ? Math.ceil((blocks * 64) / JPEG_MAX_PIXELS_PER_BYTE) : 0 };
    }
    if (length < 2) throw new ImageDecodeError('corrupt', `a JPEG segment declares a length of ${length}`);
    pos += 2 + length;
  }
  throw new ImageDecodeError('corrupt', 'the file ends before the JPEG frame header (SOF): it is truncated or not a JPEG');
}

/** RIFF/WEBP with a VP8X (extended), VP8 (lossy) or VP8L (lossless) first chunk. */
function webpHeader(b: Uint8Array): Header {
  const kind = b.length >= 30 ? tag(b, 12) : '';
  if (kind === 'VP8X') {
    return { width: 1 + (b[24] | (b[25] << 8) | (b[26] << 16)), height: 1 + (b[27] | (b[28] << 8) | (b[29] << 16)), minBytes: 0 };
  }
  if (kind === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff, minBytes: 0 };
  }
  if (kind === 'VP8L' && b[20] === 0x2f) {
    const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff), minBytes: 0 };
  }
  throw new ImageDecodeError('corrupt', 'the WebP header (VP8, VP8L or VP8X) is missing or damaged');
}
