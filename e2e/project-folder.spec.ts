// The project kept in a folder (File System Access), against the built studio and its real worker, in Chromium on
// SwiftShader: a run trained on a small picked folder is written to the project folder after its checkpoints,
// the site's IndexedDB is cleared (as a browser does under storage pressure), and after a reload "Open project
// folder…" brings the run (its steps and loss history) and the dataset back.
//
// A headless browser cannot click through the folder picker, so window.showDirectoryPicker is replaced (before
// the page loads) by one that returns a REAL directory handle: a folder "picked" in the origin private file system
// (navigator.storage.getDirectory()). The studio's code path is the real one from there: the handle goes to the
// worker, which writes with createWritable() and remembers the handle in IndexedDB. Clearing only the origin's
// IndexedDB (CDP Storage.clearDataForOrigin, storageTypes 'indexeddb') leaves that file system, as a real
// cleared site leaves the user's own folder on disk.
import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rgbPng, writeDataset, type FileSpec } from '../test/data/ingest/fixtures';
import { E2E_ORIGIN } from './browsers';
import { expectOnlyOwnOrigin, parseSafetensors, setField, SHOTS, studioState, watch } from './helpers';

// SwiftShader: the first step compiles every pipeline (up to a minute), and a cleared origin measures its kernels
// again after the reload.
test.setTimeout(600_000);

/** Six captioned 16×16 images: a colour and a bar, so no two are alike. */
function tinyShapes(): Record<string, FileSpec> {
  const colors: Array<[string, [number, number, number]]> = [
    ['red', [220, 40, 40]],
    ['green', [40, 190, 70]],
    ['blue', [50, 80, 230]],
  ];
  const files: Record<string, FileSpec> = {};
  for (const [name, c] of colors) {
    for (const bar of ['top', 'left'] as const) {
      files[`${name}-${bar}.png`] = rgbPng(16, 16, (x, y) => ((bar === 'top' ? y : x) < 6 ? c : [20, 20, 24]));
      files[`${name}-${bar}.txt`] = `a ${name} bar at the ${bar}`;
    }
  }
  return files;
}

/** A file of the picked folder, read in the page from the origin private file system (null: not there). */
async function folderFile(page: Page, name: string): Promise<Uint8Array | null> {
  const bytes = await page.evaluate(async (name) => {
    try {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('picked');
      const file = await (await dir.getFileHandle(name)).getFile();
      return Array.from(new Uint8Array(await file.arrayBuffer()));
    } catch {
      return null;
    }
  }, name);
  return bytes ? Uint8Array.from(bytes) : null;
}

interface FolderRun {
  record: { id: string; status: string; step: number; checkpointStep: number; history: Array<{ step: number; loss: number }> };
  checkpoint: { step: number } | null;
}

/**
 * The folder's project as this test reads it (its own safetensors parser, not the studio's): the format, the base
 * and the runs of the metadata, with the LoRA tensors of each stepped run. Null while there is none.
 */
async function folderProject(page: Page): Promise<{ base: { preset: string } | null; runs: FolderRun[]; tensors: string[] } | null> {
  const bytes = await folderFile(page, 'soar-project.safetensors');
  if (!bytes || bytes.length === 0) return null;
  const { metadata, tensors } = parseSafetensors(bytes);
  expect(metadata.format).toBe('soar-studio-project/1');
  return { base: JSON.parse(metadata.base), runs: JSON.parse(metadata.runs), tensors: Object.keys(tensors) };
}


