// Warnings that take the image but tell the user: a single flat colour (a blank render), and a caption longer
// than the text encoder reads (how many tokens are cut).
import { describe, expect, it } from 'vitest';
import { createJsImageDecoder, ingestDataset } from '../../../src/data/ingest';
import { builtinTokenizer } from '../../../src/encode/builtin-vocab';
import { memEntries, rgbPng } from './fixtures';

describe('ingest warnings', () => {
  it('warns about a flat image and a caption the encoder cuts, and still takes both', async () => {
    const tok = builtinTokenizer(16);
    const long = Array.from({ length: 20 }, (_, i) => `word${i}`).join(' ');
    const r = await ingestDataset(
      memEntries({
        'blank.png': rgbPng(16, 16, () => [255, 255, 255]),
        'blank.txt': 'an empty emoji',
        'dot.png': rgbPng(16, 16, (x, y) => ((x - 8) ** 2 + (y - 8) ** 2 < 16 ? [200, 30, 30] : [10, 10, 10])),
        'dot.txt': long,
      }),
      { resolution: 8, decoder: createJsImageDecoder(), captionTokens: tok.captionTokens() },
    );
    expect(r.examples.map((e) => e.path).sort()).toEqual(['blank.png', 'dot.png']);
    const warn = (k: 'flat-image' | 'caption-cut') => r.report.warningsFor(k).map((w) => `${w.path}: ${w.message}`);
    expect(warn('flat-image')).toEqual([expect.stringMatching(/^blank\.png: every pixel has the same colour/)]);
    expect(warn('caption-cut')).toEqual(['dot.png: its caption is 20 tokens; the text encoder reads 14, so the last 6 are cut: shorten it, or put what matters first']);
    expect(r.report.toText()).toMatch(/Warning: captions longer than the text encoder reads \(the end is cut\) \(1\)\./);
  });
});
