// The studio's user journey against the real worker, in Chromium on SwiftShader WebGPU: datasets dropped and
// picked (with the report's exact counts), SFT and SOAR trained side by side on the tiny base (curves, progress,
// trajectories), compare, LoRA export (parsed here), and a reload in the middle of a run. Every test also checks
// that nothing was requested outside the studio's origin. Kept short: SwiftShader is slow (tiny base, batch 2).
import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDataset, type FileSpec } from '../test/data/ingest/fixtures';
import { peftKey } from '../src/io/lora-keys';
import { PRESETS } from '../src/model/config';
import { parameterSpecs } from '../src/model/params';
import { E2E_ORIGIN } from './browsers';
import { EXPECTED_JSONL, EXPECTED_MESSY, jsonlFolder, messyFolder } from './datasets';
import { canvasStats, expectOnlyOwnOrigin, parseSafetensors, setField, SHOTS, studioState, watch } from './helpers';

// SwiftShader: a SOAR step of the tiny base takes about a second on two cores, and pipelines compile on first use.
test.setTimeout(300_000);

/**
 * The studio ready to work: GPU answered, tiny base loaded. The studio starts on the pretrained studio-s base; the
 * journey tests pick tiny the way a returning user would have (the preset choice is remembered), because its steps
 * take a fraction of studio-s's on a software adapter.
 */
async function openStudio(page: Page) {
  await page.addInitScript(() => localStorage.setItem('soar-studio.base-preset', JSON.stringify('tiny')));
  await page.goto('/');
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  // A fresh profile: the worker first measures its kernels on this adapter (once; then cached), then loads the base.
  await expect(page.getByTestId('base-info')).toHaveAttribute('data-preset', 'tiny', { timeout: 180_000 });
}

/**
 * Drops a folder on the drop zone the way Chrome delivers one from the file manager: a real DataTransfer built in
 * the page, dispatched as dragenter/dragover/drop, whose single item is the folder. Pages cannot make a folder
 * entry themselves, so `webkitGetAsEntry` of that item is answered with directory/file entries (the
 * FileSystemEntry API: createReader/readEntries in batches, file()) over real File objects.
 */
