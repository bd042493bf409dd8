// The first screen as a new user sees it: the pretrained studio-s base is loaded from the studio's own files, and
// one click trains an SFT and a SOAR LoRA on the built-in data side by side and samples both beside the base.
// The real worker on SwiftShader: this is the slowest spec (a few minutes).
import { expect, test } from '@playwright/test';
import { E2E_ORIGIN } from './browsers';
import { canvasStats, expectOnlyOwnOrigin, SHOTS, studioState, watch } from './helpers';

test.setTimeout(900_000);

test('first screen: the pretrained base is loaded and one click compares SFT and SOAR', async ({ page, context }) => {
  const seen = watch(context, page);
  await page.goto('/');
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  const info = page.getByTestId('base-info');
  await expect(info).toHaveAttribute('data-preset', 'studio-s', { timeout: 120_000 });
  await expect(info).toHaveAttribute('data-source', 'builtin');
  await expect(page.getByTestId('base-random-note')).toHaveCount(0);
  // Captions go through the shipped ONNX encoder on onnxruntime-web, its wasm served by the studio itself.
  await expect(page.getByTestId('base-text-encoder')).toContainText(/^onnxruntime-web .*\(wasm\)$/);
  expect(seen.requests.some((u) => u.endsWith('/models/studio-s/transformer.safetensors'))).toBe(true);
  await page.screenshot({ path: `${SHOTS}/first-screen.png` });

  const quick = page.getByTestId('quick-panel');
  await expect(quick).toContainText('studio-s (pretrained)');
  await expect(page.getByTestId('quick-start')).toHaveText('Run the comparison');
  // The kernels were chosen for this adapter before the comparison starts (GPU panel).
  await expect(page.getByTestId('gpu-kernels')).toHaveAttribute('data-phase', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('gpu-kernels')).toContainText(/^Kernels: matmul tiny \w+, skinny \w+/);
  console.log(await page.getByTestId('gpu-kernels').textContent());
  const clicked = Date.now();
  await page.getByTestId('quick-start').click();
  await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', '64', { timeout: 120_000 });
  const sft = page.locator('[data-testid=run][data-method=sft]');
  const soar = page.locator('[data-testid=run][data-method=soar]');
  await expect(sft).toHaveCount(1);
  await expect(soar).toHaveCount(1);
  await expect(page.getByTestId('quick-status')).toHaveAttribute('data-state', 'running');
  await expect(soar).toHaveAttribute('data-step', /^[1-9]\d*$/, { timeout: 300_000 });
  await expect(quick).toContainText(/SOAR 1: step \d+\/30/);
  await page.getByTestId('quick-panel').screenshot({ path: `${SHOTS}/quick-running.png` });

  await expect(sft).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
  await expect(soar).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
  await expect(page.getByTestId('quick-status')).toHaveAttribute('data-state', 'done');
  const ids = { sft: (await sft.getAttribute('data-run-id'))!, soar: (await soar.getAttribute('data-run-id'))! };
  const points = JSON.parse((await page.locator('figure[data-metric=loss]').getAttribute('data-points'))!);
  expect(points[ids.sft]).toBe(30);
  expect(points[ids.soar]).toBe(30);
  // The SOAR run trained on its own rollouts: an aux loss at every step.
  const aux = await studioState<Array<number | null>>(page, `s.runs[${JSON.stringify(ids.soar)}].history.map(h => h.loss_aux)`);
  expect(aux.every((a) => a !== null && Number.isFinite(a))).toBe(true);

  // Sampled on its own once both were done: base | SFT | SOAR, one seed, with the evaluator's scores.
  const result = page.getByTestId('compare-result');
  await expect(result).toBeVisible({ timeout: 300_000 });
  // The number issue #17 is judged by: the whole one-click comparison (data, both trainings, sampling, scores).
  console.log(`one-click comparison: ${((Date.now() - clicked) / 1000).toFixed(0)} s from the click to the compare grid`);
  const columns = page.getByTestId('compare-column');
  expect(await columns.evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')))).toEqual(['base', ids.sft, ids.soar]);
  await expect(page.getByTestId('compare-score')).toHaveCount(3);
  const images = await canvasStats(page, '[data-testid=compare-image]');
  expect(images.length % 3).toBe(0);
  for (const im of images) {
    expect(im.w).toBe(32);
    expect(im.range, 'a sample with contrast').toBeGreaterThan(40);
  }
  await page.getByTestId('compare-panel').screenshot({ path: `${SHOTS}/quick-compare.png` });
  expect(seen.pageErrors).toEqual([]);
  expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
});
