// Pixels for the UI and for files: the model's CHW float images in [-1, 1] become RGBA8 (`ImageData`-ready), and
// RGBA becomes JPEG bytes for the reference bundle.
import type { RgbaImage } from './protocol';

export interface ChwLayout {
  channels: number;
  height: number;
  width: number;
}

/**
 * One CHW image (starting at `offset` in `data`) as RGBA8: x ∈ [-1, 1] ↦ round((x + 1)/2 · 255), clamped (models
 * overshoot). One channel is shown as grey; a fourth and further channels are ignored. `scale` divides the values
 * first: velocities are drawn with their max |v| as 1 (see `maxAbs`).
 */
export function chwToRgba(data: ArrayLike<number>, layout: ChwLayout, offset = 0, scale = 1): RgbaImage {
  const { channels, height, width } = layout;
  const plane = height * width;
  if (offset + channels * plane > data.length) throw new RangeError(`chwToRgba: ${data.length} values cannot hold a ${channels}×${height}×${width} image at ${offset}`);
  const rgba = new Uint8ClampedArray(plane * 4);
  const chan = (c: number) => offset + Math.min(c, channels - 1) * plane;
  const r = chan(0);
  const g = chan(1);
  const b = chan(2);
  for (let i = 0; i < plane; i++) {
    rgba[4 * i] = toByte(data[r + i] / scale);
    rgba[4 * i + 1] = toByte(data[g + i] / scale);
    rgba[4 * i + 2] = toByte(data[b + i] / scale);
    rgba[4 * i + 3] = 255;
  }
  return { width, height, rgba };
}

function toByte(x: number): number {
  if (!(x > -1)) return 0; // NaN too
  if (x >= 1) return 255;
  return Math.round(((x + 1) / 2) * 255);
}

/** Image `index` of a batch [B, C, H, W] held as one flat array. */
export function batchImage(data: ArrayLike<number>, shape: readonly number[], index: number, scale = 1): RgbaImage {
  const [B, channels, height, width] = shape;
  if (shape.length !== 4 || !(index >= 0 && index < B)) throw new RangeError(`batchImage: image ${index} of a batch [${shape.join(', ')}]`);
  return chwToRgba(data, { channels, height, width }, index * channels * height * width, scale);
}

/** Largest |x| of one image in a batch (1 when all zero), to draw a velocity so its structure shows. */
export function maxAbs(data: ArrayLike<number>, start: number, length: number): number {
  let m = 0;
  for (let i = start; i < start + length; i++) {
    const a = Math.abs(data[i]);
    if (a > m) m = a;
  }
  return m > 0 && Number.isFinite(m) ? m : 1;
}

/** A CHW float image in [-1, 1] as 8-bit RGBA (for the encoders). */
export function chwToRgbaBytes(image: Float32Array, size: { width: number; height: number }): Uint8ClampedArray {
  return chwToRgba(image, { channels: image.length / (size.width * size.height), height: size.height, width: size.width }).rgba;
}

/** Encodes RGBA8 pixels as an image file (JPEG for the reference bundle). */
export type ImageEncoder = (rgba: Uint8ClampedArray, width: number, height: number) => Promise<Uint8Array>;

/** JPEG quality of bundle images: high, since the images are small and the reference trainer re-reads them. */
export const JPEG_QUALITY = 95;

/**
 * The browser's JPEG encoder (OffscreenCanvas.convertToBlob, available in workers). Null where there is no
 * OffscreenCanvas (Node: use `jpegJsEncoder`).
 */
export function canvasJpegEncoder(): ImageEncoder | null {
  if (typeof OffscreenCanvas === 'undefined') return null;
  return async (rgba, width, height) => {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('could not get a 2D canvas context to encode a JPEG');
    ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY / 100 });
    return new Uint8Array(await blob.arrayBuffer());
  };
}

type JpegEncode = (img: { data: Uint8Array | Uint8ClampedArray; width: number; height: number }, quality: number) => { data: Uint8Array };

/**
 * jpeg-js's pure-JS encoder, for Node (tests, CLI). Not used in the browser bundle: its CommonJS build returns a
 * Node Buffer, which a worker does not have.
 */
export function jpegJsEncoder(): ImageEncoder {
  let encode: Promise<JpegEncode> | undefined;
  return async (rgba, width, height) => {
    encode ??= import('jpeg-js').then((m) => {
      const mod = m as unknown as { encode?: JpegEncode; default?: { encode: JpegEncode } };
      const fn = mod.encode ?? mod.default?.encode;
      if (!fn) throw new Error('jpeg-js has no encode export');
      return fn;
    });
    const out = (await encode)({ data: rgba, width, height }, JPEG_QUALITY);
    return new Uint8Array(out.data); // a plain Uint8Array copy of the Buffer
  };
}
