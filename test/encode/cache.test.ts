// The embedding cache with a fake encoder (no GPU): each distinct caption encoded once, batching, concurrent
// requests shared, failures not cached, snapshots restored only for the same encoder.
import { describe, expect, it } from 'vitest';
import { EmbeddingCache, type CaptionEncoder, type EncodedCaptions } from '../../src/encode/cache';

const T = 3;
const W = 2;
const P = 2;

/** Encodes a caption as its length and char codes, so results are checkable; records every call. */
function fakeEncoder(id = 'fake-1'): CaptionEncoder & { calls: string[][]; fail: boolean } {
  const enc = {
    id,
    tokens: T,
    width: W,
    pooledWidth: P,
    calls: [] as string[][],
    fail: false,
    async encode(captions: readonly string[]): Promise<EncodedCaptions> {
      enc.calls.push([...captions]);
      await new Promise((r) => setTimeout(r, 1));
      if (enc.fail) throw new Error('encoder down');
      const context = new Float32Array(captions.length * T * W);
      const pooled = new Float32Array(captions.length * P);
      captions.forEach((c, b) => {
        context.fill(c.length, b * T * W, (b + 1) * T * W);
        pooled[b * P] = c.charCodeAt(0) || 0;
        pooled[b * P + 1] = b;
      });
      return { context, pooled, truncated: captions.map((c) => c.length > 10) };
    },
  };
  return enc;
}

describe('embedding cache', () => {
  it('encodes each distinct caption once, in batches of maxBatch, and returns them in order', async () => {
    const enc = fakeEncoder();
    const cache = new EmbeddingCache(enc, { maxBatch: 2 });
    const got = await cache.embed(['ab', 'c', 'ab', 'def', 'a long caption here']);
    expect(enc.calls).toEqual([['ab', 'c'], ['def', 'a long caption here']]);
    expect(got.map((e) => e.context[0])).toEqual([2, 1, 2, 3, 19]);
    expect(got.map((e) => e.truncated)).toEqual([false, false, false, false, true]);
    expect(got[0]).toBe(got[2]);
    await cache.embed(['c', 'def']);
    expect(enc.calls.length).toBe(2);
    expect(cache.size).toBe(4);
  });

  it('shares an encode in flight between concurrent requests', async () => {
    const enc = fakeEncoder();
    const cache = new EmbeddingCache(enc);
    const [a, b] = await Promise.all([cache.embed(['x', 'y']), cache.embed(['y', 'z'])]);
    expect(enc.calls).toEqual([['x', 'y'], ['z']]);
    expect(a[1]).toBe(b[0]);
  });

  it('gives the empty caption as the unconditional embedding, and stacks batches for upload', async () => {
    const enc = fakeEncoder();
    const added: string[] = [];
    const cache = new EmbeddingCache(enc, { onAdd: (c) => added.push(c) });
    const u = await cache.unconditional();
    expect(Array.from(u.context)).toEqual(new Array(T * W).fill(0));
    const s = await cache.stacked(['ab', '', 'xyz']);
    expect([s.batch, s.tokens, s.width, s.pooledWidth]).toEqual([3, T, W, P]);
    expect(Array.from(s.context)).toEqual([...new Array(T * W).fill(2), ...new Array(T * W).fill(0), ...new Array(T * W).fill(3)]);
    expect(Array.from(s.pooled)).toEqual([97, 0, 0, 0, 120, 1]);
    expect(enc.calls).toEqual([[''], ['ab', 'xyz']]);
    expect(added).toEqual(['', 'ab', 'xyz']);
  });

  it('does not cache a failure: the next request encodes again', async () => {
    const enc = fakeEncoder();
    const cache = new EmbeddingCache(enc);
    enc.fail = true;
    await expect(cache.embed(['p', 'q'])).rejects.toThrow('encoder down');
    expect(cache.size).toBe(0);
    enc.fail = false;
    expect((await cache.embed(['p']))[0].context[0]).toBe(1);
    expect(enc.calls).toEqual([['p', 'q'], ['p']]);
  });

  it('restores a snapshot from the same encoder only, skipping damaged entries', async () => {
    const enc = fakeEncoder('model-a');
    const cache = new EmbeddingCache(enc);
    await cache.embed(['one', 'two']);
    const snap = structuredClone(cache.snapshot()); // what IndexedDB would hand back
    const again = new EmbeddingCache(fakeEncoder('model-a'));
    expect(again.restore(snap)).toBe(2);
    expect(Array.from(again.get('two')!.pooled)).toEqual(Array.from(cache.get('two')!.pooled));
    expect(new EmbeddingCache(fakeEncoder('model-b')).restore(snap)).toBe(0);
    snap.entries[0][1].context = new Float32Array(1);
    const third = new EmbeddingCache(fakeEncoder('model-a'));
    expect(third.restore(snap)).toBe(1);
    expect(third.has('one')).toBe(false);
  });
});
