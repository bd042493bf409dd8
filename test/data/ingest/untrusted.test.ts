// Issue 16's hostile datasets: each must end in a clear report line or error, quickly and without allocating
// for more than the file can hold. Two files of one path, an absolute file_name, headers that lie about the
// size, and a decompression bomb.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBrowserImageDecoder, createJsImageDecoder, decodePng, ImageDecodeError, ingestDataset, type IngestEntry } from '../../../src/data/ingest';
import { checkImageSize, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../../../src/data/ingest/image-header';
import { parseJsonl } from '../../../src/data/ingest/jsonl';
import { inflateExactly } from '../../../src/data/ingest/png-decode';
import { memEntries, solid, solidJpeg, webpHeader } from './fixtures';
import { bigOneBitPng, inflationBombPng, jpegHeaderOnly, pngWithIdat, withJpegSize, withSecondFrame, zerosZlib } from './hostile';

const decoder = createJsImageDecoder();

/** The decoder's refusal, with how long it took. */
async function refusal(run: () => unknown): Promise<{ error: ImageDecodeError; ms: number }> {
  const t = performance.now();
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(ImageDecodeError);
    return { error: error as ImageDecodeError, ms: performance.now() - t };
  }
  throw new Error('expected the image to be refused');
}

describe('two files whose names are one path', () => {
  const files = () => ({
    'a/b.png': solid(16, 16, [255, 0, 0]),
    'a\\b.png': solid(16, 16, [0, 255, 0]),
    'a/b.txt': 'red',
    'caf\u00e9.png': solid(16, 16, [0, 0, 255]), // NFC
    'cafe\u0301.png': solid(16, 16, [9, 9, 9]), // NFD, as a Mac writes it
    'caf\u00e9.txt': 'blue',
  });

  it('reports the second as a duplicate naming both, and ingests the rest', async () => {
    const r = await ingestDataset(memEntries(files()), { resolution: 8, decoder });
    expect(r.examples.map((e) => [e.path, e.caption])).toEqual([
      ['a/b.png', 'red'],
      ['cafe\u0301.png', 'blue'], // NFD sorts first ('e' < 'é'), so it is the one kept
    ]);
    const dup = r.report.skippedFor('duplicate-path');
    expect(dup.map((d) => d.path).sort()).toEqual(['a\\b.png', 'caf\u00e9.png']);
    expect(dup.find((d) => d.path === 'a\\b.png')!.message).toBe('"a\\b.png" and "a/b.png" are the same path, a/b.png; "a/b.png" was used');
    expect(dup.find((d) => d.path === 'caf\u00e9.png')!.message).toContain('"cafe\u0301.png" was used');
    // The kept file is the one whose name sorts first, whatever order the folder was listed in.
    expect(r.examples[0].image[0]).toBeGreaterThan(0.9); // red: a/b.png, not a\b.png
  });

  it('keeps the same file in any listing order', async () => {
    const entries = memEntries(files());
    const a = await ingestDataset(entries, { resolution: 8, decoder });
    const b = await ingestDataset([...entries].reverse(), { resolution: 8, decoder });
    expect(b.report.toText()).toBe(a.report.toText());
    expect(b.examples.map((e) => Array.from(e.image))).toEqual(a.examples.map((e) => Array.from(e.image)));
  });
});

describe('an absolute file_name in metadata.jsonl', () => {
  it('is skipped with its reason, never read as a path inside the folder', async () => {
    const rows = ['/img.png', 'C:\\img.png', 'C:/img.png', '\\\\server\\share\\img.png', 'img.png'].map((file_name, i) => JSON.stringify({ file_name, text: `row ${i + 1}` }));
    const r = await ingestDataset(memEntries({ 'metadata.jsonl': rows.join('\n'), 'img.png': solid(16, 16, [1, 2, 3]) }), { resolution: 8, decoder });
    expect(r.examples.map((e) => e.captionSource)).toEqual(['metadata.jsonl:5']);
    const bad = r.report.skippedFor('jsonl-bad-path');
    expect(bad.map((b) => b.line)).toEqual([1, 2, 3, 4]);
    expect(bad[0].message).toBe('file_name "/img.png" is an absolute path, so it was not looked up: write it relative to the folder of this metadata.jsonl (img.png for an image beside it)');
    expect(r.report.skippedFor('duplicate-row')).toEqual([]);
  });
});

