import { describe, expect, it } from 'vitest';
import {
  CLEAN_COUNT,
  COLORS,
  HELD_OUT_PAIRS,
  NOVEL_TASKS,
  SHAPES,
  TASKS,
  builtinSample,
  builtinSplit,
  builtinStream,
  describeBuiltinSample,
  hashSeed,
  heldOutPrompts,
  isHeldOutPair,
  objectBox,
  relationsBetween,
  sceneHasHeldOutPair,
  sceneForPrompt,
  specHasHeldOutPair,
  type BuiltinDescription,
  type Scene,
} from '../../src/data/builtin';

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function expectValidScene(s: Scene, label: string): void {
  const boxes = s.objects.map(objectBox);
  for (const b of boxes) {
    expect(b.x0, label).toBeGreaterThanOrEqual(0);
    expect(b.y0, label).toBeGreaterThanOrEqual(0);
    expect(b.x1, label).toBeLessThanOrEqual(s.width);
    expect(b.y1, label).toBeLessThanOrEqual(s.height);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      const apart = a.x1 <= b.x0 || b.x1 <= a.x0 || a.y1 <= b.y0 || b.y1 <= a.y0;
      expect(apart, `${label}: objects ${i} and ${j} overlap`).toBe(true);
    }
  }
}

describe('built-in dataset', () => {
  it('is a pure function of (seed, split, index): same bytes again, in any order', () => {
    const a = builtinSample('clean', 7);
    builtinSample('clean', 3);
    const b = builtinSample('clean', 7);
    expect(bytes(b.image)).toStrictEqual(bytes(a.image));
    expect(b.caption).toBe(a.caption);
    const stream = builtinStream('broad', {}, 5);
    expect(bytes(stream.next().value!.image)).toStrictEqual(bytes(builtinSample('broad', 5).image));
  });

  it('changes with the seed', () => {
    const differing = Array.from({ length: 20 }, (_, i) => i).filter((i) => {
      const a = builtinSample('broad', i, { seed: 1 });
      const b = builtinSample('broad', i, { seed: 2 });
      return a.caption !== b.caption || a.image.some((v, k) => v !== b.image[k]);
    });
    expect(differing.length).toBe(20);
    expect(hashSeed(1, 'broad', 0)).not.toBe(hashSeed(1, 'clean', 0));
    expect(hashSeed(1, 2 ** 32)).not.toBe(hashSeed(1, 0));
  });

  it('renders CHW float32 in [-1, 1] at 16, 32 and 64 px with objects inside the frame and apart', () => {
    for (const size of [16, 32, 64]) {
      for (let i = 0; i < 60; i++) {
        const s = builtinSample(i % 2 ? 'clean' : 'broad', i, { size });
        expect(s.image.length).toBe(3 * size * size);
        expect(s.image.every((v) => v >= -1 && v <= 1)).toBe(true);
        expect(s.scene.objects.length).toBeGreaterThanOrEqual(1);
        expect(s.scene.objects.length).toBeLessThanOrEqual(3);
        expectValidScene(s.scene, `${size}px #${i}`);
        // The painted object colour reaches the image (its centre pixel is far from the background).
        const o = s.scene.objects[0];
        const px = Math.floor(o.cy) * size + Math.floor(o.cx);
        const diff = [0, 1, 2].reduce((d, c) => d + Math.abs(s.image[c * size * size + px] - (s.scene.background[c] * 2 - 1)), 0);
        expect(diff).toBeGreaterThan(0.5);
      }
    }
  });

  it('draws what the caption says: counts, named colours/shapes/sizes, and the relation', () => {
    const check = (d: BuiltinDescription) => {
      const { spec, scene } = d;
      if (spec.task === 'counting') expect(scene.objects.length).toBe(spec.count);
      else expect(scene.objects.length).toBe(spec.objects.length);
      scene.objects.forEach((o, k) => {
        const want = spec.task === 'counting' ? spec.objects[0] : spec.objects[k];
        expect(o.shape).toBe(want.shape);
        if (want.color) expect(o.color).toBe(want.color);
        if (want.size) expect(o.size).toBe(want.size);
      });
      if (spec.task === 'position') {
        const rel = relationsBetween(objectBox(scene.objects[0]), objectBox(scene.objects[1]));
        expect([...rel], d.caption).toStrictEqual([spec.relation]);
      }
    };
    for (let i = 0; i < 600; i++) {
      check(describeBuiltinSample('clean', i));
      check(describeBuiltinSample('broad', i));
    }
  });

  it('balances clean over the six tasks and covers every shape, colour and task in broad', () => {
    const clean = Array.from({ length: CLEAN_COUNT }, (_, i) => describeBuiltinSample('clean', i));
    for (const t of TASKS) {
      const n = clean.filter((s) => s.spec.task === t).length;
      expect(n).toBeGreaterThanOrEqual(Math.floor(CLEAN_COUNT / 6));
    }
    const broad = Array.from({ length: 1000 }, (_, i) => describeBuiltinSample('broad', i));
    const pairs = new Set(broad.flatMap((s) => s.scene.objects.map((o) => `${o.color}/${o.shape}`)));
    expect(pairs.size).toBe(COLORS.length * SHAPES.length);
    expect(new Set(broad.map((s) => s.spec.task)).size).toBe(TASKS.length);
    expect(builtinSplit('clean', 4).map((s) => s.index)).toStrictEqual([0, 1, 2, 3]);
  });

  it('keeps every held-out (colour, shape) pair out of clean, while clean still has every colour and shape', () => {
    const clean = Array.from({ length: CLEAN_COUNT }, (_, i) => describeBuiltinSample('clean', i));
    for (const s of clean) {
      expect(sceneHasHeldOutPair(s.scene), s.caption).toBe(false);
      expect(specHasHeldOutPair(s.spec), s.caption).toBe(false);
    }
    const objects = clean.flatMap((s) => s.scene.objects);
    expect(new Set(objects.map((o) => o.color)).size).toBe(COLORS.length);
    expect(new Set(objects.map((o) => o.shape)).size).toBe(SHAPES.length);
    // One held-out shape per colour.
    expect(new Set(HELD_OUT_PAIRS.map(([c]) => c)).size).toBe(COLORS.length);
  });

  it('builds held-out prompts: distinct, novel ones name a held-out pair absent from clean, the rest do not', () => {
    const prompts = heldOutPrompts();
    expect(prompts.length).toBe(12 * NOVEL_TASKS.length + 8 * TASKS.length);
    expect(new Set(prompts.map((p) => p.text)).size).toBe(prompts.length);
    expect(new Set(prompts.map((p) => p.id)).size).toBe(prompts.length);
    const novel = prompts.filter((p) => p.novel);
    expect(novel.length).toBe(48);
    for (const p of novel) {
      expect(NOVEL_TASKS).toContain(p.task);
      expect(p.spec.objects.some((o) => o.color && isHeldOutPair(o.color, o.shape)), p.text).toBe(true);
    }
    for (const p of prompts.filter((q) => !q.novel)) expect(specHasHeldOutPair(p.spec), p.text).toBe(false);
    // No clean caption equals a novel prompt (it could not: clean never draws a held-out pair).
    const cleanCaptions = new Set(Array.from({ length: CLEAN_COUNT }, (_, i) => describeBuiltinSample('clean', i).caption));
    for (const p of novel) expect(cleanCaptions.has(p.text)).toBe(false);
    // The list is fixed: same call, same prompts; another seed, other prompts.
    expect(heldOutPrompts()).toStrictEqual(prompts);
    expect(heldOutPrompts({ seed: 5 }).map((p) => p.text)).not.toStrictEqual(prompts.map((p) => p.text));
  });

  it('lays out a reference scene for any prompt', () => {
    for (const p of heldOutPrompts()) {
      const scene = sceneForPrompt(p.spec);
      expectValidScene(scene, p.text);
      if (p.spec.task === 'position') {
        const rel = relationsBetween(objectBox(scene.objects[0]), objectBox(scene.objects[1]));
        expect(rel.has(p.spec.relation!)).toBe(true);
      }
    }
  });
});
