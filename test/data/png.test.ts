import { writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { builtinSample } from '../../src/data/builtin';
import { encodePng, gridPng, imagesToGrid } from '../../src/codec/png';

/** Minimal independent PNG reader (Node's zlib) for 8-bit RGB, filter 0, to check what the encoder wrote. */
function readPng(png: Uint8Array): { width: number; height: number; rgb: Uint8Array; chunks: string[] } {
  expect([...png.subarray(0, 8)]).toStrictEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: string[] = [];
  let width = 0, height = 0;
  const idat: Uint8Array[] = [];
  for (let o = 8; o < png.length; ) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    chunks.push(type);
    if (type === 'IHDR') {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      expect([...data.subarray(8)]).toStrictEqual([8, 2, 0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (1 + width * 3)]).toBe(0);
    rgb.set(raw.subarray(y * (1 + width * 3) + 1, (y + 1) * (1 + width * 3)), y * width * 3);
  }
  return { width, height, rgb, chunks };
}

/** Byte equality without vitest's slow element-wise diffing of large arrays. */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

describe('PNG writer', () => {
  it('writes a PNG that zlib decodes back to the same pixels', () => {
    const width = 300, height = 100; // 90 KB of scanlines
    const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7 + (i >> 10)) & 0xff);
    const out = readPng(encodePng(rgb, width, height));
    expect(out.chunks).toStrictEqual(['IHDR', 'IDAT', 'IEND']);
    expect([out.width, out.height]).toStrictEqual([width, height]);
    expect(sameBytes(out.rgb, rgb)).toBe(true);
  });

  it('lays out a grid, upscaled nearest-neighbour, and writes the 16-sample preview to /tmp/builtin-grid.png', () => {
    const samples = Array.from({ length: 16 }, (_, i) => builtinSample('clean', i));
    const g = imagesToGrid(samples.map((s) => s.image), { cols: 4, scale: 4, pad: 2 });
    expect([g.width, g.height]).toStrictEqual([4 * 128 + 5 * 2, 4 * 128 + 5 * 2]);
    // Pixel (x, y) of sample 0 is at (2 + 4x .. 2 + 4x + 3, 2 + 4y ..) in the grid.
    const s0 = samples[0].image;
    const at = (gx: number, gy: number) => [...g.rgb.subarray((gy * g.width + gx) * 3, (gy * g.width + gx) * 3 + 3)];
    const want = (x: number, y: number) => [0, 1, 2].map((c) => Math.round(((s0[c * 1024 + y * 32 + x] + 1) / 2) * 255));
    for (const [x, y] of [[0, 0], [10, 20], [31, 31]]) {
      expect(at(2 + 4 * x, 2 + 4 * y)).toStrictEqual(want(x, y));
      expect(at(2 + 4 * x + 3, 2 + 4 * y + 3)).toStrictEqual(want(x, y));
    }
    expect(at(0, 0)).toStrictEqual([128, 128, 128]);
    const png = gridPng(samples.map((s) => s.image), { cols: 4 });
    expect(sameBytes(readPng(png).rgb, g.rgb)).toBe(true);
    writeFileSync('/tmp/builtin-grid.png', png);
    writeFileSync('/tmp/builtin-grid.txt', samples.map((s, i) => `${i}: ${s.caption}`).join('\n') + '\n');
  });
});