describe('a JSONL row nested thousands deep, or with a key twice', () => {
  it('is a bad line with its number and reason; the other rows parse', () => {
    const deep = `{"file_name":${'['.repeat(6000)}${']'.repeat(6000)},"text":"deep"}`;
    const twice = '{"file_name":"a.png","text":"one","text":"two"}';
    const parsed = parseJsonl(new TextEncoder().encode(['{"file_name":"a.png","text":"ok"}', deep, twice].join('\n')));
    expect(parsed.rows.map((r) => r.line)).toEqual([1]);
    expect(parsed.bad.map((b) => b.line)).toEqual([2, 3]);
    expect(parsed.bad[0].error).toMatch(/nest/);
    expect(parsed.bad[1].error).toMatch(/"text" appears twice/);
  });
});

describe('image size from the header, before any allocation', () => {
  it("refuses issue 16's 21-byte 10000×10000 JPEG at once, naming the limit (was 2 GB and 12 s in jpeg-js)", async () => {
    const bytes = jpegHeaderOnly(10000, 10000);
    expect(bytes.length).toBe(21);
    const { error, ms } = await refusal(() => decoder.decode(bytes, 'image/jpeg'));
    expect(error.kind).toBe('too-large');
    expect(error.message).toBe("it is 10000×10000 (100 MP); the studio reads images up to 50 MP and 16384 px a side: downscale it (training resizes it to the model's resolution anyway)");
    expect(ms).toBeLessThan(200);
  });

  it('refuses a JPEG whose declared size its bytes cannot hold, even within the limit', async () => {
    const jpeg = await solidJpeg(16, 16, [10, 200, 30]);
    const { error, ms } = await refusal(() => decoder.decode(withJpegSize(jpeg, 4000, 4000), 'image/jpeg'));
    expect(error.kind).toBe('corrupt');
    expect(error.message).toMatch(/declares 4000×4000, but the file has only \d+ bytes, too few for that many pixels/);
    expect(ms).toBeLessThan(200);
    // A JPEG of the same few blocks that the bytes can hold still decodes.
    expect((await decoder.decode(jpeg, 'image/jpeg')).width).toBe(16);
  });

  it('holds jpeg-js to what the checked header needs: a second, larger frame header is refused before allocation', async () => {
    const jpeg = await solidJpeg(16, 16, [10, 200, 30]);
    const { error, ms } = await refusal(() => decoder.decode(withSecondFrame(jpeg, 8000, 6000), 'image/jpeg'));
    expect(error.kind).toBe('too-large');
    expect(error.message).toMatch(/more than the \d+ MB its 16×16 header allows/);
    expect(ms).toBeLessThan(300); // jpeg-js allocating 8000×6000 of blocks takes seconds
  });

  it('refuses JPEG frame headers with component counts or sampling factors no JPEG uses', async () => {
    const twoComponents = jpegHeaderOnly(64, 64);
    twoComponents[11] = 2;
    expect((await refusal(() => decoder.decode(twoComponents, 'image/jpeg'))).error.message).toMatch(/has 2 colour components; only 1 \(grey\), 3 \(colour\) or 4/);
    const sampling = jpegHeaderOnly(64, 64);
    sampling[13] = 0xf1;
    expect((await refusal(() => decoder.decode(sampling, 'image/jpeg'))).error.message).toBe('JPEG component 1 has sampling factors 15×1 (1 to 4 are valid)');
  });

  it("refuses issue 16's 33 KB 1-bit PNG of 16384² (was 1.2 GB and 8 s)", async () => {
    const bytes = bigOneBitPng();
    expect(bytes.length).toBeLessThan(40_000);
    const { error, ms } = await refusal(() => decodePng(bytes));
    expect(error.kind).toBe('too-large');
    expect(error.message).toMatch(/^it is 16384×16384 \(268.4 MP\); the studio reads images up to 50 MP/);
    expect(ms).toBeLessThan(200);
  });

  it('refuses PNG image data too short for its header before allocating the image', async () => {
    const { error } = await refusal(() => decodePng(pngWithIdat(4000, 4000, 8, 6, zerosZlib(1000))));
    expect(error.kind).toBe('corrupt');
    expect(error.message).toMatch(/^the image data is truncated: \d+ compressed bytes cannot hold the 64004000 a 4000×4000 image needs$/);
  });

  it('inflates a PNG bomb only as far as its header needs (1 GiB of zeros behind an 8×8 header)', () => {
    const bytes = pngWithIdat(8, 8, 8, 6, zerosZlib(1 << 30));
    const t = performance.now();
    const img = decodePng(bytes);
    expect(performance.now() - t).toBeLessThan(500); // inflating the whole gigabyte takes seconds
    expect([img.width, img.height, img.rgba.length]).toEqual([8, 8, 256]);
    expect(decodePng(inflationBombPng()).rgba.length).toBe(256);
  });

  it('inflateExactly returns exactly the size asked for, and says when the data is short', () => {
    const z = zerosZlib(100_000);
    expect(inflateExactly([z.subarray(0, 7), z.subarray(7)], 5000).length).toBe(5000);
    expect(inflateExactly([z], 100_000).length).toBe(100_000);
    expect(() => inflateExactly([z], 100_001)).toThrow(/truncated: 100000 of 100001 bytes/);
    expect(() => inflateExactly([z.subarray(0, z.length - 30)], 100_000)).toThrow(ImageDecodeError);
  });

  it('takes photos up to the limit and refuses one pixel more, by area and by side', () => {
    const png = (w: number, h: number) => pngWithIdat(w, h, 8, 2, new Uint8Array(0));
    expect(checkImageSize(png(8160, 6120), 'image/png')).toEqual({ width: 8160, height: 6120 }); // a 50 MP phone photo
    expect(() => checkImageSize(png(MAX_IMAGE_PIXELS / 5000 + 1, 5000), 'image/png')).toThrow(/the studio reads images up to 50 MP/);
    expect(() => checkImageSize(png(MAX_IMAGE_SIDE + 1, 1), 'image/png')).toThrow(/16385×1 .* 16384 px a side/);
    expect(() => checkImageSize(jpegHeaderOnly(0, 0).subarray(0, 9), 'image/jpeg')).toThrow(/ends before the JPEG frame header/);
    expect(() => checkImageSize(webpHeader(16383, 16383), 'image/webp')).toThrow(/16383×16383/);
    expect(checkImageSize(webpHeader(640, 480), 'image/webp')).toEqual({ width: 640, height: 480 });
  });

  it('reports an oversized image in the ingestion under its own reason, and goes on', async () => {
    const r = await ingestDataset(memEntries({ 'big.jpg': jpegHeaderOnly(), 'big.txt': 'huge', 'ok.png': solid(16, 16, [0, 0, 0]), 'ok.txt': 'fine' }), { resolution: 8, decoder });
    expect(r.examples.map((e) => e.path)).toEqual(['ok.png']);
    expect(r.report.skippedFor('image-too-large').map((s) => s.path)).toEqual(['big.jpg']);
    expect(r.report.toText()).toContain('  - big.jpg: it is 10000×10000 (100 MP); the studio reads images up to 50 MP');
  });
});

