// Resize-to-cover + centre crop + conversion to CHW float in [-1, 1], in pure TS, for every environment.
//
// The crop is taken in source coordinates (a fractional box), and the resampler reads that box directly, the way
// Pillow's `resize(size, box=...)` does: no intermediate resized image, no rounding of the crop to whole pixels,
// and filter taps near the crop edge still see the real neighbouring pixels, exactly as "resize, then crop" would.
// The filters are Pillow's, scaled by the downscale factor so that downscaling is antialiased (box = area
// average, bilinear = triangle, lanczos3 = the reference trainer's LANCZOS). Everything is float until the end.
// Alpha is composited over `background` per source pixel before filtering, so transparent edges do not bleed
// their hidden colour.
import type { DecodedImage, ResizeFilter, Rgb, Size } from './types';

export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The centred box of the source that, scaled by `scale`, exactly covers `target`. */
export function coverCrop(src: Size, target: Size): { box: CropBox; scale: number } {
  const scale = Math.max(target.width / src.width, target.height / src.height);
  const width = target.width / scale;
  const height = target.height / scale;
  return { box: { x: (src.width - width) / 2, y: (src.height - height) / 2, width, height }, scale };
}

const FILTERS: Record<ResizeFilter, { support: number; fn: (x: number) => number }> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, fn: (x) => Math.max(0, 1 - Math.abs(x)) },
  lanczos3: { support: 3, fn: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

interface Taps {
  /** First source index of each output sample. */
  first: Int32Array;
  count: Int32Array;
  /** `maxTaps` normalised weights per output sample. */
  weights: Float32Array;
  maxTaps: number;
}

/** Pillow's precompute_coeffs: the weights of `outSize` samples over [start, start + span) of `inSize`. */
function taps(inSize: number, start: number, span: number, outSize: number, filter: ResizeFilter): Taps {
  const f = FILTERS[filter];
  const scale = span / outSize;
  const fscale = Math.max(scale, 1);
  const support = f.support * fscale;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = start + (i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    let sum = 0;
    for (let x = lo; x < hi; x++) {
      const w = f.fn((x - center + 0.5) / fscale);
      weights[i * maxTaps + x - lo] = w;
      sum += w;
    }
    // The window always holds the nearest source pixel with a positive weight, so sum > 0.
    if (sum !== 0) for (let k = 0; k < hi - lo; k++) weights[i * maxTaps + k] /= sum;
    first[i] = lo;
    count[i] = hi - lo;
  }
  return { first, count, weights, maxTaps };
}

/**
 * Resizes `img` to cover `target`, centre-crops, and returns [3, H, W] floats in [-1, 1].
 * Pixels are composited over `background` (0..255 RGB) using their alpha.
 */
export function coverResize(img: DecodedImage, target: Size, filter: ResizeFilter = 'bilinear', background: Rgb = [255, 255, 255]): Float32Array {
  const { width: W, height: H, rgba } = img;
  if (rgba.length !== W * H * 4) throw new TypeError(`coverResize: ${rgba.length} bytes for ${W}×${H} RGBA`);
  const { box } = coverCrop(img, target);
  const tx = taps(W, box.x, box.width, target.width, filter);
  const ty = taps(H, box.y, box.height, target.height, filter);
  const rowLo = ty.first[0];
  const rowHi = ty.first[target.height - 1] + ty.count[target.height - 1];
  const ow = target.width;
  // Horizontal pass over only the rows the vertical pass reads: [rows, ow, 3] floats, small for any source.
  const mid = new Float32Array((rowHi - rowLo) * ow * 3);
  const [br, bg, bb] = background;
  for (let y = rowLo; y < rowHi; y++) {
    const srcRow = y * W * 4;
    const dstRow = (y - rowLo) * ow * 3;
    for (let i = 0; i < ow; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const lo = tx.first[i];
      for (let k = 0; k < tx.count[i]; k++) {
        const w = tx.weights[i * tx.maxTaps + k];
        const p = srcRow + (lo + k) * 4;
        const a = rgba[p + 3] / 255;
        r += w * (rgba[p] * a + br * (1 - a));
        g += w * (rgba[p + 1] * a + bg * (1 - a));
        b += w * (rgba[p + 2] * a + bb * (1 - a));
      }
      mid[dstRow + i * 3] = r;
      mid[dstRow + i * 3 + 1] = g;
      mid[dstRow + i * 3 + 2] = b;
    }
  }
  const oh = target.height;
  const plane = ow * oh;
  const out = new Float32Array(3 * plane);
  for (let j = 0; j < oh; j++) {
    const lo = ty.first[j] - rowLo;
    for (let i = 0; i < ow; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < ty.count[j]; k++) {
        const w = ty.weights[j * ty.maxTaps + k];
        const p = ((lo + k) * ow + i) * 3;
        r += w * mid[p];
        g += w * mid[p + 1];
        b += w * mid[p + 2];
      }
      const o = j * ow + i;
      out[o] = toUnit(r);
      out[plane + o] = toUnit(g);
      out[2 * plane + o] = toUnit(b);
    }
  }
  return out;
}

/** 0..255 -> [-1, 1], clamped (lanczos overshoots). */
function toUnit(v: number): number {
  return Math.min(1, Math.max(-1, v / 127.5 - 1));
}

/** RGBA at the final size (the browser's canvas path) -> [3, H, W] in [-1, 1], compositing any alpha left. */
export function rgbaToChw(rgba: Uint8ClampedArray, size: Size, background: Rgb = [255, 255, 255]): Float32Array {
  const plane = size.width * size.height;
  if (rgba.length !== plane * 4) throw new TypeError(`rgbaToChw: ${rgba.length} bytes for ${size.width}×${size.height} RGBA`);
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const a = rgba[i * 4 + 3] / 255;
    for (let c = 0; c < 3; c++) out[c * plane + i] = toUnit(rgba[i * 4 + c] * a + background[c] * (1 - a));
  }
  return out;
}
