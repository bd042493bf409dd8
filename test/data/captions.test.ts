import { describe, expect, it } from 'vitest';
import {
  CLEAN_COUNT,
  VOCAB,
  captionOf,
  describeBuiltinSample,
  heldOutPrompts,
  parseCaption,
  type PromptSpec,
} from '../../src/data/builtin';

function parsed(text: string): PromptSpec {
  const r = parseCaption(text);
  if (!r.ok) throw new Error(`"${text}": ${r.error}`);
  return r.spec;
}

describe('caption grammar', () => {
  it('round-trips every clean sample and 1000 broad ones: parse(caption) equals the generator spec', () => {
    const samples = [
      ...Array.from({ length: CLEAN_COUNT }, (_, i) => describeBuiltinSample('clean', i)),
      ...Array.from({ length: 1000 }, (_, i) => describeBuiltinSample('broad', i)),
    ];
    for (const s of samples) {
      expect(parsed(s.caption), s.caption).toStrictEqual(s.spec);
      expect(captionOf(s.spec)).toBe(s.caption);
    }
  });

  it('round-trips every held-out prompt', () => {
    for (const p of heldOutPrompts()) expect(parsed(p.text), p.text).toStrictEqual(p.spec);
  });

  it('parses each task form into the documented spec', () => {
    expect(parsed('a circle')).toStrictEqual({ task: 'single_object', objects: [{ shape: 'circle' }] });
    expect(parsed('a large square')).toStrictEqual({ task: 'single_object', objects: [{ shape: 'square', size: 'large' }] });
    expect(parsed('a small red triangle')).toStrictEqual({
      task: 'colors',
      objects: [{ shape: 'triangle', color: 'red', size: 'small' }],
    });
    expect(parsed('a circle and a diamond')).toStrictEqual({
      task: 'two_object',
      objects: [{ shape: 'circle' }, { shape: 'diamond' }],
    });
    expect(parsed('a red circle and a blue square')).toStrictEqual({
      task: 'color_attr',
      objects: [
        { shape: 'circle', color: 'red' },
        { shape: 'square', color: 'blue' },
      ],
    });
    expect(parsed('a red circle to the left of a blue square')).toStrictEqual({
      task: 'position',
      objects: [
        { shape: 'circle', color: 'red' },
        { shape: 'square', color: 'blue' },
      ],
      relation: 'left of',
    });
    expect(parsed('a cyan diamond below a yellow diamond').relation).toBe('below');
    expect(parsed('three green triangles')).toStrictEqual({
      task: 'counting',
      objects: [{ shape: 'triangle', color: 'green' }],
      count: 3,
    });
  });

  it('tolerates case, punctuation, extra spaces, "an" and a "a photo of" prefix', () => {
    expect(parsed('  A Photo of  a RED circle. ')).toStrictEqual(parsed('a red circle'));
    expect(parsed('an red circle')).toStrictEqual(parsed('a red circle'));
  });

  it('rejects text outside the grammar with a message', () => {
    for (const bad of [
      '',
      'a purple circle',
      'a red',
      'two red circle',
      'a red circle and a square',
      'a red circle near a blue square',
      'a red circle and',
      'four red circles',
      'a circle a square',
    ]) {
      const r = parseCaption(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error.length).toBeGreaterThan(0);
    }
  });

  it('exports a vocabulary that covers every caption word', () => {
    const vocab = new Set(VOCAB);
    expect([...vocab].sort()).toStrictEqual([...VOCAB]);
    for (let i = 0; i < 1000; i++) {
      for (const w of describeBuiltinSample('broad', i).caption.split(' ')) expect(vocab.has(w), w).toBe(true);
    }
  });
});
