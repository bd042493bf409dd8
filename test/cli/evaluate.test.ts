import { describe, expect, it } from 'vitest';
import { evaluateModel } from '../../src/cli/evaluate';
import { builtinVocabulary } from '../../src/encode/builtin-vocab';
import { randomBase } from '../../src/io/base-runtime';
import { parseArgs } from '../../src/cli/args';
import { getEngine } from '../tensor/harness';

describe('CLI evaluation', () => {
  it('evaluates a model on held-out prompts at several step counts, with drift, reproducibly', async () => {
    const e = await getEngine();
    const base = randomBase(e, 'tiny', builtinVocabulary(8), 3);
    const opts = { prompts: 3, stepCounts: [1, 2], cfgScale: 2, driftSamples: 2 };
    const a = await evaluateModel(e, base, opts);
    expect(a.byStep.map((s) => s.steps)).toEqual([1, 2]);
    expect(a.prompts.length).toBe(3);
    expect(a.images.length).toBe(3);
    expect(a.drift[1].perLevel.length).toBe(3);
    expect(a.drift[1].perLevel[0]).toBe(0);
    for (const s of a.byStep) expect(s.overall).toBeGreaterThanOrEqual(0);
    const b = await evaluateModel(e, base, opts);
    expect(b.drift).toEqual(a.drift); // same noise for every call
    expect(Array.from(b.images[0])).toEqual(Array.from(a.images[0]));
    base.model.release();
  });

  it('parses options and says which one is wrong', () => {
    const args = parseArgs(['--steps', '5', '--resume', '--out=x']);
    expect(args.int('steps', 1)).toBe(5);
    expect(args.flag('resume')).toBe(true);
    expect(args.required('out')).toBe('x');
    expect(() => args.required('base')).toThrow(/--base is required/);
    expect(() => parseArgs(['--steps', 'x']).int('steps', 1)).toThrow(/--steps must be an integer/);
    expect(() => parseArgs(['oops'])).toThrow(/unexpected argument "oops"/);
  });
});

describe('report plots', () => {
  it('draws each series in its colour on a white canvas', async () => {
    const { linePlotPng } = await import('../../src/codec/plot');
    const { inflateSync } = await import('node:zlib');
    const png = linePlotPng([{ color: [255, 0, 0], points: [[0, 1], [1, 2], [2, 0.5]] }], { width: 40, height: 20 });
    // IHDR then one IDAT: decode and look for a pure red pixel.
    const idat = png.indexOf(0x49) >= 0 ? Buffer.from(png).indexOf('IDAT') : -1;
    const len = new DataView(png.buffer).getUint32(idat - 4);
    const raw = inflateSync(Buffer.from(png.subarray(idat + 4, idat + 4 + len)));
    let red = 0;
    for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) {
      const o = y * (40 * 3 + 1) + 1 + x * 3;
      if (raw[o] === 255 && raw[o + 1] === 0 && raw[o + 2] === 0) red++;
    }
    expect(red).toBeGreaterThan(20);
  });
});
