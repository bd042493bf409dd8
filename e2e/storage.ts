// Helpers of storage-faults.spec.ts: the studio's IndexedDB as the test itself reads it (never through the app),
// the kernel choice seeded into a fresh profile, the run form, and a small tmpfs for a disk that really fills up.
import { expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KernelChoices } from '../src/tensor/kernels';
import { STUDIO_DB, STUDIO_STORE } from '../src/worker/kv';
import { setField } from './helpers';

/** What the studio's store holds, read in the page with IndexedDB directly. */
export interface StoredState {
  keys: string[];
  /** Run id -> step of its stored checkpoint. */
  checkpoints: Record<string, number>;
  /** Name of the stored dataset, or null. */
  dataset: string | null;
  /** The stored run list (id, name, checkpoint step), or null when there is none. */
  runs: Array<{ id: string; name: string; checkpointStep: number }> | null;
}

/**
 * Reads the studio's database from the page. Never creates it: when it does not exist (or is being created by
 * this very open) the read is aborted, so the studio's own first open still makes its object store.
 */
export async function readStore(page: Page): Promise<StoredState> {
  return page.evaluate(
    async ({ db: name, store }) => {
      const empty = { keys: [] as string[], checkpoints: {} as Record<string, number>, dataset: null as string | null, runs: null as Array<{ id: string; name: string; checkpointStep: number }> | null };
      if (!(await indexedDB.databases()).some((d) => d.name === name)) return empty;
      const db = await new Promise<IDBDatabase | null>((ok, fail) => {
        const r = indexedDB.open(name);
        r.onupgradeneeded = () => r.transaction!.abort(); // it was deleted meanwhile: do not make an empty one
        r.onsuccess = () => ok(r.result);
        r.onerror = () => (r.error?.name === 'AbortError' ? ok(null) : fail(r.error));
      });
      if (!db) return empty;
      try {
        if (!db.objectStoreNames.contains(store)) return empty;
        const os = db.transaction(store).objectStore(store);
        const req = <T>(r: IDBRequest<T>) => new Promise<T>((ok, fail) => ((r.onsuccess = () => ok(r.result)), (r.onerror = () => fail(r.error))));
        const keys = (await req(os.getAllKeys())).map(String);
        const out = { ...empty, keys };
        for (const k of keys) {
          if (k.startsWith('checkpoint:')) out.checkpoints[k.slice('checkpoint:'.length)] = ((await req(os.get(k))) as { step: number }).step;
        }
        if (keys.includes('dataset:current')) out.dataset = ((await req(os.get('dataset:current'))) as { name: string }).name;
        if (keys.includes('runs')) out.runs = ((await req(os.get('runs'))) as Array<{ id: string; name: string; checkpointStep: number }>).map((r) => ({ id: r.id, name: r.name, checkpointStep: r.checkpointStep }));
        return out;
      } finally {
        db.close();
      }
    },
    { db: STUDIO_DB, store: STUDIO_STORE },
  );
}

/**
 * The kernel autotuner's choice on SwiftShader (what it measures there: barrier-free register matmuls, row
 * attention, serial reductions; the GPU panel shows it), stored under the key the studio looks up
 * (`kernels:` + tuningKey(adapter) in src/tensor/tuning.ts), so that a fresh profile does not spend 30 s to
 * minutes measuring again. It only affects speed: every variant computes the same numbers. On any other adapter
 * nothing is stored and the studio measures for itself.
 */
const SOFTWARE_KERNELS: KernelChoices = { matmul: { tiny: 'naive', skinny: 'reg', reduce: 'reg8', general: 'reg' }, attention: 'rows', reduction: 'serial' };
const TUNING_VERSION = Number(/export const TUNING_VERSION = (\d+);/.exec(readFileSync(fileURLToPath(new URL('../src/tensor/tuning.ts', import.meta.url)), 'utf8'))?.[1]);

/**
 * Leaves the studio for a plain file of its origin (the worker and its database connections go with the page)
 * and makes the studio's database there, as the studio's own first open would; with `seedKernels`, stores the
 * kernel choice for a software adapter (above).
 */
