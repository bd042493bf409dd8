// The studio's copy of the training data: the built-in split or an ingested folder, with caption edits on top
// (the dropped files are never modified). It gives the trainer its TrainingData, the UI its summary and previews,
// and IndexedDB a StoredDataset from which a reload rebuilds exactly the same examples.
import { builtinData } from '../data/source';
import { normalizeCaption } from '../data/ingest/caption';
import { IngestReport, type IngestResult } from '../data/ingest';
import { contentHash } from '../io/base-model';
import type { TrainingData, TrainingExample } from '../train/trainer';
import { chwToRgba } from './images';
import type { StoredDataset } from './persistence';
import type { DatasetSummary } from './protocol';

export const PREVIEW_COUNT = 24;

interface Source {
  readonly size: number;
  id(i: number): string;
  path(i: number): string;
  example(i: number): TrainingExample;
}

/** Items of one reason shown on the page; the downloaded report lists every one. */
export const REPORT_ITEMS_SHOWN = 50;

/** The report's items for the page: skipped first, then warnings, at most REPORT_ITEMS_SHOWN per reason. */
function reportItems(report: IngestReport): DatasetSummary['items'] {
  const seen = new Map<string, number>();
  const keep = (key: string) => {
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return n <= REPORT_ITEMS_SHOWN;
  };
  return [
    ...report.skipped.filter((x) => keep(x.reason)).map((x) => ({ key: x.reason, kind: 'skip' as const, path: x.path, ...(x.line !== undefined ? { line: x.line } : {}), message: x.message })),
    ...report.warnings.filter((x) => keep(x.kind)).map((x) => ({ key: x.kind, kind: 'warn' as const, path: x.path, ...(x.line !== undefined ? { line: x.line } : {}), message: x.message })),
  ];
}

export class StudioDataset {
  private readonly edits = new Map<string, string>();
  private index: Map<string, number> | null = null;

  private constructor(
    readonly stored: StoredDataset,
    private readonly source: Source,
    private readonly report: { text: string; skipped: Record<string, number>; warnings: Record<string, number>; items: DatasetSummary['items'] },
  ) {}

  // ------------------------------------------------------------------------------------------------ makers

