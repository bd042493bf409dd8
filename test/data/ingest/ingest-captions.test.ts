// ingestDataset on a messy folder of images with sidecar captions: every file must be accounted for, under the
// right reason, and the output must not depend on the order the files arrive in.
import { beforeAll, describe, expect, it } from 'vitest';
import { createJsImageDecoder, ingestDataset, IngestReport, toTrainingData, type IngestEntry, type IngestResult } from '../../../src/data/ingest';
import { memEntries, messyCaptionDataset, px, type FileSpec } from './fixtures';

const RES = 16;
const decoder = createJsImageDecoder();

let files: Record<string, FileSpec>;

beforeAll(async () => {
  files = await messyCaptionDataset();
});

function run(entries: IngestEntry[], extra: Partial<Parameters<typeof ingestDataset>[1]> = {}): Promise<IngestResult> {
  return ingestDataset(entries, { resolution: RES, decoder, filter: 'box', ...extra });
}

describe('ingestDataset: images with caption files', () => {
  it('takes the good images and reports every other file under its reason', async () => {
    const r = await run(memEntries(files));
    expect(r.format).toBe('captions');
    expect(r.examples.map((e) => e.path)).toEqual(['a.png', 'g.jpg', 'k.jpg', 'm.png', 'p.gif', 'q.png', 'sub/b.png']);
    expect(r.report.counts()).toEqual({
      'hidden-file': 2,
      'unsupported-type': 3,
      'caption-without-image': 1,
      'unused-file': 1,
      'unreadable-file': 1,
      'no-caption': 1,
      'empty-caption': 1,
      'duplicate-basename': 2,
      'corrupt-image': 3,
      'decoder-unavailable': 1,
      'image-too-small': 1,
    });
    const paths = (reason: Parameters<IngestReport['skippedFor']>[0]) => r.report.skippedFor(reason).map((s) => s.path);
    expect(paths('hidden-file')).toEqual(['.DS_Store', '__MACOSX/._a.png']);
    expect(paths('unsupported-type')).toEqual(['README.md', 'junk.gif', 'real.gif']);
    expect(paths('caption-without-image')).toEqual(['notes.txt']);
    expect(paths('unused-file')).toEqual(['a.caption']);
    expect(paths('no-caption')).toEqual(['c.png']);
    expect(paths('empty-caption')).toEqual(['d.png']);
    expect(paths('duplicate-basename')).toEqual(['f.jpg', 'f.png']);
    expect(paths('corrupt-image')).toEqual(['e.png', 'l.jpg', 'o.png']);
    expect(paths('decoder-unavailable')).toEqual(['i.webp']);
    expect(paths('image-too-small')).toEqual(['h.png']);
    expect(paths('unreadable-file')).toEqual(['n.png']);
    // The fixture's images are single flat colours: each taken one is flagged (a blank render would look the same).
    expect(r.report.warningCounts()).toEqual({ 'wrong-extension': 2, upscaled: 1, 'caption-encoding': 1, 'flat-image': 6 });
    expect(r.report.warningsFor('wrong-extension').map((w) => w.path)).toEqual(['g.jpg', 'p.gif']);
    expect(r.report.warningsFor('upscaled').map((w) => w.path)).toEqual(['m.png']);
  });

  it('says what was wrong in each message', async () => {
    const r = await run(memEntries(files));
    const msg = (reason: Parameters<IngestReport['skippedFor']>[0], path: string) => r.report.skippedFor(reason).find((s) => s.path === path)?.message;
    expect(msg('duplicate-basename', 'f.png')).toBe('f.jpg, f.png would all take the caption f.txt');
    expect(msg('corrupt-image', 'e.png')).toMatch(/truncated/);
    expect(msg('corrupt-image', 'o.png')).toMatch(/empty \(0 bytes\)/);
    expect(msg('corrupt-image', 'l.jpg')).toMatch(/the JPEG data is damaged/);
    expect(msg('decoder-unavailable', 'i.webp')).toMatch(/WebP decoding is only available in the browser/);
    expect(msg('image-too-small', 'h.png')).toBe('4×6 px; the shorter side must be at least 8 px');
    expect(msg('unsupported-type', 'real.gif')).toMatch(/GIF images are not supported/);
    expect(msg('unsupported-type', 'junk.gif')).toMatch(/not an image file \(it starts with 01 02 03/);
    expect(msg('unreadable-file', 'n.png')).toMatch(/EACCES/);
    expect(msg('no-caption', 'c.png')).toBe('no c.txt or .caption next to it');
    expect(r.report.warningsFor('wrong-extension')[0].message).toMatch(/named \.jpg, but it is a PNG file/);
  });

  it('normalises captions and keeps the original, with where it came from', async () => {
    const r = await run(memEntries(files));
    const a = r.examples.find((e) => e.path === 'a.png')!;
    expect(a).toMatchObject({ id: 'a.png', caption: 'a red square', rawCaption: '  a red\n\n   square\t ', captionSource: 'a.txt', width: 32, height: 24, mime: 'image/png' });
    expect(r.examples.find((e) => e.path === 'sub/b.png')).toMatchObject({ caption: 'two halves', captionSource: 'sub/b.caption' });
    expect(r.examples.find((e) => e.path === 'q.png')!.caption).toBe('café');
    expect(r.examples.find((e) => e.path === 'g.jpg')!.mime).toBe('image/png');
    expect(r.examples.find((e) => e.path === 'k.jpg')!.mime).toBe('image/jpeg');
  });

  it('decodes and resizes the pixels: a flat PNG, a two-colour PNG, a JPEG', async () => {
    const r = await run(memEntries(files));
    const get = (p: string) => r.examples.find((e) => e.path === p)!.image;
    for (const img of r.examples.map((e) => e.image)) expect(img.length).toBe(3 * RES * RES);
    const a = get('a.png');
    expect([px(a, RES, RES, 5, 9, 0), px(a, RES, RES, 5, 9, 1), px(a, RES, RES, 5, 9, 2)].map((v) => +v.toFixed(5))).toEqual(
      [200, 100, 50].map((c) => +(c / 127.5 - 1).toFixed(5)),
    );
    // 20×20 red|blue -> 16×16 box: columns 0-7 pure red, 8-15 pure blue (the 10/10 split lands on 8/8 exactly).
    const b = get('sub/b.png');
    for (const x of [0, 7]) expect([px(b, RES, RES, x, 3, 0), px(b, RES, RES, x, 3, 2)]).toEqual([1, -1]);
    for (const x of [8, 15]) expect([px(b, RES, RES, x, 3, 0), px(b, RES, RES, x, 3, 2)]).toEqual([-1, 1]);
    // JPEG is lossy: within a few levels of (0, 128, 255).
    const k = get('k.jpg');
    const rgb = [0, 1, 2].map((c) => ((px(k, RES, RES, 8, 8, c) + 1) * 127.5));
    rgb.forEach((v, c) => expect(Math.abs(v - [0, 128, 255][c])).toBeLessThan(4));
  });

  it('is deterministic: any input order gives the same examples and report', async () => {
    const entries = memEntries(files);
    const first = await run(entries);
    const reversed = await run([...entries].reverse(), { concurrency: 1 });
    const shuffled = await run([...entries].sort((x, y) => (x.path.length * 31 + x.path.charCodeAt(0)) % 7 - (y.path.length * 31 + y.path.charCodeAt(0)) % 7), { concurrency: 7 });
    for (const other of [reversed, shuffled]) {
      expect(other.examples.map((e) => e.path)).toEqual(first.examples.map((e) => e.path));
      expect(JSON.stringify(other.report.toJSON())).toBe(JSON.stringify(first.report.toJSON()));
      other.examples.forEach((e, i) => expect(e.image).toEqual(first.examples[i].image));
    }
  });

  it('never modifies the input bytes, and reads each file at most a few times', async () => {
    const reads = new Map<string, number>();
    const entries = memEntries(files, reads);
    const before = new Map(Object.entries(files).filter(([, v]) => v instanceof Uint8Array).map(([k, v]) => [k, Array.from(v as Uint8Array)]));
    await run(entries);
    for (const [k, v] of before) expect(Array.from(files[k] as Uint8Array), k).toEqual(v);
    expect(reads.get('.DS_Store')).toBeUndefined(); // hidden files are never read
    expect(reads.get('README.md')).toBeUndefined();
    expect(reads.get('a.png')).toBe(1);
    expect(reads.get('p.gif')).toBe(2); // sniffed in the scan, decoded later
  });

  it('reports progress through both phases, ending at the totals', async () => {
    const seen: Array<{ phase: string; done: number; total: number }> = [];
    await run(memEntries(files), { onProgress: (p) => seen.push({ ...p }) });
    const decode = seen.filter((p) => p.phase === 'decode');
    expect(decode[0]).toEqual({ phase: 'decode', done: 0, total: 14 });
    expect(decode.at(-1)).toEqual({ phase: 'decode', done: 14, total: 14 });
    expect(decode.every((p, i) => i === 0 || p.done === decode[i - 1].done + 1)).toBe(true);
    const scan = seen.filter((p) => p.phase === 'scan');
    expect(scan.at(-1)!.done).toBe(scan.at(-1)!.total);
    expect(seen.findIndex((p) => p.phase === 'decode')).toBeGreaterThan(seen.findLastIndex((p) => p.phase === 'scan'));
  });

  it('gives the trainer images and normalised captions in order', async () => {
    const r = await run(memEntries(files));
    const data = toTrainingData(r);
    expect(data.size).toBe(7);
    expect(data.example(0).caption).toBe('a red square');
    expect(data.example(6).image).toBe(r.examples[6].image);
    expect(() => data.example(7)).toThrow(RangeError);
  });

  it('writes a text and JSON report a person can act on', async () => {
    const r = await run(memEntries(files));
    const text = r.report.toText();
    expect(text).toMatch(/^Dataset: 7 images taken, 15 skipped, 10 warnings\.\n/);
    expect(text).toContain('Format: images with .txt/.caption captions');
    expect(text).toContain('Skipped: images sharing a name (ambiguous caption) (2). What to do: rename or remove one of them');
    expect(text).toContain('  - f.png: f.jpg, f.png would all take the caption f.txt');
    expect(text).toContain('Taken (7):\n  - a.png\n');
    const json = JSON.parse(JSON.stringify(r.report));
    expect(json.counts['duplicate-basename']).toBe(2);
    expect(json.taken).toHaveLength(7);
    expect(IngestReport.fromJSON(json).toText()).toBe(text);
  });

  it('copes with an empty folder and with options misuse', async () => {
    const r = await run([]);
    expect(r.examples).toEqual([]);
    expect(r.report.toText()).toContain('No image could be used');
    await expect(ingestDataset([], { resolution: 0, decoder })).rejects.toThrow(TypeError);
    const ctrl = new AbortController();
    ctrl.abort();
    await expect(run(memEntries(files), { signal: ctrl.signal })).rejects.toThrow();
  });
});
