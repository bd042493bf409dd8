import { describe, expect, it } from 'vitest';
import { builtinSample } from '../../src/data/builtin/dataset';
import { scorePrompts } from '../../src/eval/score';

describe('scorePrompts', () => {
  it('scores renders of built-in captions (true renders 1.0, swapped images low) and refuses free text', () => {
    const samples = Array.from({ length: 12 }, (_, i) => builtinSample('clean', i));
    const good = scorePrompts(samples.map((s) => s.caption), samples.map((s) => s.image))!;
    expect(good.overall).toBe(1);
    expect(Object.keys(good.perTask).length).toBeGreaterThan(2);
    const shifted = scorePrompts(samples.map((s) => s.caption), samples.map((_, i) => samples[(i + 1) % 12].image))!;
    expect(shifted.overall).toBeLessThan(0.5);
    expect(scorePrompts(['a cat on a sofa'], [samples[0].image])).toBe(null);
    expect(scorePrompts([], [])).toBe(null);
  });
});
