// ingestDataset: a dropped folder (entries) -> decoded, resized, captioned examples + a report of everything.
//
//   takeInventory   sort files by name: images / captions / JSONL / odd (maybe images) / other   (reads nothing)
//   admitOddFiles   read the odd files' bytes: a .gif that is really a PNG becomes an image
//   detectFormat    captions | hf-metadata | reference-jsonl                                    (reads JSONL heads)
//   planImages      pair each image with its caption                                             (reads captions)
//   decodeAll       read, sniff, size from the header, decode, check size, resize to cover + crop -> CHW floats
//
// Bad files never throw: each lands in the report under a reason. Only misuse throws (a bad option, an entry
// without read(), a read() that resolves to something other than bytes) and an abort.
import type { TrainingData, TrainingExample } from '../../train/trainer';
import { normalizeCaption } from './caption';
import { detectFormat } from './detect';
import { admitOddFiles, safeRead, takeInventory, type FileRef, type ReadResult } from './inventory';
import { comparePaths, extension } from './paths';
import { planImages, type PlannedImage } from './plan';
import { checkImageSize } from './image-header';
import { IngestReport, ReportBuilder, type SkipReason } from './report';
import { coverCrop, coverResize, rgbaToChw } from './resize';
import { hexHead, KIND_LABEL, kindFromExtension, sniffImage, SUPPORTED_MIME } from './sniff';
import { ImageDecodeError, type DatasetFormat, type ImageDecodeErrorKind, type DecodedImage, type ImageDecoder, type ImageMime, type IngestExample, type IngestInput, type IngestOptions, type Rgb, type Size } from './types';

export interface IngestResult {
  format: DatasetFormat;
  /** Sorted by path. */
  examples: IngestExample[];
  report: IngestReport;
  resolution: Size;
}

const REASON_OF_KIND: Record<ImageDecodeErrorKind, SkipReason> = {
  corrupt: 'corrupt-image',
  unsupported: 'unsupported-image',
  'too-large': 'image-too-large',
  unavailable: 'decoder-unavailable',
};

const DEFAULT_MIN_SIZE = 8;
const DEFAULT_CONCURRENCY = 4;

function resolutionOf(r: IngestOptions['resolution']): Size {
  const s = typeof r === 'number' ? { width: r, height: r } : r;
  if (!s || !Number.isInteger(s.width) || !Number.isInteger(s.height) || s.width < 1 || s.height < 1) {
    throw new TypeError(`ingest: resolution must be a positive integer or {width, height} of positive integers, got ${JSON.stringify(r)}`);
  }
  return { width: s.width, height: s.height };
}

export async function ingestDataset(input: IngestInput, options: IngestOptions): Promise<IngestResult> {
  const resolution = resolutionOf(options.resolution);
  if (!options.decoder || typeof options.decoder.decode !== 'function') throw new TypeError('ingest: options.decoder must be an ImageDecoder');
  const signal = options.signal;
  signal?.throwIfAborted();
  const report = new ReportBuilder();

  const inv = takeInventory(input, report);
  // Scan progress counts the small reads before decoding: odd files, JSONL files, caption files (an upper bound,
  // since a format may not read all of them; it jumps to the total when the scan ends).
  const scan = { done: 0, total: inv.odd.length + inv.jsonl.length + inv.captions.length };
  const tick = () => {
    scan.done = Math.min(scan.total, scan.done + 1);
    signal?.throwIfAborted();
    options.onProgress?.({ phase: 'scan', done: scan.done, total: scan.total });
  };
  await admitOddFiles(inv, report, tick);
  const reads = new Map<FileRef, ReadResult>();
  const detection = await detectFormat(inv, options.format ?? 'auto', reads);
  const planned = await planImages(inv, detection, reads, report, tick);
  options.onProgress?.({ phase: 'scan', done: scan.total, total: scan.total });

  const examples = await decodeAll(planned, resolution, options, report);
  return {
    format: detection.format,
    examples,
    resolution,
    report: report.finish({
      format: detection.format,
      formatReason: detection.reason,
      decoder: options.decoder.name,
      resolution,
      taken: examples.map((e) => e.path),
    }),
  };
}

async function decodeAll(planned: PlannedImage[], target: Size, options: IngestOptions, report: ReportBuilder): Promise<IngestExample[]> {
  const sorted = [...planned].sort((a, b) => comparePaths(a.path, b.path));
  const results: Array<IngestExample | undefined> = new Array(sorted.length);
  const total = sorted.length;
  let next = 0;
  let done = 0;
  options.onProgress?.({ phase: 'decode', done, total });
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
  // A small pool: results land by index, so the order never depends on which decode finishes first.
  const worker = async () => {
    while (next < sorted.length) {
      const i = next++;
      options.signal?.throwIfAborted();
      results[i] = await decodeOne(sorted[i], target, options, report);
      done++;
      options.onProgress?.({ phase: 'decode', done, total });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sorted.length) }, worker));
  return results.filter((x): x is IngestExample => x !== undefined);
}

