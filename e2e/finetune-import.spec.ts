// Files → "A full fine-tune as a LoRA" in the built studio with the real worker (SwiftShader, the tiny base): a
// file that is not safetensors is refused with what to do, then a sharded transformer folder is picked, extracted
// with progress, and listed with the imported LoRAs (Compare, export) beside its energy kept. The fine-tune here
// is the base's shapes with other values: a full-rank change, so the energy kept is below 1 and the worst
// modules are named. Exactness is the unit tests' job (test/io/tuned-to-lora.test.ts).
import { expect, test } from '@playwright/test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRESETS } from '../src/model/config';
import { parameterSpecs } from '../src/model/params';
import { shardedFiles, uniform } from '../test/io/tuned-fixtures';
import { E2E_ORIGIN } from './browsers';
import { expectOnlyOwnOrigin, SHOTS, studioState, watch } from './helpers';

test.setTimeout(300_000);

test('a sharded fine-tune folder becomes a listed LoRA with its energy kept; junk is refused', async ({ page, context }) => {
  const seen = watch(context, page);
  const tmp = mkdtempSync(join(tmpdir(), 'soar-e2e-finetune-'));
  try {
    const tensors = new Map(parameterSpecs(PRESETS.tiny.config).map((s, k) => [s.name, { shape: s.shape, data: Float32Array.from(uniform(s.shape.reduce((a, b) => a * b, 1), k + 1, -0.1, 0.1)) }]));
    const folder = join(tmp, 'transformer');
    mkdirSync(folder);
    for (const [path, bytes] of shardedFiles(tensors, 2, 'transformer')) writeFileSync(join(tmp, path), bytes);

    await page.addInitScript(() => localStorage.setItem('soar-studio.base-preset', JSON.stringify('tiny')));
    await page.goto('/');
    await expect(page.getByTestId('base-info')).toHaveAttribute('data-preset', 'tiny', { timeout: 180_000 });
    const box = page.getByTestId('finetune-import');
    await box.scrollIntoViewIfNeeded();

    await page.getByTestId('extract-file').setInputFiles({ name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a safetensors file') });
    await expect(page.getByTestId('extract-error')).toContainText('notes.safetensors', { timeout: 60_000 });
    await expect(page.getByTestId('extract-error')).toContainText('What to do:');

    await page.getByTestId('extract-rank').selectOption('4');
    await page.getByTestId('extract-folder').setInputFiles(folder);
    const result = page.getByTestId('extract-result');
    await expect(result).toContainText('Imported transformer (rank 4)', { timeout: 120_000 });
    await expect(page.getByTestId('extract-energy')).toContainText(/lowest \d+\.\d\s%, mean \d+\.\d\s% over 21 modules/);
    await expect(result).toContainText('Keeping least: transformer_blocks.');
    await expect(page.getByTestId('extract-error')).toHaveCount(0);
    const summary = await studioState<{ min: number; mean: number; modules: number }>(page, 's.extraction.result.summary');
    expect(summary.modules).toBe(21); // tiny's attention (15) and MLP (6) linears: the default targets
    expect(summary.min).toBeGreaterThan(0);
    expect(summary.mean).toBeLessThan(1);
    // Listed like an imported LoRA file: offered for export and as a Compare column.
    await expect(page.getByTestId('export-run').locator('option', { hasText: 'imported: transformer (rank 4)' })).toHaveCount(1);
    const id = await studioState<string>(page, 's.extraction.result.runId');
    await expect(page.locator(`[data-testid=compare-run][data-run-id="${id}"]`)).toHaveCount(1);
    await box.screenshot({ path: `${SHOTS}/finetune-import.png` });
    expect(seen.pageErrors).toEqual([]);
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
