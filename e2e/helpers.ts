// Shared helpers of the studio specs: what the page and its worker did (requests, errors), the own-origin check,
// reading the stores the app exposes as window.__studio, and a small safetensors header parser for downloads.
import { expect, type BrowserContext, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHOTS = 'artifacts/screenshots';
mkdirSync(SHOTS, { recursive: true });

export function watch(context: BrowserContext, page: Page) {
  const seen = { requests: [] as string[], pageErrors: [] as string[], consoleErrors: [] as string[] };
  context.on('request', (r) => seen.requests.push(r.url())); // the context sees the worker's requests too
  context.on('weberror', (e) => seen.pageErrors.push(String(e.error())));
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.consoleErrors.push(m.text());
  });
  return seen;
}

export function expectOnlyOwnOrigin(requests: string[], origin: string) {
  expect(requests.length).toBeGreaterThan(0);
  const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:') && !u.startsWith('blob:'));
  expect(foreign, 'requests outside the studio origin').toEqual([]);
}

/** Serves e2e/mock-worker.js (with a scenario) in place of the real worker script. */
export async function useMockWorker(page: Page, scenario: 'happy' | 'errors' | 'run-error') {
  const here = dirname(fileURLToPath(import.meta.url));
  const body = readFileSync(join(here, 'mock-worker.js'), 'utf8').replace('__SCENARIO__', scenario);
  await page.context().route(/\/assets\/studio\.worker-[\w-]+\.js$/, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body }));
}

/** A value from the studio store in the page (window.__studio.studio.getState()). */
export async function studioState<T>(page: Page, pick: string): Promise<T> {
  return page.evaluate((expr) => {
    const s = (window as unknown as { __studio: { studio: { getState(): unknown } } }).__studio.studio.getState();
    return new Function('s', `return (${expr});`)(s);
  }, pick) as Promise<T>;
}

export interface SafetensorsHeader {
  tensors: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  metadata: Record<string, string>;
  /** Offset of the data section in the file (data_offsets are relative to it). */
  dataStart: number;
  dataBytes: number;
}

/** The test's own safetensors reader: u64 little-endian header length, JSON header, raw data; checked, not trusted. */
export function parseSafetensors(bytes: Uint8Array): SafetensorsHeader {
  expect(bytes.length, 'file shorter than the 8-byte header length').toBeGreaterThanOrEqual(8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  expect(8 + n, 'header length within the file').toBeLessThanOrEqual(bytes.length);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  delete header.__metadata__;
  const tensors = header as SafetensorsHeader['tensors'];
  const dataBytes = bytes.length - 8 - n;
  const size: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
  for (const [k, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    expect(t.data_offsets[1] - t.data_offsets[0], `${k}: byte size matches its shape`).toBe(count * size[t.dtype]);
    expect(t.data_offsets[1], `${k}: inside the data`).toBeLessThanOrEqual(dataBytes);
  }
  return { tensors, metadata, dataStart: 8 + n, dataBytes };
}

/** Size, distinct colours and value range of each canvas matching `selector` (what an image really shows). */
export async function canvasStats(page: Page, selector: string) {
  return page.locator(selector).evaluateAll((els) =>
    (els as HTMLCanvasElement[]).map((c) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const colors = new Set<number>();
      let min = 255;
      let max = 0;
      for (let i = 0; i < d.length; i += 4) {
        colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        min = Math.min(min, d[i], d[i + 1], d[i + 2]);
        max = Math.max(max, d[i], d[i + 1], d[i + 2]);
      }
      return { w: c.width, h: c.height, colors: colors.size, range: max - min };
    }),
  );
}

/** Types a value into a run-form field (opening Advanced when the field is folded there); selects take a choice. */
export async function setField(page: Page, key: string, value: string | number) {
  const input = page.getByTestId(`cfg-${key}`);
  if (!(await input.isVisible())) await page.getByTestId('config-advanced').locator('summary').click(); // folded away
  if ((await input.evaluate((el) => el.tagName)) === 'SELECT') await input.selectOption(String(value));
  else await input.fill(String(value));
}
