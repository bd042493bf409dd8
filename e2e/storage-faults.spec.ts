// When storage fails, the studio says what was lost and keeps a way out (issue #23 item 6). The BUILT studio with
// its REAL worker, and a storage layer that really fails: Chromium's own quota (a real QuotaExceededError, through
// the DevTools protocol), a profile on a tmpfs that really fills up (Chromium's own IOError), the origin's
// IndexedDB deleted between two visits, and a pick of 6,000 files that must not freeze the page. What the alerts
// say is checked against what the test itself reads back from IndexedDB. Tiny base, batch 1, 2-4 steps.
import { chromium, expect, test, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { solid, writeDataset, type FileSpec } from '../test/data/ingest/fixtures';
import { CHROMIUM_PATH, E2E_ORIGIN, QUIET_ARGS, WEBGPU_ARGS } from './browsers';
import { expectOnlyOwnOrigin, parseSafetensors, SHOTS, studioState, watch } from './helpers';
import {
  atOriginWithoutStudio,
  expectTruthfulRemains,
  fillDisk,
  freeBytes,
  INTERNAL_RUN_ID,
  mountTmpfs,
  openStudio,
  readStore,
  startSft,
  unmount,
} from './storage';

test.setTimeout(180_000);

/** The run the page shows as `nth` started (0 first): its id and the name the user knows it by. */
async function runAt(page: Page, nth: number) {
  await expect.poll(() => studioState<number>(page, 'Object.keys(s.runs).length'), { timeout: 60_000 }).toBeGreaterThan(nth);
  const ids = await studioState<string[]>(page, 'Object.values(s.runs).sort((a, b) => a.createdAt - b.createdAt).map(r => r.id)');
  const id = ids[nth];
  const name = await studioState<string>(page, `s.runs[${JSON.stringify(id)}].name`);
  return { id, name, card: page.locator(`[data-testid=run][data-run-id="${id}"]`) };
}

/** Every storage alert on the page, as text. */
const storageAlerts = (page: Page) => page.getByTestId('alert-storage').allTextContents();

/** A storage alert as the user reads it: no internal id, no empty "()", and the way out in the alert itself. */
async function expectWellFormedAlert(page: Page, alert: Locator, runId: string) {
  const text = (await alert.textContent())!;
  expect(text, 'an internal run id in the alert').not.toMatch(INTERNAL_RUN_ID);
  expect(text).not.toContain(runId);
  expect(text).not.toMatch(/\(\s*\)/);
  await expect(alert.getByRole('button', { name: 'Download project' })).toBeVisible();
  // Nothing else on the page names a run by its id either (cards, alerts, notes).
  expect(await page.locator('body').innerText()).not.toMatch(INTERNAL_RUN_ID);
  return text;
}

test('the origin\'s IndexedDB deleted between two visits: the first screen lists what was lost', async ({ page, context }) => {
  const seen = watch(context, page);
  const t0 = Date.now();
  await atOriginWithoutStudio(page, true);
  await openStudio(page);
  await expect(page.getByTestId('gpu-kernels')).toHaveAttribute('data-phase', 'ready', { timeout: 120_000 });
  console.log(`studio ready on a fresh profile in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${await page.getByTestId('gpu-kernels').textContent()}`);

  await page.getByTestId('use-builtin').click();
  await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', /\d+/, { timeout: 120_000 });
  await startSft(page, 2, 2);
  const run = await runAt(page, 0);
  await expect(run.card).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(run.card).toHaveAttribute('data-checkpoint', '2');
  expect((await readStore(page)).checkpoints[run.id], 'the checkpoint is really stored').toBe(2);

  // Between two visits the browser deletes the site's IndexedDB (storage pressure, a full disk), not its
  // localStorage: the studio's page is gone first, as when the tab was closed.
  await page.goto('/favicon.svg');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.clearDataForOrigin', { origin: E2E_ORIGIN, storageTypes: 'indexeddb' });
  expect((await readStore(page)).keys, 'IndexedDB is empty').toEqual([]);
  const ledger = await page.evaluate(() => JSON.parse(localStorage.getItem('soar-studio.ledger') ?? 'null'));
  expect(ledger.runs[run.id]).toEqual({ name: run.name, step: 2 });
  await atOriginWithoutStudio(page, true); // the kernel cache is not what the ledger is about: no re-measuring

  await openStudio(page);
  const lost = page.getByTestId('alert-lost-data');
  await expect(lost).toContainText('This browser deleted data the studio had stored.', { timeout: 60_000 });
  await expect(lost).toContainText(`Missing since the last visit: run "${run.name}" (saved at step 2).`);
  await expect(lost).toContainText('Import a project file you downloaded earlier');
  await expect(lost).toBeInViewport(); // on the first screen
  expect(await lost.textContent()).not.toMatch(INTERNAL_RUN_ID);
  // It does not look new and it does not pretend: no run card, and the alert says why.
  await expect(page.getByTestId('runs-restore')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('run')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}/storage-lost-between-visits.png` });
  await lost.getByRole('button', { name: /dismiss/i }).click();
  expect(await page.evaluate(() => localStorage.getItem('soar-studio.ledger'))).toBe(JSON.stringify({ runs: {} }));

  expect(seen.pageErrors).toEqual([]);
  expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
});

test('quota: a real QuotaExceededError names the run, says what is still stored, and the project downloads', async ({ page, context }) => {
  const seen = watch(context, page);
  const cdp = await context.newCDPSession(page);
  // The quota is set before the studio's first write: Chromium's IndexedDB caches the space it may use for up to
  // 30 s after asking the quota manager, so an override set later would only bite after that.
  await atOriginWithoutStudio(page, false);
  const { usage } = await cdp.send('Storage.getUsageAndQuota', { origin: E2E_ORIGIN });
  // 32 KiB: room for small records (the run list, the built-in dataset's parameters), none for a checkpoint.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: E2E_ORIGIN, quotaSize: usage + 32 * 1024 });
  await atOriginWithoutStudio(page, true); // a write of a few hundred bytes, within the quota
  await openStudio(page);
  await page.getByTestId('use-builtin').click();
  await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', /\d+/, { timeout: 120_000 });
  await startSft(page, 4, 2);
  const run = await runAt(page, 0);

  // The checkpoint of step 2 is refused: the run pauses there and the alert says so.
  const alert = page.getByTestId('alert-storage').filter({ hasText: 'the checkpoint of run' });
  await expect(alert).toHaveCount(1, { timeout: 120_000 });
  await expect(run.card).toHaveAttribute('data-status', 'paused', { timeout: 60_000 });
  await expect(run.card).toHaveAttribute('data-checkpoint', '0');
  const stored = await readStore(page);
  expect(stored.checkpoints[run.id], 'the browser really refused the checkpoint').toBeUndefined();
  await expect(alert).toContainText(`The browser refused to store the checkpoint of run "${run.name}" (step 2): this site's storage quota is used up (QuotaExceededError`);
  await expect(alert).toContainText('Delete runs you no longer need');
  await expect(alert).toContainText('Training is paused; it resumes from the last checkpoint that was stored.');
  const text = await expectWellFormedAlert(page, alert, run.id);
  expect(text).not.toContain('Private or incognito');
  expect(text).not.toContain('the disk is full');
  expectTruthfulRemains(text, run.name, stored, run.id);
  // Every write the quota refused is called a quota problem (the embeddings, possibly the dataset): none is
  // dressed up as a full disk, a private window or "try again".
  for (const a of await storageAlerts(page)) {
    expect(a).toContain("this site's storage quota is used up");
    expect(a).not.toMatch(/\(\s*\)/);
  }
  console.log(`quota alerts: ${(await storageAlerts(page)).length}; stored after the refusal: ${stored.keys.join(', ')}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/storage-quota.png` });

  // The way out, from the alert: the project file holds the run as trained, although the browser refused it.
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), alert.getByRole('button', { name: 'Download project' }).click()]);
  // Read with the test's own safetensors parser: metadata.runs lists each run's record and checkpoint.
  const project = parseSafetensors(new Uint8Array(readFileSync(await download.path())));
  expect(project.metadata.format).toBe('soar-studio-project/1');
  const runs = JSON.parse(project.metadata.runs) as Array<{ record: { name: string }; checkpoint: { step: number } | null }>;
  const i = runs.findIndex((r) => r.record.name === run.name);
  expect(i, 'the run is in the downloaded project').toBeGreaterThanOrEqual(0);
  expect(runs[i].checkpoint?.step, 'the downloaded project has the trained weights the browser refused').toBe(2);
  expect(Object.keys(project.tensors).filter((k) => k.startsWith(`run${i}/param/`)).length, 'with its LoRA tensors').toBeGreaterThan(0);

  // The page keeps working: with the quota lifted, resuming saves the next checkpoint, and no new alert comes.
  const alertsBefore = (await storageAlerts(page)).length;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: E2E_ORIGIN });
  await run.card.getByTestId('run-resume').click();
  await expect(run.card).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(run.card).toHaveAttribute('data-checkpoint', '4');
  expect((await readStore(page)).checkpoints[run.id], 'stored once the quota allows').toBe(4);
  expect((await storageAlerts(page)).length).toBe(alertsBefore);

  expect(seen.pageErrors).toEqual([]);
  expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
});

