// The evaluator as Flow-GRPO's reward: GenEval's partial score on the reference server's example table
// (hand-built detections), and on renders: a ground-truth image scores 1 and is correct; a noise image scores
// less; half-right images earn part of the reward.
import { describe, expect, it } from 'vitest';
import { builtinSample } from '../../src/data/builtin';
import type { PromptSpec } from '../../src/data/builtin/spec';
import type { DetectedObject } from '../../src/eval/detect';
import { canScore, imageReward, partialScore } from '../../src/eval/reward';
import { noiseImage } from './corrupt';

/** A detection with what the score reads: shape, colour, size and box. */
function obj(shape: DetectedObject['shape'], color: DetectedObject['color'], x: number): DetectedObject {
  return { shape, color, size: 'small', box: { x0: x, y0: 10, x1: x + 4, y1: 14 } } as DetectedObject;
}

describe('partial score (GenEval reward server)', () => {
  it('count term: two triangles with 0..5 found give 0, .5, 1, .5, 0, −.5', () => {
    const spec: PromptSpec = { task: 'counting', objects: [{ shape: 'triangle' }], count: 2 };
    const scores = [0, 1, 2, 3, 4, 5].map((n) => partialScore(spec, Array.from({ length: n }, (_, i) => obj('triangle', 'red', 8 * i))));
    expect(scores).toEqual([0, 0.5, 1, 0.5, 0, -0.5]);
  });

  it('one object found twice scores 0; the wrong colour scores .5', () => {
    expect(partialScore({ task: 'single_object', objects: [{ shape: 'circle' }] }, [obj('circle', 'red', 0), obj('circle', 'red', 20)])).toBe(0);
    expect(partialScore({ task: 'colors', objects: [{ shape: 'circle', color: 'red' }] }, [obj('circle', 'blue', 0)])).toBe(0.5);
    // A count that is off and an attribute: the count term and one 0.
    expect(partialScore({ task: 'colors', objects: [{ shape: 'circle', color: 'red' }] }, [])).toBe(0);
  });

  it('position: right 1, relation wrong .75, target missing 1/3', () => {
    const spec: PromptSpec = { task: 'position', objects: [{ shape: 'circle' }, { shape: 'square' }], relation: 'left of' };
    expect(partialScore(spec, [obj('circle', 'red', 0), obj('square', 'blue', 30)])).toBe(1);
    expect(partialScore(spec, [obj('circle', 'red', 30), obj('square', 'blue', 0)])).toBe(0.75);
    expect(partialScore(spec, [obj('circle', 'red', 0)])).toBeCloseTo(1 / 3, 12);
  });
});

describe('image reward', () => {
  it('a ground-truth render scores 1 and is correct; noise scores less and is not', () => {
    for (let i = 0; i < 12; i++) {
      const s = builtinSample('clean', i);
      const r = imageReward(s.image, s.caption);
      expect(r.correct, s.caption).toBe(true);
      expect(r.score, s.caption).toBe(1);
      const noise = imageReward(noiseImage(Math.round(Math.sqrt(s.image.length / 3)), i), s.caption);
      expect(noise.score).toBeLessThan(1);
      expect(noise.correct).toBe(false);
    }
  });

  it('knows which prompts it can score', () => {
    expect(canScore('a red circle')).toBe(true);
    expect(canScore('a portrait of a cat in oil')).toBe(false);
  });
});