test('a project kept in a folder survives a cleared origin: train, clear IndexedDB, reload, open the folder', async ({ page, context }) => {
  const seen = watch(context, page);
  const tmp = mkdtempSync(join(tmpdir(), 'soar-folder-e2e-'));
  try {
    await page.addInitScript(() => {
      localStorage.setItem('soar-studio.base-preset', JSON.stringify('tiny'));
      const w = window as unknown as { showDirectoryPicker: unknown; __picks: unknown[] };
      w.__picks = [];
      w.showDirectoryPicker = async (options: unknown) => {
        w.__picks.push(options);
        const root = await navigator.storage.getDirectory();
        return root.getDirectoryHandle('picked', { create: true });
      };
    });
    await page.goto('/');
    await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
    await expect(page.getByTestId('base-info')).toHaveAttribute('data-preset', 'tiny', { timeout: 180_000 });
    await expect(page.getByTestId('folder-box')).toHaveAttribute('data-supported', 'true');

    // A small dataset through the folder picker of the Dataset panel.
    const folder = join(tmp, 'tiny-shapes');
    writeDataset(folder, tinyShapes());
    await page.getByTestId('folder-input').setInputFiles(folder);
    await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', '6', { timeout: 120_000 });

    // Keep the project in a folder: the (replaced) picker asks for read and write.
    await page.getByTestId('folder-keep').click();
    await expect(page.getByTestId('folder-name')).toHaveText('picked', { timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { __picks: unknown[] }).__picks)).toEqual([{ mode: 'readwrite', id: 'soar-project' }]);
    await expect(page.getByTestId('folder-written')).toContainText('dataset "tiny-shapes" (6 images)', { timeout: 30_000 });

    // Train a few SFT steps; a checkpoint at step 2 and at the end (3).
    await page.getByTestId('preset-quick').click();
    await page.getByTestId('method-sft').click();
    await setField(page, 'max_train_steps', 3);
    await setField(page, 'train_batch_size', 2);
    await setField(page, 'checkpointing_steps', 2);
    await setField(page, 'validation_steps', 2);
    await page.getByTestId('train').click();
    const run = page.getByTestId('run');
    await expect(run).toHaveCount(1);
    const id = (await run.getAttribute('data-run-id'))!;
    await expect(run).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
    await expect(run).toHaveAttribute('data-checkpoint', '3');
    const history = await studioState<Array<{ step: number; loss: number }>>(page, `s.runs[${JSON.stringify(id)}].history.map(h => ({ step: h.step, loss: h.loss }))`);
    const validation = await studioState<Array<{ step: number; loss: number }>>(page, `s.runs[${JSON.stringify(id)}].validation`);
    expect(history.map((h) => h.step)).toEqual([1, 2, 3]);

    // The folder holds the project at the last checkpoint, and the dataset.
    await expect.poll(async () => (await folderProject(page))?.runs[0]?.checkpoint?.step ?? null, { timeout: 60_000 }).toBe(3);
    const project = (await folderProject(page))!;
    expect(project.runs.map((r) => [r.record.id, r.record.status, r.record.step])).toEqual([[id, 'done', 3]]);
    expect(project.runs[0].record.history.map((h) => ({ step: h.step, loss: h.loss }))).toEqual(history);
    expect(project.base?.preset).toBe('tiny');
    expect(project.tensors.some((k) => k.startsWith('run0/param/') && k.endsWith('lora_B'))).toBe(true);
    const data = parseSafetensors((await folderFile(page, 'soar-dataset.safetensors'))!);
    expect(data.metadata).toMatchObject({ format: 'soar-studio-dataset/1', kind: 'files', name: 'tiny-shapes', count: '6', resolution: '8' });
    expect(data.tensors.images.shape).toEqual([6, 3, 8, 8]);
    expect(JSON.parse(data.metadata.captions)).toContain('a red bar at the top');
    await expect(page.getByTestId('folder-written')).toContainText('at step 3');
    await page.getByTestId('folder-box').scrollIntoViewIfNeeded();
    await page.getByTestId('folder-box').screenshot({ path: `${SHOTS}/project-folder.png` });

    // The browser clears the site's IndexedDB (runs, checkpoints, dataset, the remembered folder), then a reload.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.clearDataForOrigin', { origin: E2E_ORIGIN, storageTypes: 'indexeddb' });
    await page.reload();
    await expect(page.getByTestId('runs-restore')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(page.getByTestId('run')).toHaveCount(0);
    // The studio says what vanished, and where the project is (the folder's name outlives IndexedDB).
    await expect(page.getByTestId('alert-lost-data')).toContainText('"picked"', { timeout: 30_000 });
    await expect(page.getByTestId('folder-name')).toHaveCount(0);
    await expect(page.getByTestId('base-info')).toHaveAttribute('data-preset', 'tiny', { timeout: 180_000 });

    // Open project folder…: the run comes back at its checkpoint with its curve, and the dataset with it.
    await page.getByTestId('folder-open').click();
    await expect(page.getByTestId('folder-opened')).toContainText('Opened "picked"', { timeout: 120_000 });
    const back = page.locator(`[data-testid=run][data-run-id="${id}"]`);
    await expect(back).toHaveCount(1);
    await expect(back).toHaveAttribute('data-step', '3');
    await expect(back).toHaveAttribute('data-checkpoint', '3');
    await expect(back).toHaveAttribute('data-status', 'done');
    expect(await studioState(page, `s.runs[${JSON.stringify(id)}].history.map(h => ({ step: h.step, loss: h.loss }))`)).toEqual(history);
    expect(await studioState(page, `s.runs[${JSON.stringify(id)}].validation`)).toEqual(validation);
    await expect(page.getByTestId('dataset-report')).toHaveAttribute('data-count', '6', { timeout: 120_000 });
    await expect(page.getByTestId('dataset-summary')).toContainText('tiny-shapes');
    await expect(page.getByTestId('alert-lost-data')).toHaveCount(0); // the lost run is back
    await expect(page.getByTestId('folder-name')).toHaveText('picked'); // and the project is kept there again
    await expect(page.getByTestId('alert-folder')).toHaveCount(0);
    await page.getByTestId('folder-box').screenshot({ path: `${SHOTS}/project-folder-opened.png` });

    // Back in IndexedDB too: a reload (no folder needed this time) still has the run.
    await page.reload();
    await expect(page.getByTestId('runs-restore')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(page.locator(`[data-testid=run][data-run-id="${id}"]`)).toHaveAttribute('data-checkpoint', '3');
    await expect(page.getByTestId('folder-name')).toHaveText('picked', { timeout: 30_000 });

    expect(seen.pageErrors).toEqual([]);
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('without the File System Access API the folder buttons are off and the box says why', async ({ page }) => {
  await page.addInitScript(() => {
    localStorage.setItem('soar-studio.base-preset', JSON.stringify('tiny'));
    delete (window as unknown as { showDirectoryPicker?: unknown }).showDirectoryPicker; // Firefox, Safari
    delete (Window.prototype as unknown as { showDirectoryPicker?: unknown }).showDirectoryPicker;
  });
  await page.goto('/');
  const box = page.getByTestId('folder-box');
  await expect(box).toHaveAttribute('data-supported', 'false');
  await expect(page.getByTestId('folder-keep')).toBeDisabled();
  await expect(page.getByTestId('folder-open')).toBeDisabled();
  await expect(page.getByTestId('folder-unsupported')).toContainText('Download project');
});
