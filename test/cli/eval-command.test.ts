// `eval` on the tiny preset: the report for the held-out prompts, also when no drift is asked for
// (--drift-samples 0 once crashed printing the table's drift column).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quietCommand } from './quiet';

describe('eval', () => {
  it('scores the held-out prompts with and without drift samples', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soar-eval-'));
    const base = join(dir, 'base');
    expect(await quietCommand(['init-base', '--preset', 'tiny', '--seed', '3', '--out', base])).toBe(0);
    for (const drift of ['0', '2']) {
      const out = join(dir, `report-${drift}.json`);
      expect(await quietCommand(['eval', '--base', base, '--prompts', '3', '--eval-steps', '2', '--drift-samples', drift, '--out', out])).toBe(0);
      expect(existsSync(out)).toBe(true);
      const report = JSON.parse(readFileSync(out, 'utf8')) as { byStep: Array<{ steps: number; overall: number }>; drift: unknown[] };
      expect(report.byStep.map((s) => s.steps)).toEqual([2]);
      expect(report.byStep[0].overall).toBeGreaterThanOrEqual(0);
      expect(report.drift).toHaveLength(drift === '0' ? 0 : 1);
    }
  });
});