async function dropFolder(page: Page, folder: string, files: Record<string, FileSpec>) {
  const payload = Object.entries(files).map(([path, spec]) => ({ path, bytes: Array.from(typeof spec === 'string' ? new TextEncoder().encode(spec) : (spec as Uint8Array)) }));
  await page.evaluate(
    ({ folder, payload }) => {
      type Node = { name: string; fullPath: string; isFile: boolean; isDirectory: boolean; children?: Node[]; file?: File };
      const root: Node = { name: folder, fullPath: `/${folder}`, isFile: false, isDirectory: true, children: [] };
      for (const { path, bytes } of payload) {
        const segs = path.split('/');
        let dir = root;
        segs.slice(0, -1).forEach((s) => {
          let next = dir.children!.find((c) => c.name === s && c.isDirectory);
          if (!next) dir.children!.push((next = { name: s, fullPath: `${dir.fullPath}/${s}`, isFile: false, isDirectory: true, children: [] }));
          dir = next;
        });
        const name = segs[segs.length - 1];
        dir.children!.push({ name, fullPath: `${dir.fullPath}/${name}`, isFile: true, isDirectory: false, file: new File([new Uint8Array(bytes)], name) });
      }
      const entry = (n: Node): unknown =>
        n.isFile
          ? { name: n.name, fullPath: n.fullPath, isFile: true, isDirectory: false, file: (ok: (f: File) => void) => setTimeout(() => ok(n.file!)) }
          : {
              name: n.name,
              fullPath: n.fullPath,
              isFile: false,
              isDirectory: true,
              createReader: () => {
                // Chrome hands out entries in batches (of 100) until an empty batch: two per call here.
                let at = 0;
                return {
                  readEntries: (ok: (e: unknown[]) => void) =>
                    setTimeout(() => {
                      const batch = n.children!.slice(at, at + 2).map(entry);
                      at += 2;
                      ok(batch);
                    }),
                };
              },
            };
      const dt = new DataTransfer();
      dt.items.add(new File([], folder)); // the dropped item; its entry is the folder
      const proto = DataTransferItem.prototype as unknown as { webkitGetAsEntry: () => unknown };
      const original = proto.webkitGetAsEntry;
      proto.webkitGetAsEntry = () => entry(root);
      const zone = document.querySelector('[data-testid=dropzone]')!;
      try {
        for (const type of ['dragenter', 'dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      } finally {
        proto.webkitGetAsEntry = original; // the drop handler read the items synchronously
      }
    },
    { folder, payload },
  );
}

/** Loose files dropped as they are (a real DataTransfer with File objects, no folder). */
async function dropFiles(page: Page, files: Record<string, FileSpec>) {
  const payload = Object.entries(files).map(([path, spec]) => ({ path, bytes: Array.from(typeof spec === 'string' ? new TextEncoder().encode(spec) : (spec as Uint8Array)) }));
  await page.evaluate((payload) => {
    const dt = new DataTransfer();
    for (const { path, bytes } of payload) dt.items.add(new File([new Uint8Array(bytes)], path));
    const zone = document.querySelector('[data-testid=dropzone]')!;
    for (const type of ['dragenter', 'dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
  }, payload);
}

async function expectReport(page: Page, name: string, expected: { taken: number; skipped: Record<string, number>; warnings: Record<string, number> }) {
  const report = page.getByTestId('dataset-report');
  await expect(page.getByTestId('dataset-summary')).toContainText(name, { timeout: 60_000 });
  await expect(report).toHaveAttribute('data-count', String(expected.taken));
  expect(JSON.parse((await report.getAttribute('data-skipped'))!)).toEqual(expected.skipped);
  expect(JSON.parse((await report.getAttribute('data-warnings'))!)).toEqual(expected.warnings);
  // And as the user reads it: one row per reason with its exact count.
  const rows = page.getByTestId('report-reasons').locator('tr[data-reason]');
  await expect(rows).toHaveCount(Object.keys(expected.skipped).length);
  for (const [reason, n] of Object.entries(expected.skipped)) {
    await expect(page.locator(`tr[data-reason="${reason}"] .reason-count`)).toHaveText(String(n));
  }
  const nSkipped = Object.entries(expected.skipped).reduce((a, [reason, n]) => a + (reason === 'hidden-file' ? 0 : n), 0); // hidden files are listed, not counted as skipped
  await expect(page.getByTestId('dataset-summary')).toContainText(`${expected.taken} images taken, ${nSkipped} skipped`);
}

/** Non-trivial pixels: a canvas with more than a handful of distinct colours and real contrast. */

/** Reads a download to bytes. */
async function downloaded(page: Page, click: () => Promise<void>) {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), click()]);
  const path = await download.path();
  return { name: download.suggestedFilename(), bytes: new Uint8Array(readFileSync(path)) };
}

/**
 * A LoRA file of the tiny base with every expected key and shape, trained: the run's grad norms were > 0
 * (`gradientsFlowed`) and some lora_B (zero at initialisation) has moved. The studio's stand-in random base has
 * non-zero adaLN/output layers precisely so that this holds (see MMDiT.init).
 */
function expectTinyPeftLora(bytes: Uint8Array, rank: number, gradientsFlowed: boolean) {
  const { tensors, metadata, dataStart } = parseSafetensors(bytes);
  // Every attention projection of the tiny base's blocks (the last block, context-pre-only, has no to_add_out),
  // from the model's own parameter list: lora_A [rank, in], lora_B [out, rank].
  const expected: Record<string, number[]> = {};
  for (const spec of parameterSpecs(PRESETS.tiny.config)) {
    const m = /^(transformer_blocks\.\d+\.attn\.(?:to_q|to_k|to_v|to_out\.0|add_q_proj|add_k_proj|add_v_proj|to_add_out))\.weight$/.exec(spec.name);
    if (!m) continue;
    expected[peftKey(m[1], 'lora_A')] = [rank, spec.shape[1]];
    expected[peftKey(m[1], 'lora_B')] = [spec.shape[0], rank];
  }
  expect(Object.keys(expected).length).toBe(2 * (8 + 7));
  expect(Object.keys(tensors).sort()).toEqual(Object.keys(expected).sort());
  for (const [k, shape] of Object.entries(expected)) {
    expect(tensors[k].shape, k).toEqual(shape);
    expect(tensors[k].dtype, k).toBe('F32');
  }
  // Trained: some lora_B (zero at initialisation) has moved.
  const trained = Object.entries(tensors).some(([k, t]) => {
    if (!k.endsWith('lora_B.weight')) return false;
    const [a, b] = t.data_offsets;
    const values = new Float32Array(bytes.slice(dataStart + a, dataStart + b).buffer);
    return values.some((v) => v !== 0);
  });
  expect(gradientsFlowed, 'the run had non-zero gradient norms').toBe(true);
  expect(trained, 'a trained LoRA has a non-zero lora_B').toBe(true);
  return metadata;
}

test.describe('the studio journey (real worker, SwiftShader)', () => {
  test('(1) a dropped and a picked folder: the report gives the exact counts per reason', async ({ page, context }) => {
    const seen = watch(context, page);
    const dir = mkdtempSync(join(tmpdir(), 'soar-e2e-'));
    try {
      await openStudio(page);
      await expect(page.getByTestId('base-source')).toHaveText('random (untrained)');

      // Drop the messy folder on the drop zone.
      await dropFolder(page, 'messy-photos', messyFolder());
      await expectReport(page, 'messy-photos', EXPECTED_MESSY);
      await expect(page.getByTestId('preview-item').first()).toBeVisible();
      await page.getByTestId('dataset-panel').screenshot({ path: `${SHOTS}/dataset-report.png` });

      // The report downloads as text.
      const report = await downloaded(page, () => page.getByTestId('download-report').click());
      expect(report.name).toBe('messy-photos-report.txt');
      expect(new TextDecoder().decode(report.bytes).length).toBeGreaterThan(20);

      // A broken JSONL line, dropped as loose files.
      await dropFiles(page, jsonlFolder());
      await expectReport(page, 'dropped items', EXPECTED_JSONL);
      // The broken line is on the page with its file, its line and why, one line number only (the file's).
      const broken = page.locator('[data-reason=jsonl-parse-error]');
      await broken.getByTestId('reason-items').locator('summary').click();
      await expect(broken.getByTestId('reason-item')).toHaveCount(1);
      await expect(broken.getByTestId('reason-item')).toContainText(/^metadata\.jsonl:3 — not valid JSON \(.* at column \d+\); fix or delete this line$/);
      await expect(broken.getByTestId('reason-item')).not.toContainText('line 1 column');

      // The same messy folder through the folder picker (<input webkitdirectory>).
      const folder = join(dir, 'picked-photos');
      writeDataset(folder, messyFolder());
      await page.getByTestId('folder-input').setInputFiles(folder);
      await expectReport(page, 'picked-photos', EXPECTED_MESSY);

      // A caption edited inline goes to the worker, which answers with the updated dataset.
      const item = page.getByTestId('preview-item').first();
      const caption = item.getByTestId('caption-edit');
      await caption.fill('an edited caption');
      await caption.press('Enter');
      await expect(caption).toHaveValue('an edited caption');
      await expect.poll(() => studioState<string>(page, 's.dataset.summary.preview[0].caption')).toBe('an edited caption');

      expect(seen.pageErrors).toEqual([]);
      expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN); // (6)
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('(2-4) train SFT and SOAR side by side, watch trajectories, compare, export the LoRA', async ({ page, context }) => {
    const seen = watch(context, page);
    await openStudio(page);
    await page.getByTestId('use-builtin').click();
    await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', /\d+/, { timeout: 120_000 });

    await page.getByTestId('preset-quick').click();
    await page.getByTestId('method-both').click();
    await setField(page, 'max_train_steps', 8);
    await setField(page, 'train_batch_size', 2);
    await setField(page, 'trajectory_length', 2);
    await setField(page, 'validation_steps', 4);
    await setField(page, 'checkpointing_steps', 4);
    await expect(page.getByTestId('soar-cost')).toContainText('SOAR costs ≈');
    await expect(page.getByTestId('config-errors')).toHaveCount(0);
    await page.getByTestId('config-panel').screenshot({ path: `${SHOTS}/run-config.png` });
    await page.getByTestId('train').click();

    const sft = page.locator('[data-testid=run][data-method=sft]');
    const soar = page.locator('[data-testid=run][data-method=soar]');
    await expect(sft).toHaveCount(1);
    await expect(soar).toHaveCount(1);

    // The progress bar moves while the runs train.
    await expect(soar).toHaveAttribute('data-step', /^[1-9]\d*$/, { timeout: 180_000 });
    const early = Number(await soar.getByTestId('run-progress').getAttribute('aria-valuenow'));
    await expect(soar.getByTestId('run-speed')).toContainText('steps/s');

    // Trajectories of the watched SOAR run: images with real content.
    await expect(page.getByTestId('trajectory')).toBeVisible({ timeout: 180_000 });
    await expect(page.getByTestId('traj-aux')).toHaveCount(2);
    const tiles = await canvasStats(page, '[data-testid=trajectory] canvas');
    expect(tiles.length).toBe(3 + 3 * 2); // z0, z_sigma0, rollout + (z', target, x̂0) per aux state
    for (const t of tiles) {
      expect(t.w).toBe(8); // the tiny base's resolution, shown upscaled
      expect(t.colors, 'distinct colours in a trajectory image').toBeGreaterThan(1);
      expect(t.range, 'contrast in a trajectory image').toBeGreaterThan(20);
    }
    // Noised states are noise: many distinct colours.
    for (const sel of ['traj-zsigma0', 'traj-rollout', 'traj-aux-state']) {
      for (const t of await canvasStats(page, `[data-testid=${sel}]`)) expect(t.colors, sel).toBeGreaterThan(8);
    }
    await page.getByTestId('trajectory-panel').screenshot({ path: `${SHOTS}/trajectory.png` });

    await expect(sft).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
    await expect(soar).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
    const late = Number(await soar.getByTestId('run-progress').getAttribute('aria-valuenow'));
    expect(late).toBe(100);
    expect(late).toBeGreaterThan(early);
    await expect(soar.getByTestId('run-steps')).toHaveText('step 8 / 8');

    // Both curves have points: the charts say so, and so does the store.
    const ids = { sft: (await sft.getAttribute('data-run-id'))!, soar: (await soar.getAttribute('data-run-id'))! };
    for (const metric of ['loss', 'loss_main', 'grad_norm', 'lr', 'ms_per_step', 'gflops']) {
      const points = JSON.parse((await page.locator(`figure[data-metric=${metric}]`).getAttribute('data-points'))!);
      expect(points[ids.sft], `${metric} of SFT`).toBe(8);
      expect(points[ids.soar], `${metric} of SOAR`).toBe(8);
    }
    const aux = JSON.parse((await page.locator('figure[data-metric=loss_aux]').getAttribute('data-points'))!);
    expect(aux[ids.soar]).toBe(8);
    expect(aux[ids.sft]).toBe(0);
    const val = JSON.parse((await page.locator('figure[data-metric=validation]').getAttribute('data-points'))!);
    expect(val[ids.soar]).toBeGreaterThanOrEqual(1);
    const history = await studioState<number[]>(page, `s.runs[${JSON.stringify(ids.soar)}].history.map(h => h.loss)`);
    expect(history.length).toBe(8);
    for (const l of history) expect(Number.isFinite(l)).toBe(true);
    await page.getByTestId('charts-panel').screenshot({ path: `${SHOTS}/curves.png` });

    // Chart settings are remembered.
    await page.getByTestId('chart-log').check();
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem('soar-studio.chart-settings')!).logScale)).toBe(true);
    await page.getByTestId('chart-log').uncheck();

    // (3) Compare: base, SFT and SOAR columns from the same seed.
    await page.getByTestId('compare-steps').fill('4');
    await page.getByTestId('compare-prompts').fill('a red circle\na blue square');
    await page.getByTestId('compare-sample').click();
    const result = page.getByTestId('compare-result');
    await expect(result).toBeVisible({ timeout: 180_000 });
    const columns = page.getByTestId('compare-column');
    await expect(columns).toHaveCount(3);
    expect(await columns.evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')))).toEqual(['base', ids.sft, ids.soar]);
    expect(new Set(await columns.evaluateAll((els) => els.map((e) => e.getAttribute('data-seed'))))).toEqual(new Set(['1234']));
    const images = await canvasStats(page, '[data-testid=compare-image]');
    expect(images.length).toBe(3 * 2);
    for (const im of images) expect(im.colors).toBeGreaterThan(1);
    const sent = await studioState<{ seed: number; steps: number; runs: string[] }>(page, 's.compare.result.request');
    expect(sent).toMatchObject({ seed: 1234, steps: 4, runs: [ids.sft, ids.soar] });
    if (await page.getByTestId('compare-scrubber').count()) {
      await page.getByTestId('compare-scrubber').fill('0');
      await expect(result).toContainText('state 1 /');
    }
    await page.getByTestId('compare-panel').screenshot({ path: `${SHOTS}/compare.png` });

    // (4) Export the SOAR LoRA: a safetensors file with every expected key and shape.
    await page.getByTestId('export-run').selectOption(ids.soar);
    const lora = await downloaded(page, () => page.getByTestId('export-lora').click());
    expect(lora.name).toMatch(/\.safetensors$/);
    const grads = await studioState<number[]>(page, `s.runs[${JSON.stringify(ids.soar)}].history.map(h => h.grad_norm)`);
    expectTinyPeftLora(lora.bytes, 4, grads.some((g) => g > 0));

    // Import it back: it becomes a compare column; a file that is not a LoRA is refused with a message.
    await page.getByTestId('import-lora').setInputFiles({ name: 'soar-export.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(lora.bytes) });
    await expect(page.getByTestId('lora-imported')).toContainText('Imported soar-export.safetensors', { timeout: 60_000 });
    await expect(page.locator('[data-testid=compare-run]')).toHaveCount(3);
    await page.getByTestId('import-lora').setInputFiles({ name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a safetensors file') });
    await expect(page.getByTestId('lora-error')).toContainText('notes.safetensors', { timeout: 60_000 });
    await expect(page.getByTestId('lora-error')).toContainText('What to do:');
    await page.getByTestId('files-panel').screenshot({ path: `${SHOTS}/files.png` });

    await page.screenshot({ path: `${SHOTS}/studio-trained.png`, fullPage: true });
    expect(seen.pageErrors).toEqual([]);
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN); // (6)
  });

  test('(5) reload in the middle of a run: the run, its curves and LoRA come back, and training resumes from the saved step', async ({ page, context }) => {
    const seen = watch(context, page);
    await openStudio(page);
    await page.getByTestId('use-builtin').click();
    await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', /\d+/, { timeout: 120_000 });
    await page.getByTestId('preset-quick').click();
    await page.getByTestId('method-sft').click();
    await setField(page, 'max_train_steps', 500); // far more than the test waits for: it is stopped at the end
    await setField(page, 'train_batch_size', 2);
    await setField(page, 'checkpointing_steps', 3);
    await setField(page, 'validation_steps', 3);
    await page.getByTestId('train').click();

    const run = page.getByTestId('run');
    await expect(run).toHaveCount(1);
    const id = (await run.getAttribute('data-run-id'))!;
    // Checkpoints every 3 steps: by step 7 at least two are written (the card's "saved at" follows run/update).
    await expect.poll(async () => Number(await run.getAttribute('data-step')), { timeout: 180_000 }).toBeGreaterThanOrEqual(7);
    const before = Number(await run.getAttribute('data-step'));

    // The training view: while it trains, the run card, the live curves and the latest rollout are on the first
    // screen together, and the setup panels are folded to a summary.
    await expect(page.getByTestId('main')).toHaveAttribute('data-view', 'training');
    await expect(page.getByTestId('config-panel')).toHaveAttribute('data-folded', 'true');
    await expect(page.getByTestId('dataset-summary')).toBeHidden(); // folded: the report is hidden, a summary shows
    await expect(page.getByTestId('dataset-folded-summary')).toHaveText(/^builtin:clean: \d+ images$/);
    await expect(page.getByTestId('trajectory')).toBeVisible({ timeout: 120_000 });
    for (const [width, height] of [[1280, 800], [1920, 1080]]) {
      await page.setViewportSize({ width, height });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: `${SHOTS}/training-view-${width}x${height}.png` });
      const bottom = async (sel: string) => {
        const b = (await page.locator(sel).first().boundingBox())!;
        return b.y + b.height;
      };
      expect(await bottom('[data-testid=run]'), `run card at ${width}×${height}`).toBeLessThanOrEqual(height);
      expect(await bottom('figure[data-metric=loss]'), `loss curve at ${width}×${height}`).toBeLessThanOrEqual(height);
      expect(await bottom('[data-testid=trajectory]'), `trajectory at ${width}×${height}`).toBeLessThanOrEqual(height);
    }
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.reload();
    await expect(page.getByTestId('runs-restore')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    const back = page.locator(`[data-testid=run][data-run-id="${id}"]`);
    await expect(back).toHaveCount(1);
    const saved = Number(await back.getAttribute('data-checkpoint'));
    expect(saved).toBeGreaterThanOrEqual(3);
    expect(saved).toBeLessThanOrEqual(Math.max(before, saved));
    // A run interrupted by the reload is back at its checkpoint, with the curve up to there.
    await expect(back).toHaveAttribute('data-step', String(saved));
    await expect(back).toHaveAttribute('data-points', String(saved));
    const points = JSON.parse((await page.locator('figure[data-metric=loss]').getAttribute('data-points'))!);
    expect(points[id]).toBe(saved);
    // The trajectory view follows the restored run: a frame of its current weights, although it is not stepping.
    await expect(page.getByTestId('trajectory-run')).toHaveValue(id);
    await expect(page.getByTestId('trajectory')).toBeVisible({ timeout: 120_000 });
    await page.screenshot({ path: `${SHOTS}/restored.png`, fullPage: true });

    // The LoRA is back: it exports after the reload.
    await expect(page.getByTestId('base-info')).toHaveAttribute('data-preset', 'tiny', { timeout: 180_000 });
    const lora = await downloaded(page, () => page.getByTestId('export-lora').click());
    const grads = await studioState<number[]>(page, `s.runs[${JSON.stringify(id)}].history.map(h => h.grad_norm)`);
    const meta = expectTinyPeftLora(lora.bytes, 4, grads.some((g) => g > 0));
    expect(meta).toMatchObject({ method: 'sft', steps: String(saved) });

    // Training resumes from the saved step: the next metrics are step saved+1, ….
    // The worker brings an interrupted run back paused at its checkpoint (or resumes it by itself): either way
    // one click at most, and it trains on.
    await expect(back).toHaveAttribute('data-status', /^(paused|running)$/, { timeout: 60_000 });
    if ((await back.getAttribute('data-status')) === 'paused') await back.getByTestId('run-resume').click();
    await expect(back).toHaveAttribute('data-status', 'running', { timeout: 60_000 });
    await expect.poll(() => studioState<number>(page, `s.runs[${JSON.stringify(id)}].step`), { timeout: 180_000 }).toBeGreaterThan(saved + 1);
    const steps = await studioState<number[]>(page, `s.runs[${JSON.stringify(id)}].history.map(h => h.step)`);
    expect(steps.slice(0, saved + 2)).toEqual(Array.from({ length: saved + 2 }, (_, i) => i + 1));
    await back.getByTestId('run-stop').click();
    await expect(back).toHaveAttribute('data-status', 'stopped', { timeout: 60_000 });

    expect(seen.pageErrors).toEqual([]);
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN); // (6)
  });
});
