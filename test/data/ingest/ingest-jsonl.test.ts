// The two JSONL formats: Hugging Face metadata.jsonl and the reference trainer's {md5, caption_en, bw, bh} rows.
// Bad rows must be reported with their line numbers; images no row names must be reported too.
import { describe, expect, it } from 'vitest';
import { columnOfLine } from '../../../src/data/ingest/jsonl';
import { createJsImageDecoder, ingestDataset, pickReferenceCaption, type SkipReason } from '../../../src/data/ingest';
import { memEntries, solid } from './fixtures';

const decoder = createJsImageDecoder();
const img = solid(16, 16, [10, 20, 30]);
const jsonl = (...lines: Array<object | string>) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

async function ingest(files: Parameters<typeof memEntries>[0], format?: 'auto' | 'captions') {
  const r = await ingestDataset(memEntries(files), { resolution: 8, decoder, format });
  const at = (reason: SkipReason) => r.report.skippedFor(reason).map((s) => (s.line !== undefined ? `${s.path}:${s.line}` : s.path));
  return { r, at };
}

describe('Hugging Face metadata.jsonl', () => {
  const files = {
    'train/metadata.jsonl': jsonl(
      { file_name: 'a.png', text: 'first image' }, // 1
      { file_name: 'imgs/b.png', text: '  second\nimage ' }, // 2
      '{"file_name": "c.png", "text": "broken', // 3: does not parse
      { file_name: 'c.png', caption: 'wrong key' }, // 4: no text
      { file_name: 'missing.png', text: 'no such file' }, // 5
      '', // 6: blank, skipped
      { file_name: 'a.png', text: 'again' }, // 7: duplicate
      { file_name: './d.png', text: '   ' }, // 8: empty caption
      { file_name: '../../outside.png', text: 'escape' }, // 9
      { file_name: 'notes.txt', text: 'not an image' }, // 10
      '[1, 2]', // 11: not an object
    ),
    'train/a.png': img,
    'train/imgs/b.png': img,
    'train/c.png': img,
    'train/d.png': img,
    'train/e.png': img, // not listed
    'train/notes.txt': 'a stray caption-like file',
    'train/a.txt': 'sidecar caption, not used in this format',
  };

  it('reads rows relative to the metadata folder and reports bad rows by line', async () => {
    const { r, at } = await ingest(files);
    expect(r.format).toBe('hf-metadata');
    expect(r.report.data.formatReason).toBe('found train/metadata.jsonl');
    expect(r.examples.map((e) => [e.path, e.caption, e.rawCaption, e.captionSource])).toEqual([
      ['train/a.png', 'first image', 'first image', 'train/metadata.jsonl:1'],
      ['train/imgs/b.png', 'second image', '  second\nimage ', 'train/metadata.jsonl:2'],
    ]);
    expect(r.report.counts()).toEqual({
      'unused-file': 2,
      'no-caption': 2,
      'empty-caption': 1,
      'duplicate-row': 1,
      'jsonl-parse-error': 2,
      'jsonl-missing-field': 1,
      'jsonl-image-missing': 3,
    });
    expect(at('jsonl-parse-error')).toEqual(['train/metadata.jsonl:3', 'train/metadata.jsonl:11']);
    expect(at('jsonl-missing-field')).toEqual(['train/metadata.jsonl:4']);
    expect(at('jsonl-image-missing')).toEqual(['train/metadata.jsonl:5', 'train/metadata.jsonl:9', 'train/metadata.jsonl:10']);
    expect(at('duplicate-row')).toEqual(['train/metadata.jsonl:7']);
    expect(at('empty-caption')).toEqual(['train/d.png']);
    expect(at('no-caption')).toEqual(['train/c.png', 'train/e.png']);
    expect(at('unused-file')).toEqual(['train/a.txt', 'train/notes.txt']);
    const msg = (reason: SkipReason) => r.report.skippedFor(reason).map((s) => s.message);
    expect(msg('jsonl-missing-field')[0]).toBe('needs a string "text"; this row has: file_name, caption');
    expect(msg('jsonl-image-missing')).toEqual([
      'file_name "missing.png": there is no train/missing.png in the folder',
      'file_name "../../outside.png" points outside the dropped folder',
      'file_name "notes.txt" is not a PNG, JPEG or WebP image',
    ]);
    expect(msg('duplicate-row')[0]).toBe('train/a.png is already captioned by train/metadata.jsonl:1');
    expect(msg('jsonl-parse-error')[1]).toMatch(/expected a JSON object, got an array/);
    expect(r.report.toText()).toContain('  - train/metadata.jsonl:3: not valid JSON (');
    // One line number only: the file's. The parser's "(line 1 column N)" of the one-line string is gone.
    expect(msg('jsonl-parse-error')[0]).not.toMatch(/line 1 column|position/);
  });

  it('speaks of the column on the file\'s line, whatever the engine calls it', () => {
    expect(columnOfLine('Unterminated string in JSON at position 45 (line 1 column 46)')).toBe('Unterminated string in JSON at column 46');
    expect(columnOfLine("Expected ',' or '}' after property value in JSON at position 12")).toBe("Expected ',' or '}' after property value in JSON at column 13");
    expect(columnOfLine('Unexpected end of JSON input')).toBe('Unexpected end of JSON input');
  });

  it('can be overridden: the same folder read as sidecar captions', async () => {
    const { r, at } = await ingest(files, 'captions');
    expect(r.format).toBe('captions');
    expect(r.examples.map((e) => e.path)).toEqual(['train/a.png']);
    expect(at('unused-file')).toEqual(['train/metadata.jsonl']);
  });
});