test.describe('a full disk (profile on a small tmpfs)', () => {
  const mnt = join(tmpdir(), `soar-e2e-disk-${process.pid}`);
  let notMounted: string | null = 'not tried';
  let context: BrowserContext | null = null;
  test.beforeAll(() => {
    notMounted = mountTmpfs(mnt, 64);
  });
  test.afterAll(async () => {
    await context?.close(); // the browser's profile is on the tmpfs: it goes first
    if (notMounted === null) unmount(mnt);
  });

  test('disk full: the alert says the disk is full, names the run, tells what remains; after freeing space nothing is silently gone', async () => {
    test.skip(notMounted !== null, `mounting a tmpfs for the browser profile failed (${notMounted}): run as root to test a full disk`);
    const filler = join(mnt, 'filler');
    context = await chromium.launchPersistentContext(join(mnt, 'profile'), {
      executablePath: CHROMIUM_PATH,
      args: [...QUIET_ARGS, ...WEBGPU_ARGS],
      headless: true,
      baseURL: E2E_ORIGIN,
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const seen = watch(context, page);
      await atOriginWithoutStudio(page, true);
      await openStudio(page);
      await page.getByTestId('use-builtin').click();
      await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', /\d+/, { timeout: 120_000 });
      // A first run, stored whole while there is space. Rank 16: a checkpoint of ~0.3 MB, well over what is left.
      await startSft(page, 2, 2, 16);
      const first = await runAt(page, 0);
      await expect(first.card).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
      await expect(first.card).toHaveAttribute('data-checkpoint', '2');

      // The disk fills up (another program, a download): 128 KiB left, room for the small records (the run list)
      // but not for the checkpoint.
      fillDisk(filler, mnt, 128 * 1024);
      console.log(`disk filled: ${freeBytes(mnt)} bytes free on the profile's file system`);
      await startSft(page, 2, 2, 16);
      const second = await runAt(page, 1);
      const alert = page.getByTestId('alert-storage').filter({ hasText: `the checkpoint of run "${second.name}"` });
      await expect(alert).toHaveCount(1, { timeout: 120_000 });
      await expect(second.card).toHaveAttribute('data-status', 'paused', { timeout: 60_000 });
      const stored = await readStore(page);
      expect(stored.checkpoints[second.id], 'the write really failed').toBeUndefined();
      await expect(alert).toContainText(`Could not store the checkpoint of run "${second.name}" (step 2): the disk is full (`);
      await expect(alert).toContainText(/IOError|NO_SPACE/); // Chromium's own words, kept in the message
      await expect(alert).toContainText("Free space on the disk this browser's profile is on, then resume.");
      const text = await expectWellFormedAlert(page, alert, second.id);
      expect(text).not.toContain('Private or incognito');
      expect(text).not.toContain('quota is used up');
      expectTruthfulRemains(text, second.name, stored, second.id);
      console.log(`disk-full alert: ${text}`);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: `${SHOTS}/storage-disk-full.png` });
      // The way out while the disk is full: the project file has both runs, the refused one as trained.
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), alert.getByRole('button', { name: 'Download project' }).click()]);
      const project = parseSafetensors(new Uint8Array(readFileSync(await download.path())));
      const inFile = (JSON.parse(project.metadata.runs) as Array<{ record: { name: string }; checkpoint: { step: number } | null }>).map((r) => [r.record.name, r.checkpoint?.step ?? null]);
      expect(Object.fromEntries(inFile)).toEqual({ [first.name]: 2, [second.name]: 2 });

      // Space is freed: the paused run resumes and its checkpoint is stored.
      rmSync(filler);
      await second.card.getByTestId('run-resume').click();
      await expect(second.card).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
      await expect(second.card).toHaveAttribute('data-checkpoint', '2');

      // The next visit: every run the studio had stored is either back at its checkpoint or listed as lost.
      const ledger = await page.evaluate(() => JSON.parse(localStorage.getItem('soar-studio.ledger') ?? '{"runs":{}}') as { runs: Record<string, { name: string; step: number }> });
      expect(Object.keys(ledger.runs).sort()).toEqual([first.id, second.id].sort());
      await page.reload();
      await expect(page.getByTestId('runs-restore')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
      const after = await readStore(page);
      const gone = Object.entries(ledger.runs).filter(([id, r]) => (after.checkpoints[id] ?? 0) < r.step);
      console.log(`after freeing the disk and reloading: ${gone.length ? `the browser deleted ${gone.map(([, r]) => r.name).join(', ')}` : 'every stored run is still there'}`);
      for (const [id, r] of Object.entries(ledger.runs)) {
        if ((after.checkpoints[id] ?? 0) >= r.step) await expect(page.locator(`[data-testid=run][data-run-id="${id}"]`)).toHaveAttribute('data-checkpoint', String(r.step));
        else await expect(page.getByTestId('alert-lost-data')).toContainText(`run "${r.name}"`);
      }
      if (!gone.length) await expect(page.getByTestId('alert-lost-data')).toHaveCount(0);
      expect(seen.pageErrors).toEqual([]);
      expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
    } finally {
      await context.close();
      context = null;
      rmSync(filler, { force: true });
    }
  });
});

