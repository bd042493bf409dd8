import { describe, expect, it } from 'vitest';
import {
  COLORS,
  SHAPES,
  TASKS,
  builtinSample,
  heldOutPrompts,
  renderScene,
  sceneForPrompt,
  type BuiltinSample,
  type Scene,
  type SceneObject,
  type Task,
} from '../../src/data/builtin';
import { detectObjects, evaluateImage, summarize, summarizeHeldOut, type ImageEval } from '../../src/eval';
import { addNoise, boxBlur3, noiseImage } from './corrupt';

/** 240 clean + 60 broad ground-truth samples: all six tasks, both splits' variation. */
const SAMPLES: BuiltinSample[] = [
  ...Array.from({ length: 240 }, (_, i) => builtinSample('clean', i)),
  ...Array.from({ length: 60 }, (_, i) => builtinSample('broad', i)),
];

function evalAll(samples: readonly BuiltinSample[], f: (img: Float32Array, i: number) => Float32Array = (x) => x): ImageEval[] {
  return samples.map((s, i) => evaluateImage(f(s.image, i), s.caption));
}

function failures(evals: readonly ImageEval[]): string[] {
  return evals.filter((e) => !e.correct).map((e) => `${e.prompt}: ${e.reason}`);
}

describe('evaluator on ground-truth renders', () => {
  it('scores crisp renders ≥ 0.95 overall, on every task', () => {
    const evals = evalAll(SAMPLES);
    const s = summarize(evals);
    expect(Object.keys(s.tasks).sort()).toStrictEqual([...TASKS].sort());
    expect(s.overall, failures(evals).join('\n')).toBeGreaterThanOrEqual(0.95);
    for (const t of TASKS) expect(s.tasks[t]!.accuracy, t).toBeGreaterThanOrEqual(0.9);
  });

  it('scores ≥ 0.95 with Gaussian noise (sigma 0.1), a 3×3 box blur, and both', () => {
    const corruptions: Record<string, (x: Float32Array, i: number) => Float32Array> = {
      noise: (x, i) => addNoise(x, 0.1, i),
      blur: boxBlur3,
      both: (x, i) => addNoise(boxBlur3(x), 0.1, 1000 + i),
    };
    for (const [name, f] of Object.entries(corruptions)) {
      const evals = evalAll(SAMPLES, f);
      expect(summarize(evals).overall, `${name}:\n${failures(evals).join('\n')}`).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('works at 64 px; at 16 px on crisp renders', () => {
    for (const [size, min] of [
      [64, 0.95],
      [16, 0.85],
    ] as const) {
      const samples = Array.from({ length: 60 }, (_, i) => builtinSample('clean', i, { size }));
      const evals = evalAll(samples);
      expect(summarize(evals).overall, `${size}px:\n${failures(evals).join('\n')}`).toBeGreaterThanOrEqual(min);
    }
  });

  it('passes reference scenes of every held-out prompt, novel and in-distribution', () => {
    const prompts = heldOutPrompts();
    const evals = prompts.map((p) => evaluateImage(renderScene(sceneForPrompt(p.spec, { seed: p.seed })), p.text));
    const s = summarizeHeldOut(evals.map((e, i) => ({ ...e, novel: prompts[i].novel })));
    expect(s.all.overall, failures(evals).join('\n')).toBeGreaterThanOrEqual(0.95);
    expect(s.novel.count).toBe(48);
    expect(Object.keys(s.novel.tasks).length).toBe(4);
    expect(Object.keys(s.inDistribution.tasks).length).toBe(6);
  });

  it('reports what it found: colour, shape, size and box of each object', () => {
    const s = SAMPLES.find((x) => x.spec.task === 'position')!;
    const e = evaluateImage(s.image, s.caption);
    expect(e.correct).toBe(true);
    expect(e.matched.length).toBe(2);
    const det = e.detection.objects;
    expect(det.length).toBe(2);
    for (const o of s.scene.objects) {
      const d = det.find((q) => q.color === o.color && q.shape === o.shape)!;
      expect(d, `${o.color} ${o.shape}`).toBeDefined();
      expect(d.size).toBe(o.size);
      expect(Math.abs(d.cx - o.cx)).toBeLessThan(0.75);
      expect(Math.abs(d.cy - o.cy)).toBeLessThan(0.75);
    }
  });
});

/** Re-render a sample with its scene modified; null when the modification does not apply to the sample. */
function mutated(s: BuiltinSample, edit: (objects: SceneObject[], scene: Scene) => SceneObject[] | null): Float32Array | null {
  const objects = edit(
    s.scene.objects.map((o) => ({ ...o })),
    s.scene,
  );
  return objects ? renderScene({ ...s.scene, objects }) : null;
}

const other = <T>(items: readonly T[], not: T, k: number): T => items.filter((x) => x !== not)[k % (items.length - 1)];

function scoreWrong(tasks: readonly Task[], edit: (objects: SceneObject[], s: BuiltinSample, i: number) => SceneObject[] | null): { n: number; score: number; passed: string[] } {
  const evals: ImageEval[] = [];
  SAMPLES.forEach((s, i) => {
    if (!tasks.includes(s.spec.task)) return;
    const img = mutated(s, (objs) => edit(objs, s, i));
    if (img) evals.push(evaluateImage(addNoise(img, 0.05, i), s.caption));
  });
  return { n: evals.length, score: summarize(evals).imageAccuracy, passed: evals.filter((e) => e.correct).map((e) => `${e.prompt}: ${e.reason}`) };
}

describe('evaluator on deliberately wrong images', () => {
  const expectZero = (r: { n: number; score: number; passed: string[] }) => {
    expect(r.n).toBeGreaterThan(20);
    expect(r.score, r.passed.join('\n')).toBeLessThanOrEqual(0.02);
  };

  it('fails a named object drawn in the wrong colour', () => {
    expectZero(
      scoreWrong(['colors', 'color_attr', 'position', 'counting'], (objs, _s, i) => {
        objs[0].color = other(COLORS, objs[0].color, i);
        objs[0].rgb = renderColor(objs[0].color);
        return objs;
      }),
    );
  });

  it('fails swapped colours in colour attribution ("red circle and blue square" drawn blue circle, red square)', () => {
    expectZero(
      scoreWrong(['color_attr'], (objs) => {
        [objs[0].color, objs[1].color] = [objs[1].color, objs[0].color];
        [objs[0].rgb, objs[1].rgb] = [objs[1].rgb, objs[0].rgb];
        return objs;
      }),
    );
  });

  it('fails a named object drawn as the wrong shape', () => {
    expectZero(
      scoreWrong(TASKS, (objs, _s, i) => {
        objs[0].shape = other(SHAPES, objs[0].shape, i);
        return objs;
      }),
    );
  });

  it('fails swapped positions', () => {
    expectZero(
      scoreWrong(['position'], (objs) => {
        const [a, b] = objs;
        [a.cx, a.cy, b.cx, b.cy] = [b.cx, b.cy, a.cx, a.cy];
        // Objects of different sizes may now poke out of the frame; the relation is what is under test.
        return objs;
      }),
    );
  });

  it('fails a missing object', () => {
    expectZero(scoreWrong(['single_object', 'colors', 'two_object', 'color_attr', 'position', 'counting'], (objs) => objs.slice(1)));
  });

  it('fails one object too many when counting', () => {
    const evals = SAMPLES.filter((s) => s.spec.task === 'counting' && s.spec.count! < 3).map((s) => {
      const more = { ...s.spec, count: s.spec.count! + 1 };
      return evaluateImage(renderScene(sceneForPrompt(more, { seed: s.index })), s.caption);
    });
    expect(evals.length).toBeGreaterThan(10);
    expect(summarize(evals).imageAccuracy, failures(evals).join('\n')).toBe(0);
  });

  it('finds nothing in pure noise or a blank image, for every prompt', () => {
    const blank = builtinSample('clean', 0).image.map(() => -0.8);
    for (const [name, img] of [
      ['blank', () => blank],
      ['noise', (i: number) => noiseImage(32, i)],
      ['blurred noise', (i: number) => boxBlur3(noiseImage(32, 500 + i))],
    ] as const) {
      const evals = SAMPLES.slice(0, 120).map((s, i) => evaluateImage(img(i), s.caption));
      expect(summarize(evals).overall, `${name}: ${failures(evals.map((e) => ({ ...e, correct: !e.correct }))).join('\n')}`).toBeLessThanOrEqual(0.02);
    }
    expect(detectObjects(noiseImage(32, 9)).objects.filter((o) => o.shape !== null).length).toBe(0);
  });
});

function renderColor(c: (typeof COLORS)[number]) {
  return sceneForPrompt({ task: 'colors', objects: [{ shape: 'circle', color: c }] }).objects[0].rgb;
}
