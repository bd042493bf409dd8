// The project folder's dataset file (src/worker/dataset-file.ts): an ingested folder (images, captions, sizes,
// the report with its skips and warnings, caption edits) and the built-in split survive the round trip exactly;
// a damaged or foreign file is refused with what is wrong, with the studio's own Error.
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { createJsImageDecoder, ingestDataset } from '../../src/data/ingest';
import { StudioDataset } from '../../src/worker/dataset';
import { DATASET_FORMAT, datasetFromBytes, datasetHeaderInfo, datasetToBytes, datasetVersion } from '../../src/worker/dataset-file';
import type { StoredDataset } from '../../src/worker/persistence';
import { projectToBytes } from '../../src/worker/project';
import { messyFolder } from '../../e2e/datasets';
import { memEntries } from '../data/ingest/fixtures';

async function ingested(): Promise<StudioDataset> {
  const result = await ingestDataset(memEntries(messyFolder()), { resolution: 8, decoder: createJsImageDecoder() });
  return StudioDataset.fromIngest('messy-photos', result);
}

function files(ds: StudioDataset): Extract<StoredDataset, { kind: 'files' }> {
  if (ds.stored.kind !== 'files') throw new Error('expected an ingested dataset');
  return ds.stored;
}

/** The file with its metadata changed by `edit` and its tensors by `tensors`. */
function edited(bytes: Uint8Array, edit: (m: Record<string, string>) => void, tensors?: (t: Map<string, TensorToWrite>) => void): Uint8Array {
  const f = readSafetensors(bytes);
  const t = new Map<string, TensorToWrite>([...f.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
  tensors?.(t);
  const m = { ...f.metadata };
  edit(m);
  return writeSafetensors(t, m);
}

describe('dataset file', () => {
  it('round-trips an ingested folder: pixels, captions, sizes, report and caption edits', async () => {
    const ds = await ingested();
    const stored = files(ds);
    expect(stored.ids.length).toBeGreaterThan(10);
    expect(stored.report.skipped.length + stored.report.warnings.length).toBeGreaterThan(0); // the messy folder has both
    const edits = { [stored.ids[0]]: 'an edited caption' };
    const bytes = datasetToBytes(stored, edits);
    const back = datasetFromBytes(bytes);
    expect(back.edits).toEqual(edits);
    expect(back.dataset).toEqual(stored);
    const b = files(StudioDataset.fromStored(back.dataset, back.edits));
    expect(b.images).toBeInstanceOf(Float32Array);
    expect(b.sizes).toBeInstanceOf(Int32Array);
    // The studio sees the same dataset: key (what runs resume on), captions with the edit, report, previews.
    const again = StudioDataset.fromStored(back.dataset, back.edits);
    const orig = StudioDataset.fromStored(stored, edits);
    expect(again.key).toBe(orig.key);
    expect(again.captions()).toEqual(orig.captions());
    expect(again.caption(0)).toBe('an edited caption');
    expect(again.summary()).toEqual(orig.summary());
    // The header alone names it, for the folder listing, with the version that says whether to write it again.
    const info = datasetHeaderInfo(readSafetensors(bytes).metadata);
    expect(info).toEqual({ name: 'messy-photos', count: stored.ids.length, version: datasetVersion(orig.key, edits) });
    expect(datasetVersion(orig.key, {})).not.toBe(info!.version);
  });

  it('round-trips the built-in split without pixels', () => {
    const ds = StudioDataset.builtin('clean', 6, 8);
    const bytes = datasetToBytes(ds.stored, { 'clean-2': 'a green square' });
    expect(readSafetensors(bytes).tensors.size).toBe(0);
    const back = datasetFromBytes(bytes);
    expect(back.dataset).toEqual(ds.stored);
    expect(StudioDataset.fromStored(back.dataset, back.edits).caption(2)).toBe('a green square');
  });

  const refusals: Array<[string, () => Promise<Uint8Array>, RegExp]> = [
    ['a project file', async () => projectToBytes(null, []), /not a SOAR Studio dataset file \(format "soar-studio-project\/1", expected soar-studio-dataset\/1\)/],
    ['not safetensors', async () => new TextEncoder().encode('hello'), /not a SOAR Studio dataset file \(file too short/],
    ['a truncated file', async () => datasetToBytes(files(await ingested()), {}).subarray(0, 400), /not a SOAR Studio dataset file \(.*truncated|not a SOAR Studio dataset file/],
    ['images of another shape', async () => edited(datasetToBytes(files(await ingested()), {}), () => undefined, (t) => t.set('images', { shape: [1, 3, 8, 8], data: new Float32Array(192) })), /tensor "images" is \[1, 3, 8, 8\], expected \[\d+, 3, 8, 8\]/],
    ['a NaN pixel', async () => edited(datasetToBytes(files(await ingested()), {}), () => undefined, (t) => {
      const img = t.get('images')!;
      const data = Float32Array.from(img.data);
      data[5] = NaN;
      t.set('images', { shape: img.shape, data });
    }), /tensor "images" holds NaN at 5: pixels are in \[-1, 1\]/],
    ['no images', async () => edited(datasetToBytes(files(await ingested()), {}), () => undefined, (t) => t.delete('images')), /the file lacks the tensor "images"/],
    ['ids and captions of different lengths', async () => edited(datasetToBytes(files(await ingested()), {}), (m) => (m.captions = JSON.stringify(JSON.parse(m.captions).slice(1)))), /metadata captions has \d+ entries for \d+ images/],
    ['a repeated id', async () => edited(datasetToBytes(files(await ingested()), {}), (m) => {
      const ids = JSON.parse(m.ids);
      ids[1] = ids[0];
      m.ids = JSON.stringify(ids);
    }), /metadata ids repeats an id/],
    ['a key that does not match', async () => edited(datasetToBytes(files(await ingested()), {}), (m) => (m.key = 'files:other:3:8:abc')), /the dataset file is damaged: metadata key "files:other:3:8:abc" does not match/],
    ['an edit of an unknown image', async () => datasetToBytes(files(await ingested()), { 'not-there': 'x' }), /metadata edits names "not-there", which is not an image of the dataset/],
    ['an edit of the built-in split past its count', async () => datasetToBytes(StudioDataset.builtin('clean', 4, 8).stored, { 'clean-4': 'x' }), /metadata edits names "clean-4"/],
    ['a report with an unknown reason', async () => edited(datasetToBytes(files(await ingested()), {}), (m) => {
      const r = JSON.parse(m.report);
      r.skipped.push({ reason: 'gremlins', path: 'x', message: 'y' });
      m.report = JSON.stringify(r);
    }), /metadata report\.skipped\[\d+\]\.reason must be one of/],
    ['a report nested 5,000 levels', async () => edited(datasetToBytes(files(await ingested()), {}), (m) => (m.report = '['.repeat(5000) + ']'.repeat(5000))), /metadata report: nested more than 64 levels deep/],
    ['a resolution of 0', async () => edited(datasetToBytes(StudioDataset.builtin('clean', 4, 8).stored, {}), (m) => (m.resolution = '0')), /metadata\.resolution must be an integer in \[1, 4096\], got 0/],
    ['an unknown kind', async () => edited(datasetToBytes(StudioDataset.builtin('clean', 4, 8).stored, {}), (m) => (m.kind = 'cloud')), /metadata\.kind must be one of "builtin", "files"/],
    ['the wrong format', async () => edited(datasetToBytes(StudioDataset.builtin('clean', 4, 8).stored, {}), (m) => (m.format = 'soar-studio-dataset/9')), /expected soar-studio-dataset\/1/],
  ];
  it.each(refusals)('refuses %s', async (_label, make, message) => {
    const bytes = await make();
    let err: unknown;
    try {
      datasetFromBytes(bytes);
    } catch (e) {
      err = e;
    }
    expect((err as Error)?.constructor).toBe(Error);
    expect((err as Error).message).toMatch(message);
  });

  it('names its format', () => {
    expect(DATASET_FORMAT).toBe('soar-studio-dataset/1');
  });
});
