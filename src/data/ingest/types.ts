// Shared types of dataset ingestion: what goes in (entries), the decoder seam, and what comes out.
// Pure types, no DOM and no node: imports, so the browser worker and the Node CLI share them.

/** One file of a dropped folder. The ingester only ever calls read(); it never writes. */
export interface IngestEntry {
  /** Relative to the dropped folder's root, '/'-separated (`photos/cat.png`), or a bare file name. */
  readonly path: string;
  readonly size: number;
  read(): Promise<Uint8Array>;
}

/** What the folder walkers return: the files, and the hidden files/folders they left out (for the report). */
export interface EntryListing {
  entries: IngestEntry[];
  /** Hidden or system files and folders that were not listed (`.DS_Store`, `__MACOSX/`); folders end in '/'. */
  ignored: string[];
}

export type IngestInput = readonly IngestEntry[] | { readonly entries: readonly IngestEntry[]; readonly ignored?: readonly string[] };

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/webp';

/** Straight (not premultiplied) 8-bit RGBA, row-major. */
export interface DecodedImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface Size {
  width: number;
  height: number;
}

/** An image already resized to cover `target` and centre-cropped; `width`/`height` are the original's. */
export interface CoverImage {
  width: number;
  height: number;
  /** target.width × target.height RGBA, alpha already composited over the background. */
  rgba: Uint8ClampedArray;
}

/**
 * The decoding seam. Implementations throw `ImageDecodeError` for a bad or unsupported image; any other error is
 * reported as a corrupt image too, with its message.
 */
export interface ImageDecoder {
  /** Shown in the report ("decoded by: browser (canvas)"). */
  readonly name: string;
  decode(bytes: Uint8Array, mime: ImageMime): Promise<DecodedImage>;
  /**
   * Optional fast path: decode, resize to cover `target` and centre-crop in one go (the browser does this on a
   * canvas instead of reading back the full-size pixels). Without it the ingester uses `decode` + `coverResize`.
   */
  decodeCover?(bytes: Uint8Array, mime: ImageMime, target: Size, background: Rgb): Promise<CoverImage>;
}

export type Rgb = readonly [number, number, number];

/** 'too-large': over the studio's image size limit (image-header.ts), refused before anything is allocated. */
export type ImageDecodeErrorKind = 'corrupt' | 'unsupported' | 'too-large' | 'unavailable';

/** A decoder's way of saying why an image cannot be used; `kind` picks the report reason. */
export class ImageDecodeError extends Error {
  constructor(
    readonly kind: ImageDecodeErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

export type ResizeFilter = 'box' | 'bilinear' | 'lanczos3';

export type DatasetFormat = 'captions' | 'hf-metadata' | 'reference-jsonl';

export interface IngestProgress {
  /** 'scan': reading captions/JSONL and sorting out files; 'decode': decoding and resizing images. */
  phase: 'scan' | 'decode';
  done: number;
  total: number;
}

export interface IngestOptions {
  /** Output size of every image: a number for a square, or width/height (the model's resolution). */
  resolution: number | Size;
  decoder: ImageDecoder;
  /** 'auto' (default) picks from the files present; see detect.ts for the rules. */
  format?: DatasetFormat | 'auto';
  /** Images whose shorter side is below this are skipped (default 8 px). */
  minSize?: number;
  /** Filter of the pure-TS resize (default 'bilinear', antialiased like Pillow's). Ignored by `decodeCover`. */
  filter?: ResizeFilter;
  /** Transparent pixels are composited over this colour (default white), on every path. */
  background?: Rgb;
  /** Images decoded at once (default 4): createImageBitmap decodes off-thread, so a few in flight help. */
  concurrency?: number;
  onProgress?: (p: IngestProgress) => void;
  signal?: AbortSignal;
  /** The text encoder's token count of a caption and how many it reads: longer captions get a warning. */
  captionTokens?: { count: (caption: string) => number; max: number };
}

export interface IngestExample {
  /** Stable id: the md5 for the reference JSONL, else the image path. */
  id: string;
  /** The image's path in the dropped folder. */
  path: string;
  /** Normalised caption (trimmed, whitespace collapsed): what the trainer sees. */
  caption: string;
  /** The caption as written in its file, for display and editing. */
  rawCaption: string;
  /** Where the caption came from: `cat.txt`, `metadata.jsonl:12`. */
  captionSource: string;
  /** [3, H, W] float in [-1, 1] at the requested resolution. */
  image: Float32Array;
  /** Original size of the image. */
  width: number;
  height: number;
  mime: ImageMime;
  /** The reference JSONL's (bw, bh) bucket, when the row has one. */
  bucket?: Size;
}
