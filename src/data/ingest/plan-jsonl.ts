// The two JSONL formats.
//  'hf-metadata': Hugging Face imagefolder. Each metadata.jsonl row is {"file_name": ..., "text": ...}, with
//    file_name relative to the folder of that metadata.jsonl.
//  'reference-jsonl': the reference trainer (soar/utils/data.py). Rows are {md5, caption_en, bw, bh}; the image is
//    `{md5}.jpg`. We also take .jpeg/.png/.webp of that name (a folder re-encoded for size), preferring .jpg, then
//    the file closest to the JSONL. caption_en may be a JSON string; see pickReferenceCaption.
// In both, images that no row names are skipped as uncaptioned, and every bad row is reported with its line.
import { pickReferenceCaption } from './caption';
import { parseJsonl, type JsonlRow } from './jsonl';
import { safeRead, type FileRef, type Inventory, type ReadResult } from './inventory';
import { basename, comparePaths, dirname, extension, isAbsolutePath, joinPath, normalizePath, pathKey, stemPath } from './paths';
import type { ReportBuilder } from './report';
import type { PlannedImage } from './plan';

/** Reads and parses each JSONL (cached bytes first), reporting unreadable files and unparsable lines. */
async function rowsOf(files: FileRef[], reads: Map<FileRef, ReadResult>, report: ReportBuilder, onRead: () => void): Promise<Array<{ file: FileRef; rows: JsonlRow[] }>> {
  const out: Array<{ file: FileRef; rows: JsonlRow[] }> = [];
  for (const file of [...files].sort((a, b) => comparePaths(a.path, b.path))) {
    const r = reads.get(file) ?? (await safeRead(file.entry));
    onRead();
    if (!r.ok) {
      report.skip('unreadable-file', file.path, `could not be read, so none of its rows were used: ${r.error}`);
      continue;
    }
    const { rows, bad } = parseJsonl(r.bytes);
    for (const b of bad) report.skip('jsonl-parse-error', file.path, `not valid JSON (${b.error}); fix or delete this line`, b.line);
    out.push({ file, rows });
  }
  return out;
}

function keysOf(o: Record<string, unknown>): string {
  const k = Object.keys(o);
  return k.length ? k.join(', ') : 'none';
}

export async function planHfMetadata(inv: Inventory, metas: FileRef[], reads: Map<FileRef, ReadResult>, report: ReportBuilder, onRead: () => void): Promise<PlannedImage[]> {
  const images = new Map(inv.images.map((f) => [pathKey(f.path), f]));
  const used = new Map<string, string>(); // image key -> "metadata.jsonl:line" that captioned it
  const planned: PlannedImage[] = [];
  for (const { file, rows } of await rowsOf(metas, reads, report, onRead)) {
    const dir = dirname(file.path);
    for (const { line, value } of rows) {
      const name = value.file_name;
      const text = value.text;
      const missing = [typeof name === 'string' && name !== '' ? '' : 'file_name', typeof text === 'string' ? '' : 'text'].filter(Boolean);
      if (missing.length) {
        report.skip('jsonl-missing-field', file.path, `needs a string ${missing.map((m) => `"${m}"`).join(' and ')}; this row has: ${keysOf(value)}`, line);
        continue;
      }
      if (isAbsolutePath(name as string)) {
        report.skip('jsonl-bad-path', file.path, `file_name "${name}" is an absolute path, so it was not looked up: write it relative to the folder of this metadata.jsonl (${basename(normalizePath(name as string) || 'img.png')} for an image beside it)`, line);
        continue;
      }
      const path = normalizePath(joinPath(dir, name as string));
      if (path === null) {
        report.skip('jsonl-image-missing', file.path, `file_name "${name}" points outside the dropped folder`, line);
        continue;
      }
      const key = pathKey(path);
      const img = images.get(key);
      if (!img) {
        const present = inv.byKey.get(key);
        report.skip('jsonl-image-missing', file.path, present ? `file_name "${name}" is not a PNG, JPEG or WebP image` : `file_name "${name}": there is no ${path} in the folder`, line);
        continue;
      }
      const earlier = used.get(key);
      if (earlier) {
        report.skip('duplicate-row', file.path, `${img.path} is already captioned by ${earlier}`, line);
        continue;
      }
      const source = `${file.path}:${line}`;
      used.set(key, source);
      planned.push({ path: img.path, entry: img.entry, id: img.path, rawCaption: text as string, captionSource: source });
    }
  }
  for (const f of inv.images) {
    if (!used.has(pathKey(f.path))) report.skip('no-caption', f.path, `no row of ${metas.map((m) => m.path).join(', ')} has file_name for it`);
  }
  return planned;
}

