// CHW floats in [-1, 1] -> RGBA8 for the UI: the mapping, clamping, NaN, batch indexing and velocity scaling.
import { describe, expect, it } from 'vitest';
import { batchImage, chwToRgba, maxAbs } from '../../src/worker/images';

describe('chwToRgba', () => {
  it('maps -1..1 to 0..255 per channel plane, opaque, clamped, NaN as 0', () => {
    // 3 channels, 1x3 pixels: planes R = [-1, 0, 1], G = [2, -2, NaN], B = [0.5, -0.5, 1e-9]
    const chw = Float32Array.from([-1, 0, 1, 2, -2, Number.NaN, 0.5, -0.5, 1e-9]);
    const img = chwToRgba(chw, { channels: 3, height: 1, width: 3 });
    expect(img.width).toBe(3);
    expect(img.height).toBe(1);
    expect(img.rgba).toBeInstanceOf(Uint8ClampedArray);
    expect([...img.rgba]).toEqual([0, 255, 191, 255, 128, 0, 64, 255, 255, 0, 128, 255]);
  });

  it('shows one channel as grey and survives structured clone', () => {
    const img = chwToRgba(Float32Array.from([-1, 1]), { channels: 1, height: 2, width: 1 });
    expect([...img.rgba]).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
    expect(structuredClone(img)).toEqual(img);
  });

  it('takes image i of a batch, and scales velocities by their max |v|', () => {
    const batch = Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => (i < 12 ? -1 : 1));
    expect([...batchImage(batch, [2, 3, 2, 2], 1).rgba.slice(0, 4)]).toEqual([255, 255, 255, 255]);
    expect([...batchImage(batch, [2, 3, 2, 2], 0).rgba.slice(0, 4)]).toEqual([0, 0, 0, 255]);
    expect(() => batchImage(batch, [2, 3, 2, 2], 2)).toThrow(RangeError);
    const v = Float32Array.from([4, -2, 0, 1]);
    expect(maxAbs(v, 0, 4)).toBe(4);
    expect(maxAbs(new Float32Array(3), 0, 3)).toBe(1);
    expect([...chwToRgba(v, { channels: 1, height: 1, width: 4 }, 0, 4).rgba.filter((_, i) => i % 4 === 0)]).toEqual([255, 64, 128, 159]);
  });
});
