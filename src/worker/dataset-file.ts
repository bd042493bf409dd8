// The dataset file of a project folder (folder.ts): the studio's copy of the training data in one safetensors
// file, so a folder the user picked holds everything a run needs to resume, not just the runs (project.ts).
//   tensors   images     F32 [N, 3, R, R] in [-1, 1], exactly what the trainer reads (an ingested folder only)
//   __metadata__ (strings, as safetensors requires)
//             format     'soar-studio-dataset/1'
//             kind       'builtin' | 'files'
//             name       'builtin:clean' or the dropped folder's name
//             resolution R
//             count      N, the number of images
//             key        the dataset's key (datasetKeyOf): the runs' datasetKey, checked again on reading
//             edits      JSON {example id: caption}: the caption edits made in the studio
//   builtin:  split (the split is regenerated bit for bit from split, count and R, so no pixels are stored)
//   files:    source_format ('captions' | 'hf-metadata' | 'reference-jsonl'), and JSON lists of N:
//             ids, paths, captions, raw_captions ('' where equal to the caption), sizes ([w, h] per image,
//             flattened), and report (the ingestion report's data)
// It is the StoredDataset IndexedDB holds (persistence.ts), in a form a file can carry. Reading checks every
// field and refuses a damaged file with what is wrong, before the studio changes anything.
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../codec/safetensors';
import { JsonObject, isObject, parseJson, show, type Fail } from '../codec/json';
import { SKIP_REASONS, WARNING_KINDS, type ReportData } from '../data/ingest/report';
import { datasetKeyOf } from './dataset';
import type { StoredDataset } from './persistence';

export const DATASET_FORMAT = 'soar-studio-dataset/1';

const SOURCE_FORMATS = ['captions', 'hf-metadata', 'reference-jsonl'] as const;
/** Larger than any base the studio trains (sd3.5 latents are 128); a bigger claim is a damaged file. */
const MAX_RESOLUTION = 4096;

export interface DatasetFile {
  dataset: StoredDataset;
  edits: Record<string, string>;
}

