// The caption tokenizer: any string tokenizes (unknown words, emoji, other scripts, empty), fixed length with
// reported truncation, stable ids (golden values pin the hash and the vocabulary order), JSON round trip.
import { describe, expect, it } from 'vitest';
import { VOCAB } from '../../src/data/builtin/vocab';
import { builtinTokenizer, builtinVocabulary, BUILTIN_BUCKETS } from '../../src/encode/builtin-vocab';
import { COMMON_WORDS } from '../../src/encode/common-words';
import { BOS_ID, buildVocabulary, EOS_ID, FIRST_WORD_ID, fmix32, fnv1a32, PAD_ID, pieceHash, splitCaption, Tokenizer } from '../../src/encode/tokenizer';

const tok = builtinTokenizer(16);
const content = (ids: Int32Array) => Array.from(ids).filter((i) => i > EOS_ID);

describe('tokenizer', () => {
  it('gives every word of the built-in dataset its own id, in dataset order first', () => {
    VOCAB.forEach((w, i) => expect(tok.pieceId(w)).toBe(FIRST_WORD_ID + i));
    for (const w of ['the', 'dog', 'photo', 'left', 'purple']) expect(tok.isBucket(tok.pieceId(w))).toBe(false);
    expect(tok.vocabSize).toBe(FIRST_WORD_ID + tok.vocab.words.length + BUILTIN_BUCKETS);
    expect(tok.vocab.words.length).toBeGreaterThan(300);
    expect(new Set(tok.vocab.words).size).toBe(tok.vocab.words.length);
    expect(COMMON_WORDS.length).toBeGreaterThan(300);
  });

  it('lays out BOS, the pieces, EOS and PAD at a fixed length', () => {
    const t = tok.encode('A red circle to the LEFT of a blue square.');
    expect(t.pieces).toEqual(['a', 'red', 'circle', 'to', 'the', 'left', 'of', 'a', 'blue', 'square', '.']);
    expect(t.ids.length).toBe(16);
    expect(t.ids[0]).toBe(BOS_ID);
    expect(t.ids[12]).toBe(EOS_ID);
    expect(Array.from(t.ids.subarray(13))).toEqual([PAD_ID, PAD_ID, PAD_ID]);
    expect(t.truncated).toBe(false);
    expect(Array.from(t.ids.subarray(1, 12)).map((i) => tok.describe(i))).toEqual(t.pieces);
  });

  it('accepts the empty caption (and whitespace only): BOS, EOS, pads', () => {
    for (const c of ['', '   \n\t']) {
      const t = tok.encode(c);
      expect(Array.from(t.ids)).toEqual([BOS_ID, EOS_ID, ...new Array(14).fill(PAD_ID)]);
      expect(t.pieces).toEqual([]);
      expect(t.truncated).toBe(false);
    }
  });

  it('maps unknown words to hash buckets: stable, bounded, mostly distinct', () => {
    const words = Array.from({ length: 60 }, (_, i) => `zorbl${i}`);
    const ids = words.map((w) => tok.pieceId(w));
    for (const id of ids) expect(tok.isBucket(id)).toBe(true);
    expect(new Set(ids).size).toBeGreaterThan(50); // 60 words into 256 buckets: a few collisions at most
    expect(words.map((w) => tok.pieceId(w))).toEqual(ids);
    // Golden values: the FNV-1a offset basis and test vectors, and one bucket, so the hash can never drift.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7); // MurmurHash3's finalizer on 1
    expect(pieceHash('xylophone')).toBe(fmix32(fnv1a32('xylophone')));
    expect(tok.pieceId('xylophone')).toBe(FIRST_WORD_ID + tok.vocab.words.length + (pieceHash('xylophone') % BUILTIN_BUCKETS));
  });

  it('splits emoji sequences, flags, CJK characters, contractions and punctuation into pieces', () => {
    expect(splitCaption("a dog's 🐕‍🦺 and 👍🏽 🇫🇷! can't")).toEqual(['a', 'dog', "'s", '🐕‍🦺', 'and', '👍🏽', '🇫🇷', '!', 'can', "'t"]);
    expect(splitCaption('東京タワー')).toEqual(['東', '京', 'タ', 'ワ', 'ー']);
    expect(splitCaption('Ｆｕｌｌ　ｗｉｄｔｈ, ﬁsh’s café')).toEqual(['full', 'width', ',', 'fish', "'s", 'café']);
    expect(splitCaption('soft\u00adhyphen zero\u200bwidth')).toEqual(['softhyphen', 'zerowidth']);
    const t = tok.encode('🦓🦓 👨‍👩‍👧 Ωμέγα');
    expect(t.pieces).toEqual(['🦓', '🦓', '👨‍👩‍👧', 'ωμέγα']);
    const ids = content(t.ids);
    expect(ids.every((i) => tok.isBucket(i))).toBe(true);
    expect(ids[0]).toBe(ids[1]);
  });

  it('truncates long captions to max_length, keeps EOS, and reports what it dropped', () => {
    const short = builtinTokenizer(8);
    const t = short.encode('one two three four five six seven eight nine');
    expect(t.ids.length).toBe(8);
    expect(t.pieces).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
    expect(t.ids[7]).toBe(EOS_ID);
    expect(t.truncated).toBe(true);
    expect(t.dropped).toBe(3);
    const exact = short.encode('one two three four five six');
    expect([exact.truncated, exact.dropped]).toEqual([false, 0]);
    const batch = short.encodeBatch(['a circle', 'one two three four five six seven', '']);
    expect(batch.truncated).toEqual([false, true, false]);
    expect([batch.batch, batch.length, batch.ids.length]).toEqual([3, 8, 24]);
    expect(Array.from(batch.ids.subarray(16, 24))).toEqual(Array.from(short.encode('').ids));
  });

  it('is deterministic, and a tokenizer rebuilt from its JSON gives the same ids', () => {
    const captions = ['a small green triangle above a large cyan diamond', 'Ünïcödé 🎨 text!!', '', 'two red squares'];
    const again = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    const fromText = Tokenizer.fromJSON(tok.serialize());
    for (const c of captions) {
      expect(Array.from(tok.encode(c).ids)).toEqual(Array.from(tok.encode(c).ids));
      expect(Array.from(again.encode(c).ids)).toEqual(Array.from(tok.encode(c).ids));
      expect(Array.from(fromText.encode(c).ids)).toEqual(Array.from(tok.encode(c).ids));
    }
    expect(again.fingerprint()).toBe(tok.fingerprint());
    expect(builtinVocabulary(16)).toEqual(tok.toJSON());
    expect(builtinTokenizer(8).fingerprint()).not.toBe(tok.fingerprint()); // max_length is part of it
  });

  it('rejects vocabularies that could not tokenize consistently', () => {
    expect(() => buildVocabulary([['ok', 'two words']], { maxLength: 4 })).toThrow(/"two words" is not a single normalised piece/);
    expect(() => buildVocabulary([['ok']], { maxLength: 1 })).toThrow(/max_length/);
    const good = buildVocabulary([['Cat', 'cat', 'dog']], { maxLength: 4, buckets: 8 });
    expect(good.words).toEqual(['cat', 'dog']); // normalised, duplicates skipped
    expect(() => Tokenizer.fromJSON({ ...good, words: ['cat', 'cat'] })).toThrow(/listed twice/);
    expect(() => Tokenizer.fromJSON({ ...good, buckets: 0 })).toThrow(/buckets/);
    expect(() => Tokenizer.fromJSON('{"format":"other"}')).toThrow(/format/);
  });
});
