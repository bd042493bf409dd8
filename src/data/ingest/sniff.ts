// What a file really is, from its first bytes, and what its extension claims. Extensions lie (a PNG saved as
// .jpg is common), so the bytes decide; the extension only decides which files are worth reading at all.
import type { ImageMime } from './types';

export type SniffedKind = 'png' | 'jpeg' | 'webp' | 'gif' | 'bmp' | 'tiff' | 'avif' | 'heic' | 'ico' | 'unknown';

export const SUPPORTED_MIME: Partial<Record<SniffedKind, ImageMime>> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** Extensions of the image types we decode. */
export const IMAGE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'jpe', 'jfif', 'webp']);
/** Image types we recognise but do not train on: read only to check whether they are really PNG/JPEG/WebP. */
export const OTHER_IMAGE_EXTENSIONS = new Set(['gif', 'bmp', 'tif', 'tiff', 'avif', 'heic', 'heif', 'ico', 'jxl', 'svg', 'psd']);
export const CAPTION_EXTENSIONS = new Set(['txt', 'caption']);

const EXTENSION_KIND: Record<string, SniffedKind> = {
  png: 'png',
  jpg: 'jpeg',
  jpeg: 'jpeg',
  jpe: 'jpeg',
  jfif: 'jpeg',
  webp: 'webp',
  gif: 'gif',
  bmp: 'bmp',
  tif: 'tiff',
  tiff: 'tiff',
  avif: 'avif',
  heic: 'heic',
  heif: 'heic',
  ico: 'ico',
};

export function kindFromExtension(ext: string): SniffedKind | undefined {
  return EXTENSION_KIND[ext];
}

function ascii(bytes: Uint8Array, at: number, text: string): boolean {
  if (bytes.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

export function sniffImage(bytes: Uint8Array): SniffedKind {
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(bytes, 1, 'PNG\r\n\x1a\n')) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return 'webp';
  if (ascii(bytes, 0, 'GIF87a') || ascii(bytes, 0, 'GIF89a')) return 'gif';
  if (ascii(bytes, 0, 'BM') && bytes.length >= 26) return 'bmp';
  if (ascii(bytes, 0, 'II*\0') || ascii(bytes, 0, 'MM\0*')) return 'tiff';
  if (ascii(bytes, 4, 'ftyp')) {
    if (ascii(bytes, 8, 'avif') || ascii(bytes, 8, 'avis')) return 'avif';
    if (ascii(bytes, 8, 'heic') || ascii(bytes, 8, 'heix') || ascii(bytes, 8, 'mif1')) return 'heic';
  }
  if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 1 && bytes[3] === 0) return 'ico';
  return 'unknown';
}

export const KIND_LABEL: Record<SniffedKind, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  gif: 'GIF',
  bmp: 'BMP',
  tiff: 'TIFF',
  avif: 'AVIF',
  heic: 'HEIC',
  ico: 'ICO',
  unknown: 'unknown',
};

/** First bytes in hex, for messages about files that are not what they claim. */
export function hexHead(bytes: Uint8Array, n = 8): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
