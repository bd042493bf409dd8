#!/usr/bin/env node
// Manual smoke check of the browser decoder, which the Node unit tests cannot run (no createImageBitmap there):
//   node test/data/ingest/browser-smoke.mjs
// Bundles browser-smoke.ts with rolldown (vite's bundler), runs it in Debian's Chromium on a page and in a Web
// Worker, and checks the results. Exit 1 on a mismatch. Not part of `npm test`: a candidate for an e2e spec.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'soar-smoke-'));
const bundlePath = join(tmp, 'smoke.js');
execFileSync(join(root, 'node_modules/.bin/rolldown'), [join(here, 'browser-smoke.ts'), '--format', 'iife', '--name', 'Smoke', '--file', bundlePath], { stdio: 'ignore' });
const bundle = readFileSync(bundlePath, 'utf8');
rmSync(tmp, { recursive: true, force: true });

const browser = await chromium.launch({ executablePath: process.env.SOAR_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
let failed = 0;
try {
  const page = await browser.newPage();
  await page.setContent('<html></html>');
  await page.addScriptTag({ content: bundle });
  const onPage = await page.evaluate(() => globalThis.Smoke.smoke());
  const inWorker = await page.evaluate(async (src) => {
    const url = URL.createObjectURL(new Blob([`${src}\nself.onmessage = async () => postMessage(await Smoke.smoke());`], { type: 'text/javascript' }));
    const w = new Worker(url);
    return await new Promise((resolve, reject) => {
      w.onmessage = (e) => resolve(e.data);
      w.onerror = (e) => reject(new Error(e.message));
      w.postMessage(0);
    });
  }, bundle);
  const row = [...Array(8).fill(255), ...Array(8).fill(0)];
  for (const [where, results] of [['page', onPage], ['worker', inWorker]]) {
    for (const r of results) {
      const js = r.decoder.startsWith('the built-in JS');
      const problems = [];
      if (JSON.stringify(r.taken) !== JSON.stringify(js ? ['a.png', 'd.jpg'] : ['a.png', 'c.webp', 'd.jpg'])) problems.push(`taken ${r.taken}`);
      if (r.counts['corrupt-image'] !== 1) problems.push('b.png not reported corrupt');
      if (JSON.stringify(r.row) !== JSON.stringify(row)) problems.push(`row ${r.row}`);
      if (!js && Math.abs(r.webpGreen - (200 / 127.5 - 1)) > 0.02) problems.push(`webp green ${r.webpGreen}`);
      console.log(`${problems.length ? 'FAIL' : 'ok  '} ${where} ${r.decoder}${problems.length ? `: ${problems.join('; ')}` : ''}`);
      failed += problems.length ? 1 : 0;
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
