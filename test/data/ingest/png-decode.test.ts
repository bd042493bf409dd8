// The Node PNG decoder against PNGs from an independent encoder (fixtures.ts), over every colour type, bit
// depth and filter, plus the failures it must name: truncation, interlacing.
import { describe, expect, it } from 'vitest';
import { decodePng, ImageDecodeError } from '../../../src/data/ingest';
import { rawPng, rgbPng } from './fixtures';

function pixels(rgba: Uint8ClampedArray): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < rgba.length; i += 4) out.push(Array.from(rgba.subarray(i, i + 4)));
  return out;
}

describe('decodePng', () => {
  it('reads the project encoder (8-bit RGB, stored deflate)', () => {
    const img = decodePng(rgbPng(3, 2, (x, y) => [x * 100, y * 200, 7]));
    expect(img.width).toBe(3);
    expect(img.height).toBe(2);
    expect(pixels(img.rgba)).toEqual([
      [0, 0, 7, 255],
      [100, 0, 7, 255],
      [200, 0, 7, 255],
      [0, 200, 7, 255],
      [100, 200, 7, 255],
      [200, 200, 7, 255],
    ]);
  });

  it('undoes all five filters (RGBA, 8-bit) with compressed data', () => {
    const w = 5;
    const h = 5;
    const samples = Array.from({ length: w * h * 4 }, (_, i) => (i * 37 + (i >> 3) * 11) & 0xff);
    const img = decodePng(rawPng({ width: w, height: h, colorType: 6, depth: 8, samples, filters: [0, 1, 2, 3, 4] }));
    expect(Array.from(img.rgba)).toEqual(samples);
  });

  it('reads 16-bit RGB by its high byte, and grey+alpha', () => {
    const rgb16 = decodePng(rawPng({ width: 2, height: 1, colorType: 2, depth: 16, samples: [0xff00, 0x1234, 0x00ff, 0x8000, 0x0001, 0xfffe], filters: [4] }));
    expect(pixels(rgb16.rgba)).toEqual([
      [0xff, 0x12, 0x00, 255],
      [0x80, 0x00, 0xff, 255],
    ]);
    const ga = decodePng(rawPng({ width: 2, height: 1, colorType: 4, depth: 8, samples: [10, 20, 30, 40], filters: [1] }));
    expect(pixels(ga.rgba)).toEqual([
      [10, 10, 10, 20],
      [30, 30, 30, 40],
    ]);
  });

  it('scales low-bit grey to 0..255 and applies a grey tRNS key', () => {
    const g1 = decodePng(rawPng({ width: 9, height: 1, colorType: 0, depth: 1, samples: [1, 0, 1, 1, 0, 0, 0, 1, 1] }));
    expect(pixels(g1.rgba).map((p) => p[0])).toEqual([255, 0, 255, 255, 0, 0, 0, 255, 255]);
    const g2 = decodePng(rawPng({ width: 4, height: 1, colorType: 0, depth: 2, samples: [0, 1, 2, 3], trns: [0, 2] }));
    expect(pixels(g2.rgba)).toEqual([
      [0, 0, 0, 255],
      [85, 85, 85, 255],
      [170, 170, 170, 0],
      [255, 255, 255, 255],
    ]);
  });

  it('maps palette indices (4-bit) with per-entry alpha from tRNS', () => {
    const img = decodePng(
      rawPng({ width: 3, height: 2, colorType: 3, depth: 4, samples: [0, 1, 2, 2, 1, 0], palette: [[255, 0, 0], [0, 255, 0], [0, 0, 255]], trns: [128] }),
    );
    expect(pixels(img.rgba)).toEqual([
      [255, 0, 0, 128],
      [0, 255, 0, 255],
      [0, 0, 255, 255],
      [0, 0, 255, 255],
      [0, 255, 0, 255],
      [255, 0, 0, 128],
    ]);
  });

  it('refuses interlaced PNGs as unsupported, with what to do', () => {
    const bytes = rawPng({ width: 2, height: 2, colorType: 2, depth: 8, samples: new Array(12).fill(9), interlace: true });
    const err = (() => {
      try {
        decodePng(bytes);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).kind).toBe('unsupported');
    expect((err as ImageDecodeError).message).toMatch(/interlaced.*re-save/);
  });

  it('reports truncated files as corrupt, wherever they are cut', () => {
    const full = rawPng({ width: 16, height: 16, colorType: 2, depth: 8, samples: Array.from({ length: 768 }, (_, i) => (i * 7) & 255) });
    for (const cut of [0, 7, 20, 40, 60, full.length - 100, full.length - 30]) {
      const e = (() => {
        try {
          decodePng(full.subarray(0, cut));
        } catch (x) {
          return x;
        }
      })();
      expect(e, `cut at ${cut}`).toBeInstanceOf(ImageDecodeError);
      expect((e as ImageDecodeError).kind).toBe('corrupt');
    }
    // Losing only the end (IEND, or the last CRC bytes) leaves a complete image: browsers accept that, so do we.
    expect(decodePng(full.subarray(0, full.length - 12)).width).toBe(16);
    expect(decodePng(full.subarray(0, full.length - 14)).width).toBe(16);
  });
});
