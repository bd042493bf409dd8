// The validation report: what was taken, what was skipped and why (per reason, with file names and JSONL line
// numbers), and warnings about images that were taken anyway. Plain data inside (survives postMessage as JSON),
// with toText() for a human-readable download and toJSON() for a machine-readable one.
import type { DatasetFormat } from './types';
import { comparePaths } from './paths';

export type SkipReason =
  | 'hidden-file'
  | 'unsupported-type'
  | 'caption-without-image'
  | 'unused-file'
  | 'unreadable-file'
  | 'duplicate-path'
  | 'no-caption'
  | 'empty-caption'
  | 'duplicate-basename'
  | 'duplicate-row'
  | 'jsonl-parse-error'
  | 'jsonl-missing-field'
  | 'jsonl-image-missing'
  | 'jsonl-bad-path'
  | 'corrupt-image'
  | 'unsupported-image'
  | 'image-too-large'
  | 'decoder-unavailable'
  | 'image-too-small';

export type WarningKind = 'wrong-extension' | 'upscaled' | 'caption-encoding' | 'missing-bucket' | 'flat-image' | 'caption-cut';

/** Label and what to do about it, in report order. */
export const SKIP_REASONS: Record<SkipReason, { label: string; advice: string }> = {
  'hidden-file': { label: 'hidden or system files (ignored)', advice: 'nothing to do: these are made by the OS' },
  'unsupported-type': { label: 'unsupported file types', advice: 'use PNG, JPEG or WebP images with .txt/.caption captions, a metadata.jsonl, or a reference JSONL' },
  'caption-without-image': { label: 'captions without an image', advice: 'put an image with the same name (cat.png for cat.txt) in the same folder' },
  'unused-file': { label: 'files not used by the detected format', advice: 'the dataset format was chosen from the other files; see the format line above' },
  'unreadable-file': { label: 'files that could not be read', advice: 'check the file permissions, or copy the folder to a local disk and try again' },
  'duplicate-path': { label: 'files whose names are the same path', advice: 'rename or remove one of each pair: a\\b.png and a/b.png, or one name in two Unicode forms (NFC/NFD), are one path to the studio' },
  'no-caption': { label: 'images without a caption', advice: 'add a caption (a .txt with the same name, or a row in the JSONL)' },
  'empty-caption': { label: 'images with an empty caption', advice: 'write a caption in the caption file (it holds only whitespace)' },
  'duplicate-basename': { label: 'images sharing a name (ambiguous caption)', advice: 'rename or remove one of them, so that each caption belongs to exactly one image' },
  'duplicate-row': { label: 'JSONL rows for an image already listed', advice: 'remove the repeated rows; the first one was used' },
  'jsonl-parse-error': { label: 'JSONL lines that do not parse', advice: 'fix the JSON on these lines (one object per line)' },
  'jsonl-missing-field': { label: 'JSONL rows missing a field', advice: 'add the missing fields to these rows' },
  'jsonl-image-missing': { label: 'JSONL rows whose image is missing', advice: 'add the image files next to the JSONL, or remove the rows' },
  'jsonl-bad-path': { label: 'JSONL rows whose file_name is an absolute path', advice: 'write file_name relative to the folder of its metadata.jsonl (cat.png, photos/cat.png)' },
  'corrupt-image': { label: 'images that could not be decoded', advice: 're-export these images (they are damaged, truncated, or not images)' },
  'unsupported-image': { label: 'images in an unsupported variant', advice: 're-save them as plain PNG or JPEG' },
  'image-too-large': { label: 'images too large to decode', advice: 'downscale them (the size limit is in the message); training resizes them to the model resolution anyway' },
  'decoder-unavailable': { label: 'images this environment cannot decode', advice: 'load the folder in the browser, or convert these images to PNG or JPEG' },
  'image-too-small': { label: 'images too small', advice: 'use larger images' },
};

export const WARNING_KINDS: Record<WarningKind, string> = {
  'wrong-extension': 'images whose extension does not match their content (taken by content)',
  upscaled: 'images smaller than the model resolution (upscaled, may look soft)',
  'caption-encoding': 'caption files that are not UTF-8 (read as Windows-1252)',
  'missing-bucket': 'reference JSONL rows without bw/bh (the reference trainer needs them)',
  'flat-image': 'images that are a single flat colour (blank renders, failed exports): taken, but they teach nothing',
  'caption-cut': 'captions longer than the text encoder reads (the end is cut)',
};

const FORMAT_LABEL: Record<DatasetFormat, string> = {
  captions: 'images with .txt/.caption captions',
  'hf-metadata': 'Hugging Face metadata.jsonl (file_name, text)',
  'reference-jsonl': 'reference trainer JSONL (md5, caption_en, bw, bh)',
};

export interface SkippedItem {
  reason: SkipReason;
  path: string;
  /** 1-based JSONL line, for reasons about JSONL rows. */
  line?: number;
  message: string;
}

export interface WarningItem {
  kind: WarningKind;
  path: string;
  line?: number;
  message: string;
}

export interface ReportData {
  format: DatasetFormat;
  /** Why this format was chosen. */
  formatReason: string;
  decoder: string;
  resolution: { width: number; height: number };
  /** Image paths taken, sorted. */
  taken: string[];
  skipped: SkippedItem[];
  warnings: WarningItem[];
}

