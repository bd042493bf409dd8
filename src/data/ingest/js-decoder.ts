// The pure-JS decoder used in Node (tests, CLI): PNG with our decoder over fflate's inflate, JPEG with jpeg-js
// (pure JS, no dependencies, loaded on first use so it stays out of bundles that never meet a JPEG). WebP has no
// small pure-JS decoder, so it is reported as unavailable here; the browser decoder reads it.
//
// Differences from the browser path, by design: no EXIF orientation (a phone photo stored sideways stays
// sideways; createImageBitmap rotates it) and no colour management (ICC profiles are ignored; the browser converts
// to sRGB). The resize is coverResize (resize.ts), the same in both when the browser decoder runs with resize: 'js'.
import { checkImageSize, jpegDecodeBytes, MAX_IMAGE_PIXELS } from './image-header';
import { decodePng } from './png-decode';
import { ImageDecodeError, type DecodedImage, type ImageDecoder, type ImageMime } from './types';

type JpegDecode = (data: Uint8Array, opts: { useTArray: true; formatAsRGBA: true; tolerantDecoding: boolean; maxResolutionInMP: number; maxMemoryUsageInMB: number }) => { width: number; height: number; data: Uint8Array };

let jpegDecode: Promise<JpegDecode> | undefined;

function loadJpeg(): Promise<JpegDecode> {
  // jpeg-js is CommonJS: its functions are on the namespace or under `default` depending on the loader.
  jpegDecode ??= import('jpeg-js').then((m) => {
    const mod = m as unknown as { decode?: JpegDecode; default?: { decode: JpegDecode } };
    const fn = mod.decode ?? mod.default?.decode;
    if (!fn) throw new Error('jpeg-js has no decode export');
    return fn;
  });
  return jpegDecode;
}

export interface JsDecoderOptions {
  /**
   * A ceiling on jpeg-js's memory cap per image (default 1536 MiB: a 50 MP photo with 4 full-resolution
   * components needs about 1350; its own default of 512 refuses some 40 MP photos). Below it, the cap is what the
   * header's size needs (jpegDecodeBytes), after checkImageSize has refused oversized headers.
   */
  maxJpegMemoryMB?: number;
}

export function createJsImageDecoder(opts: JsDecoderOptions = {}): ImageDecoder {
  return {
    name: 'the built-in JS decoder (PNG, JPEG)',
    async decode(bytes: Uint8Array, mime: ImageMime): Promise<DecodedImage> {
      if (mime === 'image/png') return decodePng(bytes);
      if (mime === 'image/jpeg') {
        // jpeg-js allocates every block of the frame as soon as it reads the header: the size is checked first.
        // jpeg-js's own cap is then what that header needs, so a second, larger frame header is refused too.
        const size = checkImageSize(bytes, mime);
        const decode = await loadJpeg();
        const maxMemoryUsageInMB = Math.min(opts.maxJpegMemoryMB ?? 1536, Math.ceil(jpegDecodeBytes(size) / (1 << 20)));
        let img: { width: number; height: number; data: Uint8Array };
        try {
          // tolerantDecoding off: a truncated JPEG is an error here, not a half-grey image to train on.
          img = decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB });
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          if (/maxMemoryUsageInMB|maxResolutionInMP/.test(message)) {
            throw new ImageDecodeError('too-large', `decoding it would take more than the ${maxMemoryUsageInMB} MB its ${size.width}×${size.height} header allows (${message}): downscale or re-save it`);
          }
          throw new ImageDecodeError('corrupt', `the JPEG data is damaged or unsupported (${message})`);
        }
        if (!img.width || !img.height || img.data.length !== img.width * img.height * 4) {
          throw new ImageDecodeError('corrupt', 'the JPEG decoded to no pixels');
        }
        return { width: img.width, height: img.height, rgba: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length) };
      }
      throw new ImageDecodeError('unavailable', 'WebP decoding is only available in the browser: load the folder in the studio, or convert the image to PNG or JPEG for the command line');
    },
  };
}
