// Browser half of the manual smoke check (browser-smoke.mjs bundles this and runs it in Chromium, on the page
// and in a worker): the createImageBitmap/OffscreenCanvas decoder that Node tests cannot reach, on PNG, a
// truncated PNG, and WebP/JPEG that Chromium itself encodes.
import { createBrowserImageDecoder, createJsImageDecoder, entriesFromFiles, ingestDataset, type ImageDecoder } from '../../../src/data/ingest';
import { encodePng } from '../../../src/codec/png';

function halves(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.set(i % w < w / 2 ? [255, 0, 0] : [0, 0, 255], i * 3);
  return encodePng(rgb, w, h);
}

async function encoded(type: string, color: string): Promise<Uint8Array> {
  const c = new OffscreenCanvas(30, 30);
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 30, 30);
  return new Uint8Array(await (await c.convertToBlob({ type, quality: 0.95 })).arrayBuffer());
}

export interface SmokeResult {
  decoder: string;
  taken: readonly string[];
  counts: Record<string, number>;
  /** Red channel (0..255) of row 3 of a.png, 40×20 red|blue halves at 16×16: 8 × 255 then 8 × 0. */
  row: number[];
  /** Green of c.webp's first pixel (rgb(0,200,0)) in [-1, 1], when taken. */
  webpGreen?: number;
}

export async function smoke(): Promise<SmokeResult[]> {
  const png = halves(40, 20);
  const files: Record<string, Uint8Array | string> = {
    'a.png': png,
    'a.txt': 'halves',
    'b.png': png.subarray(0, png.length - 50),
    'b.txt': 'truncated',
    'c.webp': await encoded('image/webp', 'rgb(0,200,0)'),
    'c.txt': 'webp',
    'd.jpg': await encoded('image/jpeg', 'rgb(0,0,200)'),
    'd.txt': 'jpeg',
  };
  const dropped = { files: Object.entries(files).map(([path, v]) => ({ path, file: new File([v as BlobPart], path) })), ignored: ['.DS_Store'] };
  const decoders: ImageDecoder[] = [createBrowserImageDecoder(), createBrowserImageDecoder({ resize: 'js' }), createJsImageDecoder()];
  const out: SmokeResult[] = [];
  for (const decoder of decoders) {
    const r = await ingestDataset(entriesFromFiles(dropped), { resolution: 16, decoder, filter: 'box' });
    const a = r.examples.find((e) => e.path === 'a.png');
    const c = r.examples.find((e) => e.path === 'c.webp');
    out.push({
      decoder: decoder.name,
      taken: r.report.taken,
      counts: r.report.counts() as Record<string, number>,
      row: a ? Array.from({ length: 16 }, (_, x) => Math.round(((a.image[3 * 16 + x] + 1) / 2) * 255)) : [],
      ...(c ? { webpGreen: c.image[256] } : {}),
    });
  }
  return out;
}