/** What identifies a dataset file's content: its examples (key) and the caption edits on top. */
export function datasetVersion(key: string, edits: Record<string, string>): string {
  return `${key}\n${JSON.stringify(Object.entries(edits).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

export function datasetToBytes(dataset: StoredDataset, edits: Record<string, string>): Uint8Array {
  const meta: Record<string, string> = {
    format: DATASET_FORMAT,
    kind: dataset.kind,
    name: dataset.name,
    resolution: String(dataset.resolution),
    count: String(dataset.kind === 'builtin' ? dataset.count : dataset.ids.length),
    key: datasetKeyOf(dataset),
    edits: JSON.stringify(edits),
  };
  const tensors = new Map<string, TensorToWrite>();
  if (dataset.kind === 'builtin') {
    meta.split = dataset.split;
  } else {
    const r = dataset.resolution;
    tensors.set('images', { shape: [dataset.ids.length, 3, r, r], data: dataset.images });
    meta.source_format = dataset.format;
    meta.ids = JSON.stringify(dataset.ids);
    meta.paths = JSON.stringify(dataset.paths);
    meta.captions = JSON.stringify(dataset.captions);
    meta.raw_captions = JSON.stringify(dataset.rawCaptions);
    meta.sizes = JSON.stringify(Array.from(dataset.sizes));
    meta.report = JSON.stringify(dataset.report);
  }
  return writeSafetensors(tensors, meta, 'F32');
}

/** The metadata of a dataset file as written (from its header alone): name, size and version, for a listing. */
export function datasetHeaderInfo(metadata: Record<string, string>): { name: string; count: number; version: string } | null {
  if (metadata.format !== DATASET_FORMAT || typeof metadata.name !== 'string' || typeof metadata.key !== 'string') return null;
  let edits: Record<string, string> = {};
  try {
    const e = parseJson(metadata.edits ?? '{}', 'edits');
    if (isObject(e)) edits = e as Record<string, string>;
  } catch {
    // a listing only: reading the file says what is wrong
  }
  const count = Number(metadata.count);
  return { name: metadata.name, count: Number.isSafeInteger(count) ? count : 0, version: datasetVersion(metadata.key, edits) };
}

/** Reads a dataset file; anything wrong refuses the whole file, naming the field. */
export function datasetFromBytes(bytes: Uint8Array): DatasetFile {
  const fail: Fail = (m) => {
    throw new Error(`the dataset file is damaged: ${m}`);
  };
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    throw new Error(`not a SOAR Studio dataset file (${(e as Error).message})`);
  }
  const m = file.metadata;
  if (m.format !== DATASET_FORMAT) throw new Error(`not a SOAR Studio dataset file (format ${show(m.format ?? null)}, expected ${DATASET_FORMAT})`);
  const json = (k: string) => parseJson(m[k] ?? 'null', `metadata ${k}`, fail);
  const meta = JsonObject.of(
    {
      kind: m.kind,
      name: m.name,
      resolution: Number(m.resolution),
      key: m.key,
      count: Number(m.count),
      ...(m.kind === 'builtin' ? { split: m.split } : {}),
    },
    'metadata',
    fail,
  );
  const kind = meta.oneOf('kind', ['builtin', 'files'] as const);
  const name = meta.str('name');
  const resolution = meta.int('resolution', 1, MAX_RESOLUTION);
  let dataset: StoredDataset;
  if (kind === 'builtin') {
    if (file.tensors.size) fail(`a built-in dataset holds no tensors, this one has ${show([...file.tensors.keys()])}`);
    dataset = { kind, name, split: meta.oneOf('split', ['clean', 'broad'] as const), count: meta.int('count', 1, 1_000_000), resolution };
  } else {
    const lists = JsonObject.of({ ids: json('ids'), paths: json('paths'), captions: json('captions'), raw_captions: json('raw_captions'), sizes: json('sizes') }, 'metadata', fail);
    const ids = lists.strList('ids');
    const n = ids.length;
    if (n === 0) fail('metadata ids is empty: a dataset has at least one image');
    if (new Set(ids).size !== n) fail('metadata ids repeats an id');
    if (meta.int('count') !== n) fail(`metadata count ${show(m.count)} is not the number of ids (${n})`);
    const sameLength = (k: string, list: unknown[], want = n) => {
      if (list.length !== want) fail(`metadata ${k} has ${list.length} entries for ${n} images`);
    };
    const paths = lists.strList('paths');
    sameLength('paths', paths);
    const captions = lists.strList('captions');
    sameLength('captions', captions);
    const rawCaptions = lists.strList('raw_captions');
    sameLength('raw_captions', rawCaptions);
    const sizes = lists.intList('sizes', 1, 1 << 30);
    sameLength('sizes', sizes, 2 * n);
    const images = file.tensors.get('images') ?? fail('the file lacks the tensor "images"');
    const want = [n, 3, resolution, resolution];
    if (images.shape.length !== 4 || images.shape.some((d, i) => d !== want[i])) fail(`tensor "images" is [${images.shape.join(', ')}], expected [${want.join(', ')}]`);
    const bad = images.data.findIndex((v) => !(Math.abs(v) <= 1));
    if (bad >= 0) fail(`tensor "images" holds ${images.data[bad]} at ${bad}: pixels are in [-1, 1]`);
    if (file.tensors.size !== 1) fail(`unexpected tensors ${show([...file.tensors.keys()].filter((k) => k !== 'images'))}`);
    dataset = {
      kind,
      name,
      format: JsonObject.of({ f: m.source_format }, 'metadata', fail).oneOf('f', SOURCE_FORMATS),
      resolution,
      ids,
      paths,
      captions,
      rawCaptions,
      sizes: Int32Array.from(sizes),
      images: images.data,
      report: readReport(json('report'), fail),
    };
  }
  const key = datasetKeyOf(dataset);
  if (meta.str('key') !== key) fail(`metadata key ${show(m.key)} does not match the dataset it describes (${show(key)})`);
  const editsRaw = json('edits');
  const edits = JsonObject.of(editsRaw ?? {}, 'metadata edits', fail);
  const isId = exampleIds(dataset);
  for (const id of Object.keys(edits.value)) {
    if (!edits.str(id).trim()) fail(`metadata edits gives ${show(id)} an empty caption`);
    if (!isId(id)) fail(`metadata edits names ${show(id)}, which is not an image of the dataset`);
  }
  return { dataset, edits: edits.value as Record<string, string> };
}

/** Whether an id names an example of the dataset (the built-in split's ids are `<split>-<index>`). */
function exampleIds(d: StoredDataset): (id: string) => boolean {
  if (d.kind === 'files') {
    const ids = new Set(d.ids);
    return (id) => ids.has(id);
  }
  return (id) => {
    const m = /^(clean|broad)-(0|[1-9]\d*)$/.exec(id);
    return !!m && m[1] === d.split && Number(m[2]) < d.count;
  };
}

/** The ingestion report's data, checked enough that the studio can show it (every field it reads). */
function readReport(v: unknown, fail: Fail): ReportData {
  const o = JsonObject.of(v, 'metadata report', fail);
  o.oneOf('format', SOURCE_FORMATS);
  o.str('formatReason');
  o.str('decoder');
  const res = o.obj('resolution');
  res.int('width');
  res.int('height');
  o.strList('taken');
  const item = (x: JsonObject, field: 'reason' | 'kind', values: readonly string[]) => {
    x.oneOf(field, values);
    x.str('path');
    x.str('message');
    if (x.has('line')) x.int('line', 1);
  };
  for (const x of o.objects('skipped')) item(x, 'reason', Object.keys(SKIP_REASONS));
  for (const x of o.objects('warnings')) item(x, 'kind', Object.keys(WARNING_KINDS));
  return o.value as unknown as ReportData;
}
