// The studio UI against a stand-in worker (e2e/mock-worker.js): states a real GPU rarely produces on demand —
// every error says what happened and what to do, nothing crashes — and the pending states shown before the
// worker answers. The real worker is exercised by studio.spec.ts.
import { expect, test } from '@playwright/test';
import { E2E_ORIGIN } from './browsers';
import { expectOnlyOwnOrigin, SHOTS, useMockWorker, watch } from './helpers';

test.describe('studio UI with a stand-in worker', () => {
  test('errors: each says what happened and what to do, and the page keeps working', async ({ page, context }) => {
    const seen = watch(context, page);
    await useMockWorker(page, 'errors');
    await page.goto('/');

    // base/error: message, advice, a retry.
    const baseError = page.getByTestId('base-error');
    await expect(baseError).toContainText('The studio-s base model could not be loaded.');
    await expect(baseError).toContainText('base-model.json is missing');
    await expect(baseError.locator('[data-role=advice]')).toContainText('What to do: Rebuild the studio');
    await expect(baseError.getByRole('button', { name: 'Try again' })).toBeVisible();

    // gpu/lost: a sticky alert with what to do.
    const lost = page.getByTestId('alert-gpu-lost');
    await expect(lost).toContainText('The GPU device was lost (unknown).');
    await expect(lost).toContainText('Recover to get a new GPU device in this tab: the runs come back at their checkpoints');

    // storage/error: prominent, dismissable.
    const storage = page.getByTestId('alert-storage');
    await expect(storage).toContainText("Saving to this browser's storage failed.");
    await expect(storage).toContainText('QuotaExceededError');
    await expect(storage).toContainText('What to do: Free disk space or delete old runs');
    // The way out that does not depend on the browser's storage, in the alert itself.
    await expect(storage.getByRole('button', { name: 'Download project' })).toBeVisible();
    await expect(page.getByTestId('storage')).toContainText('3.2 MiB');

    // data/error.
    await page.getByTestId('use-builtin').click();
    const dataError = page.getByTestId('dataset-error');
    await expect(dataError).toContainText('No images with captions were found');
    await expect(dataError).toContainText('What to do: Drop a folder');

    // Train is blocked, and says why.
    await expect(page.getByTestId('train')).toBeDisabled();
    await expect(page.getByTestId('train-blockers')).toContainText('the GPU was lost');

    // An invalid setting is named inline, next to its field.
    await page.getByTestId('cfg-learning_rate').fill('abc');
    await expect(page.locator('[data-field=learning_rate] [data-testid=field-error]')).toContainText('learning_rate must be a number');
    await expect(page.getByTestId('config-errors')).toBeVisible();
    await page.getByTestId('preset-quick').click();
    await expect(page.getByTestId('config-errors')).toHaveCount(0);

    // lora/error from an import of a file that is not a LoRA.
    await page.getByTestId('import-lora').setInputFiles({ name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a lora') });
    await expect(page.getByTestId('lora-error')).toContainText('notes.safetensors is not a safetensors file');
    await expect(page.getByTestId('lora-error')).toContainText('What to do:');

    // project/error.
    await page.getByTestId('import-project').setInputFiles({ name: 'p.soar', mimeType: 'application/zip', buffer: Buffer.from('PK') });
    await expect(page.getByTestId('project-error')).toContainText('the file is damaged');
    await expect(page.getByTestId('project-error')).toContainText('What to do: Nothing was changed.');

    // Compare waits for a base model, and says so.
    await expect(page.getByTestId('compare-sample')).toBeDisabled();
    // The top of the page as the user sees it (alerts stick to the top of the viewport), and each panel's error.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${SHOTS}/errors.png` });
    await page.getByTestId('files-panel').screenshot({ path: `${SHOTS}/errors-files.png` });

    // Recovery in the tab: a fresh worker (and device) replaces the lost one; the alert goes, the GPU answers
    // again, the page stays (no reload) and the state the new worker reports replaces the old one.
    const workerScripts = () => seen.requests.filter((u) => /studio\.worker-[\w-]+\.js$/.test(u)).length;
    expect(workerScripts()).toBe(1);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await lost.getByRole('button', { name: 'Recover' }).click();
    await expect(page.getByTestId('alert-gpu-lost')).toHaveCount(0);
    await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
    await expect(baseError).toContainText('The studio-s base model could not be loaded.');
    await expect(page.getByTestId('train-blockers')).not.toContainText('the GPU was lost');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(workerScripts()).toBe(2);

    // That worker crashes: the page says so and restarts it on request.
    const down = page.getByTestId('alert-worker-down');
    await expect(down).toContainText('The studio worker stopped.');
    await expect(down).toContainText('out of memory (mock crash)');
    await expect(down.locator('[data-role=advice]')).toContainText('every run’s last checkpoint is safe');
    await down.getByRole('button', { name: 'Restart the worker' }).click();
    await expect(page.getByTestId('alert-worker-down')).toHaveCount(0);
    await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
    expect(workerScripts()).toBe(3);

    expect(seen.pageErrors).toEqual([]);
    expect(seen.consoleErrors).toEqual([]);
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
  });

  test('a failed run says why and what to do; the other run trains on', async ({ page, context }) => {
    const seen = watch(context, page);
    await useMockWorker(page, 'run-error');
    await page.goto('/');
    await page.getByTestId('use-builtin').click();
    await expect(page.getByTestId('dataset-report')).toBeVisible();
    await page.getByTestId('preset-quick').click();
    await page.getByTestId('train').click();
    const failed = page.locator('[data-testid=run][data-status=error]');
    await expect(failed).toHaveCount(1);
    await expect(failed.getByTestId('run-error')).toContainText('loss is not finite');
    await expect(failed.getByTestId('run-error')).toContainText('What to do: Lower the learning rate');
    await expect(failed.getByTestId('run-resume')).toBeVisible();
    await expect(page.locator('[data-testid=run][data-status=done]')).toHaveCount(1, { timeout: 20_000 });
    await page.getByTestId('runs-panel').screenshot({ path: `${SHOTS}/run-error.png` });
    expect(seen.pageErrors).toEqual([]);
  });

  test('data the browser deleted between two visits is noticed and listed, not hidden', async ({ page, context }) => {
    const seen = watch(context, page);
    await useMockWorker(page, 'happy');
    // The studio's own record from the last visit says two runs were stored; storage (the stand-in) holds none.
    await page.addInitScript(() =>
      localStorage.setItem('soar-studio.ledger', JSON.stringify({ runs: { 'run-a': { name: 'SFT 1', step: 120 }, 'run-b': { name: 'SOAR 1', step: 80 } } })),
    );
    await page.goto('/');
    const lost = page.getByTestId('alert-lost-data');
    await expect(lost).toContainText('This browser deleted data the studio had stored.');
    await expect(lost).toContainText('run "SFT 1" (saved at step 120)');
    await expect(lost).toContainText('run "SOAR 1" (saved at step 80)');
    await expect(lost).toContainText('Import a project file you downloaded earlier');
    await page.screenshot({ path: `${SHOTS}/lost-data.png` });
    // Seen once: the record now follows what storage holds, so the next start is quiet.
    await lost.getByRole('button', { name: /dismiss/i }).click();
    await expect(lost).toHaveCount(0);
    expect(await page.evaluate(() => localStorage.getItem('soar-studio.ledger'))).toBe(JSON.stringify({ runs: {} }));
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
  });

  test('pending states before the worker answers', async ({ page, context }) => {
    const seen = watch(context, page);
    // Hold the worker's script back: the UI must show what it waits for, not empty panels.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    await context.route(/\/assets\/studio\.worker-[\w-]+\.js$/, async (route) => {
      await held;
      await route.fulfill({ status: 200, contentType: 'text/javascript', body: 'self.onmessage = () => {};' });
    });
    await page.goto('/');
    await expect(page.getByTestId('gpu-searching')).toBeVisible();
    await expect(page.getByTestId('base-loading')).toContainText('Loading the studio-s base model');
    await expect(page.getByTestId('runs-empty')).toContainText('Looking for runs saved in this browser');
    await expect(page.getByTestId('storage')).toHaveAttribute('data-state', 'pending');
    await expect(page.getByTestId('train')).toBeDisabled();
    await page.screenshot({ path: `${SHOTS}/pending.png`, fullPage: true });
    release();
    expect(seen.pageErrors).toEqual([]);
  });

  test('happy path with stand-in data: layout of every section', async ({ page, context }) => {
    const seen = watch(context, page);
    await useMockWorker(page, 'happy');
    await page.goto('/');
    await expect(page.getByTestId('base-random')).toHaveText('random (untrained)');
    await page.getByTestId('use-builtin').click();
    await expect(page.getByTestId('dataset-report')).toBeVisible();
    await page.getByTestId('preset-quick').click();
    await page.getByTestId('train').click();
    await expect(page.locator('[data-testid=run][data-status=done]')).toHaveCount(2, { timeout: 20_000 });
    await page.getByTestId('compare-sample').click();
    await expect(page.getByTestId('compare-column')).toHaveCount(3);
    await expect(page.getByTestId('compare-score')).toHaveCount(3);
    await page.screenshot({ path: `${SHOTS}/mock-studio.png`, fullPage: true });
    expect(seen.pageErrors).toEqual([]);
    expect(seen.consoleErrors).toEqual([]);
  });
});
