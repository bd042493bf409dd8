// coverResize: the crop geometry and the filter weights, checked against values worked out by hand.
import { describe, expect, it } from 'vitest';
import { coverCrop, coverResize, rgbaToChw, type DecodedImage } from '../../../src/data/ingest';
import { px } from './fixtures';

function image(w: number, h: number, color: (x: number, y: number) => [number, number, number, number?]): DecodedImage {
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [r, g, b, a = 255] = color(x, y);
    rgba.set([r, g, b, a], (y * w + x) * 4);
  }
  return { width: w, height: h, rgba };
}

const RED: [number, number, number] = [255, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];

describe('coverCrop', () => {
  it('takes the centred box that covers the target', () => {
    expect(coverCrop({ width: 8, height: 4 }, { width: 2, height: 2 })).toEqual({ box: { x: 2, y: 0, width: 4, height: 4 }, scale: 0.5 });
    expect(coverCrop({ width: 3, height: 9 }, { width: 6, height: 6 })).toEqual({ box: { x: 0, y: 3, width: 3, height: 3 }, scale: 2 });
    expect(coverCrop({ width: 10, height: 10 }, { width: 4, height: 2 }).box).toEqual({ x: 0, y: 2.5, width: 10, height: 5 });
  });
});

describe('coverResize', () => {
  it('crops the centre of a wide image: the outer colour bands vanish', () => {
    // 8×4: columns 0-1 red, 2-5 blue, 6-7 red. Covering 2×2 keeps columns 2-5 only.
    const img = image(8, 4, (x) => (x >= 2 && x < 6 ? [...BLUE] : [...RED]));
    const box = coverResize(img, { width: 2, height: 2 }, 'box');
    expect(Array.from(box)).toEqual([-1, -1, -1, -1, -1, -1, -1, -1, 1, 1, 1, 1]);
    // Bilinear taps reach one source pixel past the crop, as "resize, then crop" would: output 0 (centre x = 3)
    // weighs columns 1..4 by 0.25, 0.75, 0.75, 0.25, so red column 1 adds 1/8: red 255/8 -> -0.75, blue 0.75.
    const bil = coverResize(img, { width: 2, height: 2 }, 'bilinear');
    expect(Array.from(bil, (v) => +v.toFixed(6))).toEqual([-0.75, -0.75, -0.75, -0.75, -1, -1, -1, -1, 0.75, 0.75, 0.75, 0.75]);
  });

  it('box-averages a two-colour image exactly, and bilinear weights the neighbour pixel', () => {
    // 4×4, left half red, right half blue -> 2×2.
    const img = image(4, 4, (x) => (x < 2 ? [...RED] : [...BLUE]));
    const box = coverResize(img, { width: 2, height: 2 }, 'box');
    expect([px(box, 2, 2, 0, 0, 0), px(box, 2, 2, 0, 0, 2), px(box, 2, 2, 1, 1, 0), px(box, 2, 2, 1, 1, 2)]).toEqual([1, -1, -1, 1]);
    // Bilinear at ×1/2 is a triangle of half-width 2 source pixels: output 0 is centred at x = 1 and weighs
    // source columns 0, 1, 2 by 0.75, 0.75, 0.25 (sum 1.75). Red = 255·6/7 -> 5/7 in [-1, 1]; blue = 255/7 -> -5/7.
    const bil = coverResize(img, { width: 2, height: 2 }, 'bilinear');
    expect(px(bil, 2, 2, 0, 0, 0)).toBeCloseTo(5 / 7, 6);
    expect(px(bil, 2, 2, 0, 0, 2)).toBeCloseTo(-5 / 7, 6);
    expect(px(bil, 2, 2, 0, 0, 1)).toBe(-1);
    expect(px(bil, 2, 2, 1, 1, 0)).toBeCloseTo(-5 / 7, 6);
    expect(px(bil, 2, 2, 1, 1, 2)).toBeCloseTo(5 / 7, 6);
  });

  it('upscales with half-pixel-centred bilinear and clamped edges', () => {
    // 2×2 black | white -> 4×4: columns sample x = 0.25, 0.75, 1.25, 1.75 in pixel-centre terms: 0, 1/4, 3/4, 1.
    const img = image(2, 2, (x) => (x === 0 ? [0, 0, 0] : [255, 255, 255]));
    const out = coverResize(img, { width: 4, height: 4 }, 'bilinear');
    for (let y = 0; y < 4; y++) {
      const row = [0, 1, 2, 3].map((x) => px(out, 4, 4, x, y, 1));
      expect(row.map((v) => +v.toFixed(6))).toEqual([-1, -0.5, 0.5, 1]);
    }
  });

  it('composites transparency over the background before filtering', () => {
    // Transparent pixels hide pure red; on white they must come out white, not pink.
    const img = image(2, 1, (x) => (x === 0 ? [255, 0, 0, 0] : [0, 0, 0, 255]));
    const out = coverResize(img, { width: 2, height: 1 }, 'box');
    expect(Array.from(out)).toEqual([1, -1, 1, -1, 1, -1]);
    const onBlack = coverResize(img, { width: 2, height: 1 }, 'box', [0, 0, 0]);
    expect(Array.from(onBlack)).toEqual([-1, -1, -1, -1, -1, -1]);
  });

  it('keeps lanczos overshoot inside [-1, 1] and a flat image flat', () => {
    const edge = coverResize(image(12, 12, (x) => (x < 6 ? [0, 0, 0] : [255, 255, 255])), { width: 5, height: 5 }, 'lanczos3');
    expect(Math.max(...edge)).toBeLessThanOrEqual(1);
    expect(Math.min(...edge)).toBeGreaterThanOrEqual(-1);
    const flat = coverResize(image(7, 3, () => [51, 102, 204]), { width: 4, height: 4 }, 'lanczos3');
    expect(Array.from(flat.subarray(0, 16)).every((v) => Math.abs(v - (51 / 127.5 - 1)) < 1e-5)).toBe(true);
  });

  it('rgbaToChw lays out planes and normalises', () => {
    const chw = rgbaToChw(new Uint8ClampedArray([255, 0, 0, 255, 0, 255, 0, 255]), { width: 2, height: 1 });
    expect(Array.from(chw)).toEqual([1, -1, -1, 1, -1, -1]);
  });
});
