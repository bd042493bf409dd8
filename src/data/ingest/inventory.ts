// First pass over the entries: normalise paths, drop hidden files, and sort every file into images, captions,
// JSONL files and the rest, by name alone; only files whose name does not say "PNG/JPEG/WebP" but might still be
// one (a .gif, a name without extension) are read here, to look at their first bytes.
import { basename, comparePaths, extension, isHiddenPath, normalizePath, pathKey } from './paths';
import type { ReportBuilder } from './report';
import { CAPTION_EXTENSIONS, hexHead, IMAGE_EXTENSIONS, KIND_LABEL, OTHER_IMAGE_EXTENSIONS, sniffImage, SUPPORTED_MIME } from './sniff';
import type { IngestEntry, IngestInput } from './types';

export interface FileRef {
  /** Normalised path. */
  path: string;
  entry: IngestEntry;
}

export interface Inventory {
  images: FileRef[];
  captions: FileRef[];
  jsonl: FileRef[];
  /** Files that may be PNG/JPEG/WebP under another name (.gif, no extension): `admitOddFiles` reads them. */
  odd: FileRef[];
  /** Every non-hidden file by pathKey, to tell "missing" from "present but not an image" in JSONL lookups. */
  byKey: Map<string, FileRef>;
}

export type ReadResult = { ok: true; bytes: Uint8Array } | { ok: false; error: string };

/** entry.read() that turns a failure into a value: a file that cannot be read is reported, never thrown. */
export async function safeRead(entry: IngestEntry): Promise<ReadResult> {
  let bytes: unknown;
  try {
    bytes = await entry.read();
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  // A read() that resolves to something else is the caller's bug, not the file's.
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`ingest: read() of ${entry.path} returned ${Object.prototype.toString.call(bytes)}, not a Uint8Array`);
  return { ok: true, bytes };
}

export function inputEntries(input: IngestInput): { entries: readonly IngestEntry[]; ignored: readonly string[] } {
  // Not `'entries' in input`: arrays have an entries() method.
  if (Array.isArray(input)) return { entries: input as readonly IngestEntry[], ignored: [] };
  const listing = input as Exclude<IngestInput, readonly IngestEntry[]>;
  return { entries: listing.entries, ignored: listing.ignored ?? [] };
}

/**
 * Sorts the files by name; reads nothing. Hidden files, files of other types and second files of one path are
 * reported here.
 */
export function takeInventory(input: IngestInput, report: ReportBuilder): Inventory {
  const { entries, ignored } = inputEntries(input);
  for (const p of ignored) report.skip('hidden-file', p, p.endsWith('/') ? 'hidden or system folder, not read' : 'hidden or system file, not read');
  const inv: Inventory = { images: [], captions: [], jsonl: [], odd: [], byKey: new Map() };
  const files: FileRef[] = [];
  for (const entry of entries) {
    if (!entry || typeof entry.path !== 'string' || typeof entry.read !== 'function') throw new TypeError('ingest: every entry needs a string path and a read() function');
  }
  // In order of the names as given, so which of two same-path files is kept never depends on the listing order.
  for (const entry of [...entries].sort((a, b) => comparePaths(a.path, b.path))) {
    const path = normalizePath(entry.path);
    if (path === null || path === '') {
      report.skip('unsupported-type', entry.path, 'the path is empty or climbs out of the dropped folder; it was not read');
      continue;
    }
    if (isHiddenPath(path)) {
      report.skip('hidden-file', path, 'hidden or system file, not read');
      continue;
    }
    // `a\b.png` beside `a/b.png`, or one name in NFC and NFD (a folder copied from a Mac), are one path here.
    const key = pathKey(path);
    const first = inv.byKey.get(key);
    if (first) {
      report.skip('duplicate-path', entry.path, `"${entry.path}" and "${first.entry.path}" are the same path, ${path}; "${first.entry.path}" was used`);
      continue;
    }
    const ref = { path, entry };
    inv.byKey.set(key, ref);
    files.push(ref);
  }
  files.sort((a, b) => comparePaths(a.path, b.path));
  for (const f of files) {
    const ext = extension(f.path);
    if (IMAGE_EXTENSIONS.has(ext)) inv.images.push(f);
    else if (CAPTION_EXTENSIONS.has(ext)) inv.captions.push(f);
    else if (ext === 'jsonl') inv.jsonl.push(f);
    else if (ext === '' || OTHER_IMAGE_EXTENSIONS.has(ext)) inv.odd.push(f);
    else report.skip('unsupported-type', f.path, `.${ext} files are not part of a dataset: ${hint(basename(f.path), ext)}`);
  }
  return inv;
}

/** Reads the odd files' first bytes: the ones that really are PNG/JPEG/WebP join the images (kept sorted). */
export async function admitOddFiles(inv: Inventory, report: ReportBuilder, onRead: () => void): Promise<void> {
  for (const f of inv.odd) {
    const ext = extension(f.path);
    const r = await safeRead(f.entry);
    onRead();
    if (!r.ok) {
      report.skip('unreadable-file', f.path, `could not be read: ${r.error}`);
      continue;
    }
    const kind = sniffImage(r.bytes);
    if (SUPPORTED_MIME[kind]) inv.images.push(f);
    else if (kind !== 'unknown') report.skip('unsupported-type', f.path, `${KIND_LABEL[kind]} images are not supported: convert it to PNG or JPEG`);
    else if (ext !== '') report.skip('unsupported-type', f.path, `named .${ext}, but it is not an image file (it starts with ${hexHead(r.bytes) || 'nothing: it is empty'})`);
    else report.skip('unsupported-type', f.path, 'no extension, and not a PNG, JPEG or WebP image');
  }
  inv.images.sort((a, b) => comparePaths(a.path, b.path));
}

function hint(name: string, ext: string): string {
  if (ext === 'json' || ext === 'csv') return `only JSONL (one JSON object per line) is read; convert ${name} to .jsonl`;
  if (ext === 'zip' || ext === 'tar' || ext === 'gz' || ext === '7z') return 'unpack the archive and drop the folder instead';
  return 'it was not read';
}
