// The browser decoder: createImageBitmap (decodes off the main thread, honours EXIF orientation, converts to
// sRGB) and an OffscreenCanvas, so it works in the training worker as well as on the page.
//
// With resize: 'canvas' (the default) the resize-to-cover and centre crop happen in drawImage with
// imageSmoothingQuality 'high', which reads back only target-sized pixels: fast for big photos. The browser picks
// the filter, so pixels differ slightly from the Node path. With resize: 'js' the full image is read back and
// resized by coverResize (resize.ts), bit-for-bit the Node path's resize; use it when the two must agree.
import { checkImageSize } from './image-header';
import { coverCrop } from './resize';
import { ImageDecodeError, type CoverImage, type DecodedImage, type ImageDecoder, type ImageMime, type Rgb, type Size } from './types';

export interface BrowserDecoderOptions {
  resize?: 'canvas' | 'js';
}

async function bitmapOf(bytes: Uint8Array, mime: ImageMime): Promise<ImageBitmap> {
  // createImageBitmap allocates the full declared size (and may take the tab down doing it): the header first.
  checkImageSize(bytes, mime);
  // Blob wants ArrayBuffer-backed views; a copy is made only when the bytes sit in a SharedArrayBuffer.
  const part = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  try {
    return await createImageBitmap(new Blob([part], { type: mime }), { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch (e) {
    // Chrome says only "The source image could not be decoded." for every kind of damage.
    throw new ImageDecodeError('corrupt', `the browser could not decode it (${e instanceof Error ? e.message : String(e)})`);
  }
}

function context(width: number, height: number): OffscreenCanvasRenderingContext2D {
  if (typeof OffscreenCanvas === 'undefined') {
    throw new ImageDecodeError('unavailable', 'this browser has no OffscreenCanvas: use a current Chrome, Edge or Firefox');
  }
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ImageDecodeError('unavailable', 'could not get a 2D canvas context to read the pixels');
  return ctx;
}

export function createBrowserImageDecoder(opts: BrowserDecoderOptions = {}): ImageDecoder {
  const decoder: ImageDecoder = {
    name: `the browser (${opts.resize === 'js' ? 'JS resize' : 'canvas resize'})`,
    async decode(bytes: Uint8Array, mime: ImageMime): Promise<DecodedImage> {
      const bitmap = await bitmapOf(bytes, mime);
      try {
        const { width, height } = bitmap;
        const ctx = context(width, height);
        ctx.drawImage(bitmap, 0, 0);
        return { width, height, rgba: ctx.getImageData(0, 0, width, height).data };
      } finally {
        bitmap.close();
      }
    },
  };
  if (opts.resize !== 'js') {
    decoder.decodeCover = async (bytes: Uint8Array, mime: ImageMime, target: Size, background: Rgb): Promise<CoverImage> => {
      const bitmap = await bitmapOf(bytes, mime);
      try {
        const { width, height } = bitmap;
        const ctx = context(target.width, target.height);
        // Filling first composites transparency over the background, as coverResize does.
        ctx.fillStyle = `rgb(${background[0]}, ${background[1]}, ${background[2]})`;
        ctx.fillRect(0, 0, target.width, target.height);
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = 'high';
        const { box } = coverCrop({ width, height }, target);
        ctx.drawImage(bitmap, box.x, box.y, box.width, box.height, 0, 0, target.width, target.height);
        return { width, height, rgba: ctx.getImageData(0, 0, target.width, target.height).data };
      } finally {
        bitmap.close();
      }
    };
  }
  return decoder;
}