const REFERENCE_EXT_ORDER = ['jpg', 'jpeg', 'png', 'webp'];

/** How far an image is from a JSONL's folder: same folder 0, a subfolder 1 + depth, elsewhere after both. */
function distance(imagePath: string, jsonlDir: string): number {
  const d = dirname(imagePath);
  if (d === jsonlDir) return 0;
  if (jsonlDir === '' || d.startsWith(jsonlDir + '/')) return 1 + d.slice(jsonlDir.length).split('/').length;
  return 1000;
}

function extRank(path: string): number {
  const i = REFERENCE_EXT_ORDER.indexOf(extension(path));
  return i < 0 ? REFERENCE_EXT_ORDER.length : i;
}

export async function planReference(inv: Inventory, refs: FileRef[], reads: Map<FileRef, ReadResult>, report: ReportBuilder, onRead: () => void): Promise<PlannedImage[]> {
  // md5 hex is case-insensitive; file names on a case-sensitive disk may be either case.
  const byMd5 = new Map<string, FileRef[]>();
  for (const f of inv.images) {
    const k = basename(stemPath(f.path)).toLowerCase();
    const g = byMd5.get(k);
    if (g) g.push(f);
    else byMd5.set(k, [f]);
  }
  const used = new Map<string, string>(); // md5 -> "data.jsonl:line"
  const settled = new Set<FileRef>(); // images taken or already reported as a duplicate
  const planned: PlannedImage[] = [];
  for (const { file, rows } of await rowsOf(refs, reads, report, onRead)) {
    const dir = dirname(file.path);
    for (const { line, value } of rows) {
      const md5 = typeof value.md5 === 'string' ? value.md5.trim() : '';
      const missing = [md5 ? '' : 'md5', 'caption_en' in value ? '' : 'caption_en'].filter(Boolean);
      if (missing.length) {
        report.skip('jsonl-missing-field', file.path, `needs ${missing.map((m) => `"${m}"`).join(' and ')}${md5 || !('md5' in value) ? '' : ' (a non-empty string)'}; this row has: ${keysOf(value)}`, line);
        continue;
      }
      const cap = pickReferenceCaption(value.caption_en);
      if (!cap.ok) {
        report.skip('jsonl-missing-field', file.path, `md5 ${md5}: ${cap.problem}`, line);
        continue;
      }
      const key = md5.toLowerCase();
      const candidates = (byMd5.get(key) ?? []).slice().sort((a, b) => distance(a.path, dir) - distance(b.path, dir) || extRank(a.path) - extRank(b.path) || comparePaths(a.path, b.path));
      if (candidates.length === 0) {
        report.skip('jsonl-image-missing', file.path, `md5 ${md5}: no ${md5}.jpg (or .png/.webp) in the folder`, line);
        continue;
      }
      const earlier = used.get(key);
      if (earlier) {
        report.skip('duplicate-row', file.path, `md5 ${md5} is already used by ${earlier}`, line);
        continue;
      }
      const source = `${file.path}:${line}`;
      used.set(key, source);
      const [img, ...rest] = candidates;
      settled.add(img);
      for (const other of rest) {
        if (settled.has(other)) continue;
        settled.add(other);
        report.skip('duplicate-basename', other.path, `has the same md5 name as ${img.path}, which is used for ${source}`);
      }
      const bucket = readBucket(value);
      if (!bucket) report.warn('missing-bucket', file.path, `md5 ${md5}: bw/bh missing or not positive integers; the studio crops to its own resolution, but an export for the reference trainer needs them`, line);
      planned.push({ path: img.path, entry: img.entry, id: md5, rawCaption: cap.text, captionSource: source, ...(bucket ? { bucket } : {}) });
    }
  }
  for (const f of inv.images) {
    if (!settled.has(f)) report.skip('no-caption', f.path, `no row of ${refs.map((r) => r.path).join(', ')} has md5 "${basename(stemPath(f.path))}"`);
  }
  return planned;
}

/** A number, or a string of one; anything else is no number (Number() of a deeply nested array overflows the stack). */
function numeric(x: unknown): number {
  return typeof x === 'number' || typeof x === 'string' ? Number(x) : NaN;
}

function readBucket(v: Record<string, unknown>): { width: number; height: number } | undefined {
  const bw = numeric(v.bw);
  const bh = numeric(v.bh);
  return Number.isInteger(bw) && Number.isInteger(bh) && bw > 0 && bh > 0 ? { width: bw, height: bh } : undefined;
}
