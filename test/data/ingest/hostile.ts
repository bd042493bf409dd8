// Hostile images for the memory-bound tests and the fuzzer: headers that declare far more than the file holds,
// and decompression bombs. Built from scratch here, so they do not depend on the decoder under test.
import { pngChunk } from '../../../src/codec/png';
import { zlibSync } from 'fflate';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}


/** A PNG whose IHDR says width × height (depth, colour type) and whose IDAT is `zlib` as given. */
export function pngWithIdat(width: number, height: number, depth: number, colorType: number, zlib: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  return concat([Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib), pngChunk('IEND', new Uint8Array(0))]);
}

/** Issue 16's bomb: a 33 KB 1-bit grey PNG of 16384×16384 (all black, every row filter 0). */
export function bigOneBitPng(side = 16384): Uint8Array {
  return pngWithIdat(side, side, 1, 0, zlibSync(new Uint8Array(side * (side / 8 + 1)), { level: 9 }));
}

/** An 8×8 RGBA PNG whose image data inflates to `inflated` bytes (the header implies 264): a zip bomb. */
export function inflationBombPng(inflated = 24 << 20): Uint8Array {
  return pngWithIdat(8, 8, 8, 6, zlibSync(new Uint8Array(inflated), { level: 9 }));
}

/** Issue 16's 21-byte JPEG: SOI and a baseline frame header of width × height with three components, nothing else. */
export function jpegHeaderOnly(width = 10000, height = 10000): Uint8Array {
  return Uint8Array.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00]);
}

/** `jpeg` with the size in its frame header replaced: the rest of the file stays as the encoder wrote it. */
export function withJpegSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const out = jpeg.slice();
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1] === 0xc0) {
      out.set([height >> 8, height & 0xff, width >> 8, width & 0xff], i + 5);
      return out;
    }
  }
  throw new Error('no SOF0 in the JPEG');
}

/**
 * A zlib stream of `n` zero bytes in one fixed-Huffman block: a literal 0, then matches of 258 at distance 1
 * (13 bits each, so about 160× smaller than the output), built directly so a gigabyte bomb costs no gigabyte.
 */
export function zerosZlib(n: number): Uint8Array {
  const matches = Math.floor((n - 1) / 258);
  const rest = n - 1 - matches * 258;
  const out = new Uint8Array(2 + Math.ceil((3 + 8 + 13 * matches + 8 * rest + 7) / 8) + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let bit = 16;
  // Deflate packs bits from the least significant end; Huffman codes go most significant bit first.
  const put = (value: number, count: number) => {
    for (let i = 0; i < count; i++, bit++) if ((value >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  const code = (value: number, count: number) => {
    for (let i = count - 1; i >= 0; i--, bit++) if ((value >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  put(1, 1); // BFINAL
  put(1, 2); // BTYPE 01: fixed Huffman
  code(0x30, 8); // literal 0
  for (let i = 0; i < matches; i++) {
    code(0xc5, 8); // length code 285: 258
    code(0, 5); // distance code 0: 1
  }
  for (let i = 0; i < rest; i++) code(0x30, 8);
  code(0, 7); // end of block
  const at = Math.ceil(bit / 8);
  const b = n % 65521; // adler32 of n zeros: a = 1, b = n
  out.set([b >> 8, b & 0xff, 0, 1], at);
  return out.subarray(0, at + 4);
}

/** `jpeg` with a copy of its frame header, declaring width × height, right after the first: two frames. */
export function withSecondFrame(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  for (let i = 2; i + 4 < jpeg.length; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === 0xc0) {
      const end = i + 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
      const second = withJpegSize(jpeg.subarray(i - 2, end), width, height).subarray(2); // withJpegSize skips 2 bytes
      return concat([jpeg.subarray(0, end), second, jpeg.subarray(end)]);
    }
  }
  throw new Error('no SOF0 in the JPEG');
}
