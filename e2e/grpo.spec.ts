// Flow-GRPO in the browser with the real worker on SwiftShader: the third method in the run form, a short run on
// the tiny base (the toy reward, so groups differ even on a random base), reward curves with points, the watched
// run's sampled groups as images with their rewards and advantages, and its LoRA exported with the method named;
// then "SOAR, then Flow-GRPO": a Flow-GRPO run started from a finished SOAR run's LoRA.
import { expect, test } from '@playwright/test';
import { E2E_ORIGIN } from './browsers';
import { canvasStats, expectOnlyOwnOrigin, parseSafetensors, setField, SHOTS, studioState, watch } from './helpers';
import { openStudio } from './storage';

test.setTimeout(300_000);

test('Flow-GRPO: train a short run, watch its groups and rewards, export its LoRA', async ({ page, context }) => {
  const seen = watch(context, page);
  await openStudio(page);
  await page.getByTestId('use-builtin').click();
  await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', /\d+/, { timeout: 120_000 });

  await page.getByTestId('preset-quick').click();
  await page.getByTestId('method-grpo').click();
  await expect(page.getByTestId('cfg-sample_num_image_per_prompt')).toBeEnabled();
  await expect(page.getByTestId('cfg-lambda_aux')).toBeDisabled(); // SOAR's group is off for Flow-GRPO
  await setField(page, 'max_train_steps', 4);
  await setField(page, 'train_batch_size', 2);
  await setField(page, 'sample_num_image_per_prompt', 3);
  await setField(page, 'sample_num_steps', 3);
  await setField(page, 'sample_guidance_scale', 1);
  await setField(page, 'reward_fn', 'redness');
  await expect(page.getByTestId('config-errors')).toHaveCount(0);
  await setField(page, 'sample_sde_window_size', 1);
  await setField(page, 'validation_steps', 2);
  await setField(page, 'checkpointing_steps', 2);
  await expect(page.getByTestId('config-errors')).toHaveCount(0);
  await expect(page.getByTestId('train')).toHaveText('Train Flow-GRPO');
  await page.getByTestId('config-panel').screenshot({ path: `${SHOTS}/run-config-grpo.png` });
  await page.getByTestId('train').click();

  const run = page.locator('[data-testid=run][data-method=grpo]');
  await expect(run).toHaveCount(1);
  const id = (await run.getAttribute('data-run-id'))!;
  // Train picks a run to watch; this one is the only run.
  await expect(page.getByTestId('grpo-groups')).toBeVisible({ timeout: 240_000 });
  await expect(page.getByTestId('grpo-group')).toHaveCount(2);
  await expect(page.getByTestId('grpo-sample')).toHaveCount(2 * 3);
  const tiles = await canvasStats(page, 'canvas[data-testid=grpo-sample]');
  expect(tiles).toHaveLength(2 * 3);
  for (const t of tiles) {
    expect(t.w).toBe(8);
    expect(t.colors, 'distinct colours in a sampled image').toBeGreaterThan(1);
  }
  await expect(page.getByTestId('grpo-group').first()).toContainText(/r \d\.\d\d/);
  await expect(page.getByTestId('grpo-group').first()).toContainText(/A [+-]\d\.\d\d/);
  await page.getByTestId('trajectory-panel').screenshot({ path: `${SHOTS}/grpo-groups.png` });

  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  const rewards = await studioState<number[]>(page, `s.runs[${JSON.stringify(id)}].history.map(h => h.reward_mean)`);
  expect(rewards).toHaveLength(4);
  for (const r of rewards) expect(r).toBeGreaterThan(0);
  for (const metric of ['reward_mean', 'reward_max', 'reward_std', 'policy_loss']) {
    const points = JSON.parse((await page.locator(`figure[data-metric=${metric}]`).getAttribute('data-points'))!);
    expect(points[id], metric).toBe(4);
  }
  // SOAR's curves are not drawn for a run without them.
  await expect(page.locator('figure[data-metric=loss_aux]')).toHaveCount(0);
  await page.getByTestId('charts-panel').screenshot({ path: `${SHOTS}/grpo-curves.png` });

  await page.getByTestId('export-run').selectOption(id);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.getByTestId('export-lora').click()]);
  expect(download.suggestedFilename()).toMatch(/-grpo-step4\.safetensors$/);
  const path = await download.path();
  const { metadata } = parseSafetensors(new Uint8Array(await (await import('node:fs/promises')).readFile(path!)));
  expect(metadata.method).toBe('grpo');

  // "SOAR, then Flow-GRPO": a short SOAR run, then a Flow-GRPO run on top of its LoRA; the card says so and the
  // exported file holds both (stacked ranks).
  await page.getByTestId('method-soar').click();
  await expect(page.getByTestId('cfg-sample_sde_window_size')).toBeDisabled(); // Flow-GRPO's advanced fields are off for SOAR
  await setField(page, 'max_train_steps', 2);
  await page.getByTestId('train').click();
  const soar = page.locator('[data-testid=run][data-method=soar]');
  await expect(soar).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  const soarId = (await soar.getAttribute('data-run-id'))!;
  await page.getByTestId('method-grpo').click();
  await setField(page, 'start_from', soarId);
  await expect(page.getByTestId('config-errors')).toHaveCount(0);
  await page.getByTestId('train').click();
  const chained = page.locator(`[data-testid=run][data-method=grpo]:not([data-run-id="${id}"])`);
  await expect(chained.getByTestId('run-start-from')).toHaveText('started from SOAR 1 (SOAR, step 2)');
  await expect(chained).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  const chainedId = (await chained.getAttribute('data-run-id'))!;
  await page.getByTestId('export-run').selectOption(chainedId);
  const [chainedDownload] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.getByTestId('export-lora').click()]);
  const chainedMeta = parseSafetensors(new Uint8Array(await (await import('node:fs/promises')).readFile((await chainedDownload.path())!))).metadata;
  expect(chainedMeta).toMatchObject({ method: 'grpo', started_from: 'SOAR 1 (SOAR, step 2)' });
  expect(Number(chainedMeta.lora_rank)).toBe(2 * Number(await studioState<number>(page, `s.runs[${JSON.stringify(chainedId)}].config.rank`)));

  expect(seen.pageErrors).toEqual([]);
  expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
});