function compareItems(a: { path: string; line?: number }, b: { path: string; line?: number }): number {
  return comparePaths(a.path, b.path) || (a.line ?? 0) - (b.line ?? 0);
}

export class IngestReport {
  constructor(readonly data: ReportData) {}

  /** Rebuilds a report from `toJSON()` output (after a postMessage from the worker, say). */
  static fromJSON(data: ReportData): IngestReport {
    return new IngestReport(data);
  }

  get format(): DatasetFormat {
    return this.data.format;
  }
  get taken(): readonly string[] {
    return this.data.taken;
  }
  get skipped(): readonly SkippedItem[] {
    return this.data.skipped;
  }
  get warnings(): readonly WarningItem[] {
    return this.data.warnings;
  }

  /** Skipped items of one reason, sorted by path and line. */
  skippedFor(reason: SkipReason): SkippedItem[] {
    return this.data.skipped.filter((s) => s.reason === reason).sort(compareItems);
  }

  warningsFor(kind: WarningKind): WarningItem[] {
    return this.data.warnings.filter((w) => w.kind === kind).sort(compareItems);
  }

  /** Number of skipped items per reason; reasons with none are left out. */
  counts(): Partial<Record<SkipReason, number>> {
    const out: Partial<Record<SkipReason, number>> = {};
    for (const r of Object.keys(SKIP_REASONS) as SkipReason[]) {
      const n = this.data.skipped.filter((s) => s.reason === r).length;
      if (n) out[r] = n;
    }
    return out;
  }

  warningCounts(): Partial<Record<WarningKind, number>> {
    const out: Partial<Record<WarningKind, number>> = {};
    for (const k of Object.keys(WARNING_KINDS) as WarningKind[]) {
      const n = this.data.warnings.filter((w) => w.kind === k).length;
      if (n) out[k] = n;
    }
    return out;
  }

  /** One line for the UI: "12 images taken, 5 skipped, 1 warning". */
  summary(): string {
    const n = this.data.taken.length;
    const s = this.data.skipped.filter((x) => x.reason !== 'hidden-file').length;
    const w = this.data.warnings.length;
    const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
    return `${plural(n, 'image')} taken, ${s} skipped${w ? `, ${plural(w, 'warning')}` : ''}`;
  }

  /** The data (already sorted by ReportBuilder.finish) plus the counts; JSON.stringify(report) uses this. */
  toJSON(): ReportData & { counts: Partial<Record<SkipReason, number>>; warningCounts: Partial<Record<WarningKind, number>> } {
    return { ...this.data, counts: this.counts(), warningCounts: this.warningCounts() };
  }

  toText(): string {
    const d = this.data;
    const lines: string[] = [];
    lines.push(`Dataset: ${this.summary()}.`);
    lines.push(`Format: ${FORMAT_LABEL[d.format]} (${d.formatReason}).`);
    lines.push(`Images decoded by ${d.decoder}, resized to cover ${d.resolution.width}×${d.resolution.height} and centre-cropped.`);
    if (d.taken.length === 0) lines.push('No image could be used: see the reasons below.');
    const counts = this.counts();
    for (const reason of Object.keys(SKIP_REASONS) as SkipReason[]) {
      const n = counts[reason];
      if (!n) continue;
      lines.push('', `Skipped: ${SKIP_REASONS[reason].label} (${n}). What to do: ${SKIP_REASONS[reason].advice}.`);
      for (const s of this.skippedFor(reason)) lines.push(`  - ${s.path}${s.line !== undefined ? `:${s.line}` : ''}: ${s.message}`);
    }
    const wcounts = this.warningCounts();
    for (const kind of Object.keys(WARNING_KINDS) as WarningKind[]) {
      const n = wcounts[kind];
      if (!n) continue;
      lines.push('', `Warning: ${WARNING_KINDS[kind]} (${n}).`);
      for (const w of this.warningsFor(kind)) lines.push(`  - ${w.path}${w.line !== undefined ? `:${w.line}` : ''}: ${w.message}`);
    }
    lines.push('', `Taken (${d.taken.length}):`);
    for (const p of d.taken) lines.push(`  - ${p}`);
    return lines.join('\n') + '\n';
  }
}

function reasonOrder(r: SkipReason): number {
  return Object.keys(SKIP_REASONS).indexOf(r);
}

/** Collects items while ingesting; `finish` sorts and freezes them into a report. */
export class ReportBuilder {
  readonly skipped: SkippedItem[] = [];
  readonly warnings: WarningItem[] = [];

  skip(reason: SkipReason, path: string, message: string, line?: number): void {
    this.skipped.push(line === undefined ? { reason, path, message } : { reason, path, line, message });
  }

  warn(kind: WarningKind, path: string, message: string, line?: number): void {
    this.warnings.push(line === undefined ? { kind, path, message } : { kind, path, line, message });
  }

  finish(head: Omit<ReportData, 'skipped' | 'warnings'>): IngestReport {
    return new IngestReport({
      ...head,
      taken: [...head.taken].sort(comparePaths),
      skipped: [...this.skipped].sort((a, b) => reasonOrder(a.reason) - reasonOrder(b.reason) || compareItems(a, b)),
      warnings: [...this.warnings].sort((a, b) => comparePaths(a.kind, b.kind) || compareItems(a, b)),
    });
  }
}
