// The held-out split of a user's folder: a fixed share, the same files whatever the listing order, stable when
// files are added, and nothing held out (with the reason) when the folder is too small.
import { describe, expect, it } from 'vitest';
import { heldOutSplit, MIN_HELD_OUT, type IngestExample } from '../../../src/data/ingest';

const ex = (id: string): IngestExample => ({ id, path: id, caption: id, rawCaption: id, captionSource: `${id}.txt`, image: new Float32Array(3) }) as IngestExample;
const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ex(`img-${from + i}.png`));

describe('held-out split', () => {
  it('holds out the fraction (at least 4, at most a quarter), the same files in any order and after additions', () => {
    const all = names(100);
    const a = heldOutSplit(all, 0.05, 1);
    expect(a.heldOut.length).toBe(5);
    expect(a.train.length).toBe(95);
    expect(a.note).toBeNull();
    const b = heldOutSplit([...all].reverse(), 0.05, 1);
    expect(b.heldOut.map((e) => e.id).sort()).toEqual(a.heldOut.map((e) => e.id).sort());
    // Another seed, another split; the same seed, the same split.
    expect(heldOutSplit(all, 0.05, 2).heldOut.map((e) => e.id).sort()).not.toEqual(a.heldOut.map((e) => e.id).sort());
    expect(heldOutSplit(names(20), 0.05, 1).heldOut.length).toBe(MIN_HELD_OUT);
    expect(heldOutSplit(names(12), 0.5, 1).heldOut.length).toBe(3); // never more than a quarter
    // Held-out and training images never overlap, and nothing is lost.
    expect(new Set([...a.train, ...a.heldOut].map((e) => e.id)).size).toBe(100);
  });

  it('holds nothing out of a tiny folder or when asked not to, and says why', () => {
    expect(heldOutSplit(names(7), 0.05, 1)).toMatchObject({ heldOut: [], note: expect.stringMatching(/7 examples are too few/) });
    expect(heldOutSplit(names(50), 0, 1)).toMatchObject({ heldOut: [], note: expect.stringMatching(/--held-out 0/) });
    expect(() => heldOutSplit(names(50), 1, 1)).toThrow(/fraction must be in \[0, 1\)/);
  });
});