describe('the browser decoder', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('checks the header before createImageBitmap, on both paths', async () => {
    const createImageBitmap = vi.fn(() => Promise.reject(new Error('must not be reached')));
    vi.stubGlobal('createImageBitmap', createImageBitmap);
    const browser = createBrowserImageDecoder();
    const a = await refusal(() => browser.decode(jpegHeaderOnly(), 'image/jpeg'));
    const b = await refusal(() => browser.decodeCover!(webpHeader(16000, 16000), 'image/webp', { width: 8, height: 8 }, [255, 255, 255]));
    expect([a.error.kind, b.error.kind]).toEqual(['too-large', 'too-large']);
    expect(createImageBitmap).not.toHaveBeenCalled();
    // An image within bounds does reach it.
    await refusal(() => browser.decode(solid(16, 16, [0, 0, 0]), 'image/png'));
    expect(createImageBitmap).toHaveBeenCalledTimes(1);
  });

  it('the ingestion refuses an oversized image before any decoder sees it', async () => {
    const decode = vi.fn();
    const entries: IngestEntry[] = memEntries({ 'big.webp': webpHeader(16000, 16000), 'big.txt': 'x' });
    const r = await ingestDataset(entries, { resolution: 8, decoder: { name: 'spy', decode } });
    expect(decode).not.toHaveBeenCalled();
    expect(r.report.counts()).toEqual({ 'image-too-large': 1 });
  });
});
