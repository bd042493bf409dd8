import { describe, expect, it } from 'vitest';
import { builtinSample, renderScene, type Scene, type Shape } from '../../src/data/builtin';
import { detectObjects } from '../../src/eval';
import { addNoise, boxBlur3 } from './corrupt';

const CONDITIONS: Record<string, (x: Float32Array, i: number) => Float32Array> = {
  crisp: (x) => x,
  'blur+noise': (x, i) => addNoise(boxBlur3(x), 0.1, i),
};

describe('object detector', () => {
  it('finds every object with its colour, shape, size and centre (32 and 64 px, crisp and blurred+noisy)', () => {
    for (const size of [32, 64]) {
      for (const [name, f] of Object.entries(CONDITIONS)) {
        const errors: string[] = [];
        let total = 0;
        for (let i = 0; i < 150; i++) {
          const s = builtinSample('broad', i, { size });
          const det = detectObjects(f(s.image, i));
          if (det.objects.length !== s.scene.objects.length) errors.push(`#${i}: ${det.objects.length} objects for ${s.scene.objects.length}`);
          for (const o of s.scene.objects) {
            total++;
            const d = det.objects.find((q) => Math.hypot(q.cx - o.cx, q.cy - o.cy) < size / 16);
            if (!d) errors.push(`#${i}: missed ${o.color} ${o.shape}`);
            else if (d.color !== o.color || d.shape !== o.shape || d.size !== o.size) {
              errors.push(`#${i}: ${o.size} ${o.color} ${o.shape} read as ${d.size} ${d.color} ${d.shape}`);
            }
          }
        }
        expect(errors.length / total, `${size}px ${name}:\n${errors.join('\n')}`).toBeLessThanOrEqual(0.01);
      }
    }
  });

  it('measures large crisp shapes close to the continuous moments (the classifier\'s design values)', () => {
    const ideal: Record<Shape, [number, number, number]> = {
      circle: [0, 0, 2.0],
      square: [0.6, 0, 2.1],
      diamond: [-0.6, 0, 2.1],
      triangle: [0, -0.57, 2.4],
    };
    for (const [shape, [sq, skew, kurt]] of Object.entries(ideal) as [Shape, [number, number, number]][]) {
      const scene: Scene = {
        width: 64,
        height: 64,
        background: [0.1, 0.1, 0.1],
        objects: [{ shape, color: 'red', size: 'large', cx: 31.3, cy: 32.6, r: 14, rgb: [0.86, 0.16, 0.16] }],
      };
      const [d] = detectObjects(renderScene(scene)).objects;
      expect(d.shape).toBe(shape);
      expect(d.moments.squareness).toBeCloseTo(sq, 1);
      expect(d.moments.skewY).toBeCloseTo(skew, 1);
      expect(Math.abs(d.moments.kurtosis - kurt)).toBeLessThan(0.05);
    }
  });

  it('keeps touching objects of different colours apart, and reads a dim object at its own half-peak outline', () => {
    const scene: Scene = {
      width: 32,
      height: 32,
      background: [0.1, 0.1, 0.1],
      objects: [
        { shape: 'square', color: 'red', size: 'large', cx: 9, cy: 16, r: 6.4, rgb: [0.86, 0.16, 0.16] },
        { shape: 'square', color: 'blue', size: 'large', cx: 20, cy: 16, r: 6.4, rgb: [0.15, 0.25, 0.95] },
        // 55% of the way from the background to yellow: a faint but clearly drawn object.
        { shape: 'circle', color: 'yellow', size: 'small', cx: 26, cy: 5, r: 4.2, rgb: [0.55, 0.51, 0.15] },
      ],
    };
    const det = detectObjects(renderScene(scene));
    expect(det.objects.map((o) => `${o.color} ${o.shape}`).sort()).toStrictEqual(['blue square', 'red square', 'yellow circle']);
  });

  it('calls two touching same-coloured circles no shape, not one circle', () => {
    const red = [0.86, 0.16, 0.16] as const;
    const scene: Scene = {
      width: 32,
      height: 32,
      background: [0.1, 0.1, 0.1],
      objects: [
        { shape: 'circle', color: 'red', size: 'large', cx: 10, cy: 16, r: 6.4, rgb: red },
        { shape: 'circle', color: 'red', size: 'large', cx: 22, cy: 16, r: 6.4, rgb: red },
      ],
    };
    const det = detectObjects(renderScene(scene));
    expect(det.objects.length).toBe(1);
    expect(det.objects[0].shape).toBeNull();
  });

  it('reports the background and its noise level', () => {
    const s = builtinSample('clean', 3);
    const det = detectObjects(s.image);
    det.background.forEach((v, c) => expect(v).toBeCloseTo(s.scene.background[c], 2));
    expect(det.backgroundNoise).toBeLessThan(0.01);
    expect(detectObjects(addNoise(s.image, 0.1, 1)).backgroundNoise).toBeGreaterThan(0.03);
  });
});