async function decodeOne(p: PlannedImage, target: Size, options: IngestOptions, report: ReportBuilder): Promise<IngestExample | undefined> {
  const caption = normalizeCaption(p.rawCaption);
  if (caption === '') {
    report.skip('empty-caption', p.path, `the caption from ${p.captionSource} is empty or only whitespace`);
    return undefined;
  }
  const r = await safeRead(p.entry);
  if (!r.ok) {
    report.skip('unreadable-file', p.path, `could not be read: ${r.error}`);
    return undefined;
  }
  const mime = sniffMime(p.path, r.bytes, report);
  if (!mime) return undefined;
  const background: Rgb = options.background ?? [255, 255, 255];
  let px: Pixels;
  try {
    // The size from the header first, whatever the decoder: no decoder is handed an image it would allocate
    // gigabytes for (image-header.ts).
    checkImageSize(r.bytes, mime);
    px = await decodePixels(r.bytes, mime, target, options.decoder, background);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    const kind = e instanceof ImageDecodeError ? e.kind : 'corrupt'; // createImageBitmap's DOMException included
    report.skip(REASON_OF_KIND[kind], p.path, e instanceof Error ? e.message : String(e));
    return undefined;
  }
  const { width, height } = px;
  const minSize = options.minSize ?? DEFAULT_MIN_SIZE;
  if (Math.min(width, height) < minSize) {
    report.skip('image-too-small', p.path, `${width}×${height} px; the shorter side must be at least ${minSize} px`);
    return undefined;
  }
  const image = px.image ?? coverResize(px.full!, target, options.filter ?? 'bilinear', background);

  // Warnings only for images that are taken: a skipped one has its reason already.
  const kind = sniffImage(r.bytes);
  const ext = extension(p.path);
  if (kindFromExtension(ext) !== kind) {
    report.warn('wrong-extension', p.path, `${ext ? `named .${ext}` : 'has no extension'}, but it is a ${KIND_LABEL[kind]} file; taken as ${KIND_LABEL[kind]} (rename it to keep other tools happy)`);
  }
  if (isFlat(image)) {
    report.warn('flat-image', p.path, 'every pixel has the same colour (a blank render or a failed export?): check it, or delete it');
  }
  const tokens = options.captionTokens;
  if (tokens) {
    const n = tokens.count(caption);
    if (n > tokens.max) report.warn('caption-cut', p.path, `its caption is ${n} tokens; the text encoder reads ${tokens.max}, so the last ${n - tokens.max} are cut: shorten it, or put what matters first`);
  }
  const { scale } = coverCrop({ width, height }, target);
  if (scale > 1) {
    report.warn('upscaled', p.path, `${width}×${height} px, smaller than the ${target.width}×${target.height} training resolution: upscaled ×${scale.toFixed(2)}`);
  }
  return { id: p.id, path: p.path, caption, rawCaption: p.rawCaption, captionSource: p.captionSource, image, width, height, mime, ...(p.bucket ? { bucket: p.bucket } : {}) };
}

/** Every value within 1/255 of the first of its channel: an image of one flat colour. */
function isFlat(image: Float32Array): boolean {
  const plane = image.length / 3;
  for (let c = 0; c < 3; c++) {
    const first = image[c * plane];
    for (let i = 1; i < plane; i++) if (Math.abs(image[c * plane + i] - first) > 2 / 255) return false;
  }
  return true;
}

/** The MIME type from the bytes, or undefined after reporting why the file is not a usable image. */
function sniffMime(path: string, bytes: Uint8Array, report: ReportBuilder): ImageMime | undefined {
  if (bytes.length === 0) {
    report.skip('corrupt-image', path, 'the file is empty (0 bytes)');
    return undefined;
  }
  const kind = sniffImage(bytes);
  const mime = SUPPORTED_MIME[kind];
  if (mime) return mime;
  if (kind === 'unknown') report.skip('corrupt-image', path, `not a PNG, JPEG or WebP file: it starts with ${hexHead(bytes)}`);
  else report.skip('unsupported-type', path, `it is a ${KIND_LABEL[kind]} file; ${KIND_LABEL[kind]} images are not supported: convert it to PNG or JPEG`);
  return undefined;
}

/** Original size plus either the final CHW image (decoder did the resize) or the full-size pixels. */
interface Pixels {
  width: number;
  height: number;
  image?: Float32Array;
  full?: DecodedImage;
}

/** Throws what the decoder throws; output of the wrong size (a damaged image the decoder let through) too. */
async function decodePixels(bytes: Uint8Array, mime: ImageMime, target: Size, decoder: ImageDecoder, background: Rgb): Promise<Pixels> {
  if (decoder.decodeCover) {
    const c = await decoder.decodeCover(bytes, mime, target, background);
    if (c.rgba.length !== target.width * target.height * 4) throw new ImageDecodeError('corrupt', `the decoder returned ${c.rgba.length} bytes for ${target.width}×${target.height} RGBA`);
    return { width: c.width, height: c.height, image: rgbaToChw(c.rgba, target, background) };
  }
  const full = await decoder.decode(bytes, mime);
  if (full.rgba.length !== full.width * full.height * 4) throw new ImageDecodeError('corrupt', `the decoder returned ${full.rgba.length} bytes for ${full.width}×${full.height} RGBA`);
  return { width: full.width, height: full.height, full };
}

/** The trainer's view of an ingest result: images and normalised captions, in the result's (sorted) order. */
export function toTrainingData(result: Pick<IngestResult, 'examples'>): TrainingData {
  const examples: TrainingExample[] = result.examples.map((e) => ({ image: e.image, caption: e.caption }));
  return {
    size: examples.length,
    example(i: number): TrainingExample {
      if (!(Number.isInteger(i) && i >= 0 && i < examples.length)) throw new RangeError(`dataset example ${i} is outside 0..${examples.length - 1}`);
      return examples[i];
    },
  };
}