export async function atOriginWithoutStudio(page: Page, seedKernels: boolean): Promise<void> {
  expect(Number.isInteger(TUNING_VERSION), 'TUNING_VERSION read from src/tensor/tuning.ts').toBe(true);
  await page.goto('/favicon.svg');
  await page.evaluate(
    async ({ db: name, store, seed, version }) => {
      // The adapter as summarizeAdapter (src/gpu/device.ts) names it, for tuningKey.
      const adapter = seed.choices ? await navigator.gpu?.requestAdapter() : null;
      const info = adapter?.info;
      const software = !!info && /swiftshader/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));
      const key = info && `kernels:v${version}|${info.vendor || 'unknown'}|${info.architecture || ''}|${info.device || ''}|${info.description || ''}`;
      const db = await new Promise<IDBDatabase>((ok, fail) => {
        const r = indexedDB.open(name);
        r.onupgradeneeded = () => r.result.createObjectStore(store);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => fail(r.error);
      });
      try {
        if (seed.choices && software && key) {
          await new Promise<void>((ok, fail) => {
            const tx = db.transaction(store, 'readwrite');
            tx.objectStore(store).put(seed.choices, key);
            tx.oncomplete = () => ok();
            tx.onerror = () => fail(tx.error);
          });
        }
      } finally {
        db.close();
      }
    },
    { db: STUDIO_DB, store: STUDIO_STORE, seed: { choices: seedKernels ? SOFTWARE_KERNELS : null }, version: TUNING_VERSION },
  );
}

/** The studio ready to work on the tiny base (a returning user's choice: its steps are cheap on SwiftShader). */
export async function openStudio(page: Page): Promise<void> {
  await page.addInitScript(() => localStorage.setItem('soar-studio.base-preset', JSON.stringify('tiny')));
  await page.goto('/');
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('base-info')).toHaveAttribute('data-preset', 'tiny', { timeout: 180_000 });
}


/** Starts one SFT run of `steps` steps at batch 1 that writes a checkpoint every `checkpointEvery` steps. */
export async function startSft(page: Page, steps: number, checkpointEvery: number, rank?: number): Promise<void> {
  const panel = page.getByTestId('config-panel');
  if ((await panel.getAttribute('data-folded')) === 'true') await panel.locator('.fold-toggle').click(); // the training view folds the form
  await page.getByTestId('preset-quick').click();
  await page.getByTestId('method-sft').click();
  await setField(page, 'max_train_steps', steps);
  await setField(page, 'train_batch_size', 1);
  await setField(page, 'checkpointing_steps', checkpointEvery);
  await setField(page, 'validation_steps', 1000);
  if (rank) await setField(page, 'rank', rank);
  await expect(page.getByTestId('config-errors')).toHaveCount(0);
  await page.getByTestId('train').click();
}

/** An id the studio uses internally for a run (`run-<stamp>-sft`): never meant for the user's eyes. */
export const INTERNAL_RUN_ID = /\brun-[a-z0-9]+-(?:sft|soar|grpo)\b/i;

/**
 * Checks the "what is still stored" part of a storage alert against what the test itself read from IndexedDB
 * right after: the alert may call safe only what is there, and must call missing what is not.
 */
export function expectTruthfulRemains(alert: string, runName: string, stored: StoredState, runId: string) {
  const checked = /Checked just now: (.*?)(?:What to do:|$)/s.exec(alert);
  expect(checked, 'the alert says what it read back').not.toBeNull();
  const said = checked![1];
  const held = /still stored: (.*?)\.(?: Not stored|$)/s.exec(said)?.[1] ?? '';
  const missing = /Not stored: (.*?)\./s.exec(said)?.[1] ?? '';
  const step = stored.checkpoints[runId];
  if (step !== undefined) expect(held).toContain(`the checkpoint of run "${runName}" at step ${step}`);
  else {
    expect(missing).toContain(`any checkpoint of run "${runName}"`);
    expect(held).not.toContain(`run "${runName}"`);
  }
  if (stored.dataset) expect(held).toContain(`the dataset "${stored.dataset}"`);
  else expect(missing).toContain('the dataset');
  if (!stored.runs?.length) expect(missing).toContain('the run list');
  else expect(missing).not.toContain('the run list');
}

// ------------------------------------------------------------------------------------------------ a full disk

/** Mounts a tmpfs of `mib` MiB at `dir` (root only). Returns why not, or null when mounted. */
export function mountTmpfs(dir: string, mib: number): string | null {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return (err.stderr?.toString().trim() || err.message).split('\n')[0];
  }
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); // lazily, if something still holds it
  }
  rmSync(dir, { recursive: true, force: true });
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Fills the file system of `file` until `leave` bytes are free (real blocks: tmpfs does not over-commit them). */
export function fillDisk(file: string, dir: string, leave: number): void {
  const bytes = freeBytes(dir) - leave;
  if (bytes <= 0) return;
  try {
    execFileSync('fallocate', ['-l', String(bytes), file], { stdio: 'pipe' });
  } catch {
    const fd = openSync(file, 'w');
    const chunk = Buffer.alloc(1 << 20);
    try {
      for (let left = bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    } finally {
      closeSync(fd);
    }
  }
}
