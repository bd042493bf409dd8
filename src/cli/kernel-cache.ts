// The autotuner's cache in Node: one JSON file per user, keyed by adapter (src/tensor/tuning.ts), so the CLI,
// the benchmarks and the demo measure the kernels once per machine and code version.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Engine } from '../tensor/engine';
import { describeKernelChoices } from '../tensor/kernels';
import { loadOrTuneKernels, type KernelCache } from '../tensor/tuning';

/** $SOAR_KERNEL_CACHE, else $XDG_CACHE_HOME/soar-studio/kernels.json, else ~/.cache/soar-studio/kernels.json. */
export function kernelCachePath(): string {
  if (process.env.SOAR_KERNEL_CACHE) return process.env.SOAR_KERNEL_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'soar-studio', 'kernels.json');
}

function readAll(path: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {}; // missing or damaged: measured again and rewritten
  }
}

export function fileKernelCache(path = kernelCachePath()): KernelCache {
  return {
    load: async (key) => readAll(path)[key],
    save: async (key, value) => {
      const all = { ...readAll(path), [key]: value };
      mkdirSync(dirname(path), { recursive: true });
      // Write then rename: two processes tuning at once never leave half a file.
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(all, null, 1) + '\n');
      renameSync(tmp, path);
    },
  };
}

/**
 * Installs the adapter's kernel choices on a CLI engine: cached, or measured now (a few seconds, once per
 * machine and code version). SOAR_KERNELS=default keeps the GPU-shaped defaults; =retune measures again.
 */
export async function tuneCliEngine(engine: Engine): Promise<void> {
  const mode = process.env.SOAR_KERNELS ?? 'tune';
  if (mode === 'default') return;
  if (mode !== 'tune' && mode !== 'retune') throw new Error(`SOAR_KERNELS=${mode}: use tune (the default), retune or default`);
  const r = await loadOrTuneKernels(engine, fileKernelCache(), { retune: mode === 'retune' });
  if (!process.env.SOAR_QUIET_ADAPTER) {
    const how = r.tuned ? `measured in ${(r.tuned.ms / 1000).toFixed(1)} s, cached in ${kernelCachePath()}` : `cached in ${kernelCachePath()}`;
    process.stderr.write(`[soar] kernels: ${describeKernelChoices(r.choices)} (${how})\n`);
  }
}