  static builtin(split: 'clean' | 'broad', count: number, resolution: number): StudioDataset {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`the built-in dataset needs a positive whole count, got ${count}`);
    const data = builtinData(split, count, resolution);
    const name = `builtin:${split}`;
    const text =
      `Dataset: ${count} images taken, 0 skipped.\nFormat: the built-in procedural compositional dataset, split "${split}" ` +
      `(coloured shapes with captions that name their colours, counts and positions).\nImages rendered at ${resolution}×${resolution}.\n`;
    return new StudioDataset(
      { kind: 'builtin', name, split, count, resolution },
      { size: count, id: (i) => `${split}-${i}`, path: (i) => `${split}/${String(i).padStart(5, '0')}.png`, example: (i) => data.example(i) },
      { text, skipped: {}, warnings: {}, items: [] },
    );
  }

  /** An ingest result, packed into one Float32Array (the form IndexedDB stores). */
  static fromIngest(name: string, result: IngestResult): StudioDataset {
    const { width, height } = result.resolution;
    if (width !== height) throw new RangeError(`the studio trains square images; ingest produced ${width}×${height}`);
    const per = 3 * width * height;
    const n = result.examples.length;
    const images = new Float32Array(n * per);
    result.examples.forEach((x, i) => images.set(x.image, i * per));
    const stored: StoredDataset = {
      kind: 'files',
      name,
      format: result.format,
      resolution: width,
      ids: result.examples.map((x) => x.id),
      paths: result.examples.map((x) => x.path),
      captions: result.examples.map((x) => x.caption),
      rawCaptions: result.examples.map((x) => (x.rawCaption === x.caption ? '' : x.rawCaption)),
      sizes: Int32Array.from(result.examples.flatMap((x) => [x.width, x.height])),
      images,
      report: result.report.data,
    };
    return StudioDataset.fromStored(stored, {});
  }

  static fromStored(stored: StoredDataset, edits: Record<string, string>): StudioDataset {
    let ds: StudioDataset;
    if (stored.kind === 'builtin') ds = StudioDataset.builtin(stored.split, stored.count, stored.resolution);
    else {
      const per = 3 * stored.resolution * stored.resolution;
      const n = stored.ids.length;
      if (stored.images.length !== n * per) throw new Error(`the stored dataset "${stored.name}" is damaged: ${stored.images.length} values for ${n} images of ${per}`);
      const report = IngestReport.fromJSON(stored.report);
      ds = new StudioDataset(
        stored,
        {
          size: n,
          id: (i) => stored.ids[i],
          path: (i) => stored.paths[i],
          example: (i) => ({ image: stored.images.subarray(i * per, (i + 1) * per), caption: stored.captions[i] }),
        },
        { text: report.toText(), skipped: { ...report.counts() }, warnings: { ...report.warningCounts() }, items: reportItems(report) },
      );
    }
    for (const [id, caption] of Object.entries(edits)) ds.edits.set(id, caption);
    return ds;
  }

  // ------------------------------------------------------------------------------------------------ access

  get name(): string {
    return this.stored.name;
  }

  get size(): number {
    return this.source.size;
  }

  get resolution(): number {
    return this.stored.resolution;
  }

  /** Identifies the examples (not the captions, which may be edited): a run resumes only on the same key. */
  get key(): string {
    return datasetKeyOf(this.stored);
  }

  id(i: number): string {
    return this.source.id(i);
  }

  path(i: number): string {
    return this.source.path(i);
  }

  image(i: number): Float32Array {
    return this.source.example(i).image;
  }

  /** The caption the trainer sees: the edit when there is one. */
  caption(i: number): string {
    return this.edits.get(this.source.id(i)) ?? this.source.example(i).caption;
  }

  captions(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.caption(i));
  }

  indexOf(id: string): number {
    if (!this.index) {
      this.index = new Map();
      for (let i = 0; i < this.size; i++) this.index.set(this.source.id(i), i);
    }
    return this.index.get(id) ?? -1;
  }

  /** Edits one caption (normalised as ingestion does); returns the caption the trainer will see. */
  setCaption(id: string, caption: string): string {
    const i = this.indexOf(id);
    if (i < 0) throw new RangeError(`no example with id ${JSON.stringify(id)} in ${this.name}`);
    const normalised = normalizeCaption(caption);
    if (normalised === '') throw new RangeError('a caption cannot be empty: write what the image shows');
    if (normalised === this.source.example(i).caption) this.edits.delete(id);
    else this.edits.set(id, normalised);
    return normalised;
  }

  editsRecord(): Record<string, string> {
    return Object.fromEntries(this.edits);
  }

  /** The trainer's view; captions are read at every batch, so an edit applies from the next step on. */
  trainingData(): TrainingData {
    return {
      size: this.size,
      example: (i) => ({ image: this.source.example(i).image, caption: this.caption(i) }),
    };
  }

  summary(previewCount = PREVIEW_COUNT): DatasetSummary {
    const r = this.resolution;
    const n = Math.min(previewCount, this.size);
    return {
      name: this.name,
      format: this.stored.kind === 'builtin' ? 'builtin' : this.stored.format,
      count: this.size,
      resolution: r,
      reportText: this.report.text,
      skipped: { ...this.report.skipped },
      warnings: { ...this.report.warnings },
      items: this.report.items,
      preview: Array.from({ length: n }, (_, i) => ({
        id: this.id(i),
        caption: this.caption(i),
        path: this.path(i),
        image: chwToRgba(this.image(i), { channels: 3, height: r, width: r }),
      })),
    };
  }
}

/** The key of a stored dataset (StudioDataset.key): also what the project folder's dataset file is checked by. */
export function datasetKeyOf(s: StoredDataset): string {
  if (s.kind === 'builtin') return `builtin:${s.split}:${s.count}:${s.resolution}`;
  return `files:${s.name}:${s.ids.length}:${s.resolution}:${contentHash(new TextEncoder().encode(s.ids.join('\n')))}`;
}
