// The kernel autotuner: it measures every variant, refuses one whose numbers are wrong, installs the fastest
// correct one per shape class, and caches the choice per adapter.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileKernelCache } from '../../src/cli/kernel-cache';
import { ATTENTION_VARIANTS, DEFAULT_KERNELS, MATMUL_VARIANTS, REDUCTION_VARIANTS, parseKernelChoices } from '../../src/tensor/kernels';
import { chooseVariant, loadOrTuneKernels, tuningKey, type KernelCache } from '../../src/tensor/tuning';
import { getEngine } from './harness';

function memoryCache(): KernelCache & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return { data, load: async (k) => data.get(k), save: async (k, v) => void data.set(k, v) };
}

describe('kernel autotuning', () => {
  it('measures every variant of every class, installs the fastest correct one, then reuses the cache', async () => {
    const e = await getEngine();
    e.poisonOutputs = false;
    const cache = memoryCache();
    const first = await loadOrTuneKernels(e, cache);
    expect(first.tuned).not.toBeNull();
    const m = first.tuned!.measurements;
    // v1 (naive) is the reference everywhere and a candidate only for tiny problems.
    expect(m.filter((x) => x.op === 'matmul').map((x) => `${x.shapeClass} ${x.variant}`).sort()).toEqual(
      ['general', 'reduce', 'skinny', 'tiny'].flatMap((c) => MATMUL_VARIANTS.filter((v) => c === 'tiny' || v !== 'naive').map((v) => `${c} ${v}`)).sort(),
    );
    expect(m.filter((x) => x.op === 'attention').map((x) => x.variant)).toEqual([...ATTENTION_VARIANTS]);
    expect(m.filter((x) => x.op === 'reduction').map((x) => x.variant)).toEqual([...REDUCTION_VARIANTS]);
    for (const x of m) expect(x.ms, `${x.op} ${x.shapeClass} ${x.variant}: ${x.refused}`).toBeGreaterThan(0);
    // The choice of each class is its fastest measured variant.
    const fastest = (op: string, cls: string) => m.filter((x) => x.op === op && x.shapeClass === cls).sort((a, b) => a.ms! - b.ms!)[0].variant;
    expect(first.choices.matmul.skinny).toBe(fastest('matmul', 'skinny'));
    expect(first.choices.matmul.general).toBe(fastest('matmul', 'general'));
    expect(first.choices.matmul.reduce).toBe(fastest('matmul', 'reduce'));
    expect(first.choices.attention).toBe(fastest('attention', 'short'));
    expect(first.choices.reduction).toBe(fastest('reduction', 'rows'));
    expect(e.kernels).toEqual(first.choices);

    const untuned = e.kernels;
    e.kernels = DEFAULT_KERNELS;
    const second = await loadOrTuneKernels(e, cache);
    expect(second.tuned).toBeNull();
    expect(e.kernels).toEqual(first.choices);
    expect([...cache.data.keys()]).toEqual([tuningKey(e.gpu.summary)]);
    e.kernels = untuned;
    e.poisonOutputs = true;
  });

  it('refuses a variant whose results differ from the reference kernel', async () => {
    const e = await getEngine();
    const x = e.keep(e.fromArray([1, 2, 3, 4], [4], 'x'));
    const r = await chooseVariant(e, 'matmul', 'test', ['wrong', 'also-right'] as const, (v) => ({
      record: () => [v === 'wrong' ? e.full([4], 7) : e.clone(x)],
    }), 1, () => {}, 'right' as 'wrong' | 'also-right');
    x.release();
    expect(r.measurements.find((m) => m.variant === 'wrong')).toMatchObject({ ms: null, refused: expect.stringMatching(/relative error .* against right/) });
    expect(r.best).toBe('also-right');
    expect(r.measurements.map((m) => m.variant)).toEqual(['wrong', 'also-right']); // the reference is not timed
  });

  it('stored choices are validated: unknown variants fall back, garbage is ignored', () => {
    expect(parseKernelChoices({ matmul: { skinny: 'reg', general: 'bogus' }, attention: 'rows' })).toEqual({ matmul: { tiny: DEFAULT_KERNELS.matmul.tiny, skinny: 'reg', reduce: DEFAULT_KERNELS.matmul.reduce, general: DEFAULT_KERNELS.matmul.general }, attention: 'rows', reduction: DEFAULT_KERNELS.reduction });
    expect(parseKernelChoices('x')).toBeNull();
    expect(parseKernelChoices({ attention: 'rows' })).toBeNull();
  });

  it('the Node cache file survives damage and keeps other adapters', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'soar-kernels-')), 'sub', 'kernels.json');
    const cache = fileKernelCache(path);
    expect(await cache.load('a')).toBeUndefined();
    await cache.save('a', { x: 1 });
    await cache.save('b', { y: 2 });
    expect(await cache.load('a')).toEqual({ x: 1 });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ a: { x: 1 }, b: { y: 2 } });
    writeFileSync(path, '{ not json');
    expect(await cache.load('a')).toBeUndefined();
    await cache.save('c', 3);
    expect(await cache.load('c')).toBe(3);
  });
});
