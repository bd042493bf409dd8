// The pretraining curriculum: `--mix` parses into phases by image position, the phases follow the trainer's
// data order (the first N images seen, not the first N indices), and the broad stream's samples draw their
// task from the phase's mix.
import { describe, expect, it } from 'vitest';
import { mixByIndex, parseMix } from '../../src/cli/curriculum';
import { builtinSample } from '../../src/data/builtin/dataset';
import { epochPermutation } from '../../src/train/trainer';

describe('pretraining curriculum', () => {
  it('parses phases and refuses what it cannot follow', () => {
    expect(parseMix('broad')).toEqual([{ mix: 'broad', from: 0 }]);
    expect(parseMix('single, broad@120000')).toEqual([{ mix: 'single', from: 0 }, { mix: 'broad', from: 120000 }]);
    expect(() => parseMix('singles')).toThrow(/"singles" is not a task mix \(one of broad, single, single_large\)/);
    expect(() => parseMix('single@5')).toThrow(/first mix starts at image 0/);
    expect(() => parseMix('single,broad')).toThrow(/needs the image it starts at/);
    expect(() => parseMix('single,broad@1.5')).toThrow(/positive whole number/);
    expect(() => parseMix('single,broad@100,single@100')).toThrow(/must increase \(100, then 100\)/);
    expect(() => parseMix('single,broad@1@2')).toThrow(/more than one @/);
  });

  it('assigns mixes by the position the trainer sees an example at', () => {
    const images = 1000;
    const seed = 7;
    const mixOf = mixByIndex(parseMix('single,broad@300,single@900'), images, seed)!;
    const order = epochPermutation(images, seed, 0);
    for (let pos = 0; pos < images; pos++) {
      expect(mixOf(order[pos])).toBe(pos < 300 || pos >= 900 ? 'single' : 'broad');
    }
    expect(mixByIndex(parseMix('broad'), images, seed)).toBeUndefined(); // the default stream, untouched
  });

  it('draws single-object tasks only from the single mix, and leaves the broad stream as it was', () => {
    const tasks = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = builtinSample('broad', i, { size: 16, mix: 'single' });
      tasks.add(s.spec.task);
      expect(s.scene.objects).toHaveLength(1);
    }
    expect([...tasks].sort()).toEqual(['colors', 'single_object']);
    // The explicit default draws exactly what no mix draws (resumed runs and the shipped recipe stay the same).
    for (let i = 0; i < 20; i++) expect(builtinSample('broad', i, { size: 16, mix: 'broad' }).caption).toBe(builtinSample('broad', i, { size: 16 }).caption);
    expect(() => builtinSample('clean', 0, { mix: 'single' })).toThrow(/applies to broad only/);
  });

  it('draws every object large in single_large, naming the size in about half of the captions', () => {
    let named = 0;
    const tasks = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = builtinSample('broad', i, { size: 32, mix: 'single_large' });
      tasks.add(s.spec.task);
      expect(s.scene.objects.map((o) => o.size)).toEqual(['large']);
      const size = s.spec.objects[0].size;
      if (size !== undefined) {
        expect(size).toBe('large');
        expect(s.caption).toMatch(/\blarge\b/);
        named++;
      } else expect(s.caption).not.toMatch(/\b(large|small)\b/);
    }
    expect([...tasks].sort()).toEqual(['colors', 'single_object']);
    expect(named).toBeGreaterThan(70);
    expect(named).toBeLessThan(130);
    // The single mix still draws both sizes.
    const sizes = new Set(Array.from({ length: 60 }, (_, i) => builtinSample('broad', i, { size: 32, mix: 'single' }).scene.objects[0].size));
    expect([...sizes].sort()).toEqual(['large', 'small']);
  });
});