test('a picked folder of 6,000 files: feedback within 100 ms, and the page never freezes while it is listed', async ({ page, context }) => {
  const seen = watch(context, page);
  const N = 3000;
  const dir = mkdtempSync(join(tmpdir(), 'soar-e2e-many-'));
  try {
    const files: Record<string, FileSpec> = {};
    for (let i = 0; i < N; i++) {
      files[`swatch-${i}.png`] = solid(4, 4, [i % 256, (i * 7) % 256, 120]);
      files[`swatch-${i}.txt`] = `a colour swatch number ${i}`;
    }
    writeDataset(join(dir, 'many-swatches'), files);
    await atOriginWithoutStudio(page, true);
    await openStudio(page); // the worker is idle: what is measured is the page

    // A heartbeat in the page: every animation frame and every 10 ms timer tick, with the time of the pick's
    // input event and of the first feedback in the DOM (and the frame that paints it).
    await page.evaluate(() => {
      const m = { input: -1, feedback: -1, painted: -1, frames: [] as number[], ticks: [] as number[], texts: [] as Array<[number, string]>, longTasks: [] as Array<[number, number]> };
      (window as unknown as { __beat: typeof m }).__beat = m;
      document.addEventListener('input', (e) => void (m.input < 0 && (m.input = e.timeStamp)), true);
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid=dataset-progress]');
        if (!el || m.input < 0) return;
        const now = performance.now();
        if (m.feedback < 0) {
          m.feedback = now;
          requestAnimationFrame(() => (m.painted = performance.now()));
        }
        const text = `${el.getAttribute('data-phase')}: ${el.textContent}`;
        if (m.texts.at(-1)?.[1] !== text) m.texts.push([now, text]);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      const frame = (t: number) => (m.frames.push(t), requestAnimationFrame(frame));
      requestAnimationFrame(frame);
      setInterval(() => m.ticks.push(performance.now()), 10);
      new PerformanceObserver((l) => l.getEntries().forEach((e) => m.longTasks.push([e.startTime, e.duration]))).observe({ type: 'longtask' });
    });
    await page.waitForTimeout(1000); // the idle baseline
    const pickedAt = await page.evaluate(() => performance.now());

    const t = Date.now();
    await page.getByTestId('folder-input').setInputFiles(join(dir, 'many-swatches'));
    const handedIn = Date.now() - t;
    // Measured until the worker has the files and reports its own progress, and a second after.
    await expect(page.getByTestId('dataset-progress')).toHaveAttribute('data-phase', /^(scan|decode|encode)$/, { timeout: 60_000 });
    await page.waitForTimeout(1000);
    const m = await page.evaluate(() => (window as unknown as { __beat: { input: number; feedback: number; painted: number; frames: number[]; ticks: number[]; texts: Array<[number, string]>; longTasks: Array<[number, number]> } }).__beat);
    const longestGap = (ts: number[], from: number, to = Infinity) => {
      let worst = 0;
      for (let i = 1; i < ts.length; i++) if (ts[i - 1] >= from && ts[i] <= to) worst = Math.max(worst, ts[i] - ts[i - 1]);
      return worst;
    };
    // The listing: from the input event until the worker reports on the files it was handed.
    const handedOver = m.texts.find(([, s]) => !s.startsWith('list:') && !s.startsWith('waiting:'))?.[0] ?? Infinity;
    const idle = { frames: longestGap(m.frames, 0, pickedAt), ticks: longestGap(m.ticks, 0, pickedAt) };
    const listing = { frames: longestGap(m.frames, m.input, handedOver), ticks: longestGap(m.ticks, m.input, handedOver) };
    const after = { frames: longestGap(m.frames, handedOver), ticks: longestGap(m.ticks, handedOver) };
    const tasks = m.longTasks.filter(([at]) => at >= m.input && at < handedOver).map(([, d]) => Math.round(d));
    const listed = m.texts.filter(([, s]) => s.startsWith('list:'));
    console.log(
      `pick of ${2 * N} files: setInputFiles ${handedIn} ms (Chromium builds the FileList before the input event); ` +
        `feedback ${(m.feedback - m.input).toFixed(1)} ms after the input event, painted at ${(m.painted - m.input).toFixed(1)} ms; ` +
        `listed and handed to the worker in ${(handedOver - m.input).toFixed(0)} ms (${listed.length} progress updates); ` +
        `longest gap meanwhile: ${listing.frames.toFixed(0)} ms between frames, ${listing.ticks.toFixed(0)} ms between 10 ms ticks, ` +
        `long tasks [${tasks.join(', ')}] ms; idle page before: ${idle.frames.toFixed(0)} / ${idle.ticks.toFixed(0)} ms; ` +
        `while the worker reads the files: ${after.frames.toFixed(0)} / ${after.ticks.toFixed(0)} ms`,
    );

    expect(m.input, 'the input event fired').toBeGreaterThan(0);
    expect(m.feedback - m.input, 'feedback in the DOM after the input event (ms)').toBeLessThan(100);
    expect(m.painted - m.input, 'feedback painted after the input event (ms)').toBeLessThan(100);
    expect(m.texts[0][1]).toMatch(/^list: .*many-swatches\s*0 \/ 6000/);
    expect(listed.at(-1)![1]).toMatch(/6000 \/ 6000/);
    // The page stays responsive while the list is built and handed over: no gap between frames or 10 ms ticks,
    // and no single task, of 500 ms or more. Why 500: each task of the listing does ~12 ms of work (SLICE_MS in
    // browser-entries.ts) and the hand-off one postMessage of already-cloned Files; on an idle machine the gaps
    // stay under 100 ms, but this suite shares 2 cores with SwiftShader and whatever else runs (load average up
    // to 10 when these numbers were taken), where the same tasks took up to ~280 ms of wall time. The failure
    // this guards against is of another order: the whole list built or posted in one task froze the page for
    // 1.4-4.1 s at this size (3.2 s in this test before the fix).
    expect(listing.frames, 'longest gap between animation frames while listing (ms)').toBeLessThan(500);
    expect(listing.ticks, 'longest gap between 10 ms timer ticks while listing (ms)').toBeLessThan(500);
    expect(Math.max(0, ...tasks), 'longest task while listing (ms)').toBeLessThan(500);
    // Every image reached the worker: its scan counts all 3,000 of them.
    expect(m.texts.some(([, s]) => /^(scan|decode|encode): .*\/ 3000/.test(s.replace(/\s+/g, ' ')))).toBe(true);
    expect(seen.pageErrors).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