describe('reference trainer JSONL', () => {
  const md5 = (n: number) => n.toString(16).padStart(32, '0');
  const files = {
    'data/train.jsonl': jsonl(
      { md5: md5(1), caption_en: 'a plain caption', bw: 512, bh: 512 }, // 1
      { md5: md5(2), caption_en: JSON.stringify({ short_caption: 'short', medium_caption: 'medium one', text: 't' }), bw: 768, bh: 512 }, // 2
      { md5: md5(3), caption_en: JSON.stringify({ text: 'only text' }), bw: 512, bh: 512 }, // 3
      { md5: md5(4), bw: 512, bh: 512 }, // 4: no caption_en
      { md5: md5(5), caption_en: 'image is missing', bw: 512, bh: 512 }, // 5
      'not json at all', // 6
      { md5: md5(6), caption_en: 'no bucket' }, // 7: taken, warned
      { md5: md5(1), caption_en: 'repeat', bw: 512, bh: 512 }, // 8: duplicate
      { md5: md5(7), caption_en: JSON.stringify({ tags: ['x'] }), bw: 512, bh: 512 }, // 9: no known key
      { caption_en: 'no md5' }, // 10
      { md5: md5(8).toUpperCase(), caption_en: '{not json but a caption', bw: 256, bh: 256 }, // 11
    ),
    [`data/${md5(1)}.jpg`]: img, // PNG bytes named .jpg (a wrong-extension warning, still taken)
    [`data/${md5(1)}.png`]: img, // same md5: .jpg is preferred
    [`data/${md5(2)}.png`]: img,
    [`data/images/${md5(3)}.webp`]: img,
    [`data/${md5(6)}.jpg`]: img,
    [`data/${md5(8)}.png`]: img,
    [`data/${md5(9)}.png`]: img, // no row
  };

  it('finds {md5} images, picks JSON captions in the reference order, and reports bad rows', async () => {
    const { r, at } = await ingest(files);
    expect(r.format).toBe('reference-jsonl');
    expect(r.examples.map((e) => [e.id, e.path, e.caption, e.bucket])).toEqual([
      [md5(1), `data/${md5(1)}.jpg`, 'a plain caption', { width: 512, height: 512 }],
      [md5(2), `data/${md5(2)}.png`, 'medium one', { width: 768, height: 512 }],
      [md5(6), `data/${md5(6)}.jpg`, 'no bucket', undefined],
      [md5(8).toUpperCase(), `data/${md5(8)}.png`, '{not json but a caption', { width: 256, height: 256 }],
      [md5(3), `data/images/${md5(3)}.webp`, 'only text', { width: 512, height: 512 }],
    ]);
    expect(r.report.counts()).toEqual({
      'no-caption': 1,
      'duplicate-basename': 1,
      'duplicate-row': 1,
      'jsonl-parse-error': 1,
      'jsonl-missing-field': 3,
      'jsonl-image-missing': 1,
    });
    expect(at('jsonl-missing-field')).toEqual(['data/train.jsonl:4', 'data/train.jsonl:9', 'data/train.jsonl:10']);
    expect(at('jsonl-image-missing')).toEqual(['data/train.jsonl:5']);
    expect(at('jsonl-parse-error')).toEqual(['data/train.jsonl:6']);
    expect(at('duplicate-row')).toEqual(['data/train.jsonl:8']);
    expect(at('duplicate-basename')).toEqual([`data/${md5(1)}.png`]);
    expect(at('no-caption')).toEqual([`data/${md5(9)}.png`]);
    expect(r.report.warningsFor('missing-bucket').map((w) => `${w.path}:${w.line}`)).toEqual(['data/train.jsonl:7']);
    expect(r.report.skippedFor('jsonl-missing-field')[1].message).toMatch(/caption_en is a JSON object without any of long_caption, medium_caption, short_caption, text \(keys: tags\)/);
    expect(r.report.skippedFor('jsonl-image-missing')[0].message).toBe(`md5 ${md5(5)}: no ${md5(5)}.jpg (or .png/.webp) in the folder`);
  });

  it('picks caption keys like the reference', () => {
    const both = { long_caption: 'L', medium_caption: 'M', short_caption: 'S', text: 'T' };
    expect(pickReferenceCaption(JSON.stringify(both))).toEqual({ ok: true, text: 'L', key: 'long_caption' });
    expect(pickReferenceCaption({ short_caption: 'S', text: 'T' })).toEqual({ ok: true, text: 'S', key: 'short_caption' });
    expect(pickReferenceCaption('plain')).toEqual({ ok: true, text: 'plain' });
    expect(pickReferenceCaption(42)).toEqual({ ok: false, problem: 'caption_en is number, expected a string' });
  });
});
