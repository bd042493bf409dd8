// The compare grid's default prompts fit the loaded data: a user's dataset is sampled on its own captions.
import { describe, expect, it } from 'vitest';
import { datasetPrompts, defaultPrompts } from '../../src/ui/ComparePanel';
import type { DatasetSummary } from '../../src/worker/protocol';

const summary = (format: string, captions: string[]): DatasetSummary =>
  ({ name: 'digits', format, count: captions.length, resolution: 32, reportText: '', skipped: {}, warnings: {}, items: [], preview: captions.map((caption, i) => ({ id: `${i}`, path: `${i}.png`, caption, image: { width: 1, height: 1, data: new Uint8ClampedArray(4) } })) }) as unknown as DatasetSummary;

describe('compare prompts', () => {
  it("default to a user's captions (distinct, at most four), and to the built-in held-out prompts otherwise", () => {
    expect(datasetPrompts(summary('captions', ['a handwritten 3', 'a handwritten 7', 'a handwritten 3', 'a handwritten 1', 'a handwritten 9', 'a handwritten 0']))).toEqual(['a handwritten 3', 'a handwritten 7', 'a handwritten 1', 'a handwritten 9']);
    expect(datasetPrompts(summary('builtin', ['a red circle']))).toBeNull();
    expect(datasetPrompts(null)).toBeNull();
    expect(datasetPrompts(summary('captions', ['']))).toBeNull();
    expect(defaultPrompts().length).toBeGreaterThan(3);
  });
});
