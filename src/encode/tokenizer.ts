// The caption tokenizer: any string in, a fixed-length row of token ids out, identical in the browser and Node.
//
//   caption --NFKC, lowercase--> pieces (words, contraction suffixes, CJK characters, emoji sequences, single
//   punctuation marks) --> ids: a listed word has its own id; anything else goes to one of `buckets` hash
//   buckets (FNV-1a 32 of its UTF-8 bytes, avalanched, mod buckets) --> [BOS, ids..., EOS, PAD...] of length
//   max_length.
//
// Why hash buckets and not BPE: the built-in model knows a few hundred words; an unknown word still needs an id
// that is stable (same caption, same ids, forever), distinct from other unknown words most of the time, and
// bounded (the embedding table has a fixed size). A hash gives all three with no merge table to ship.
//
// Ids: 0 PAD, 1 BOS (also the pooled / CLS token: the encoder's pooled output reads its final state), 2 EOS,
// 3 .. 3+W-1 the words in vocabulary order, then the buckets. The vocabulary (words, bucket count, length) is
// serialised to JSON and shipped with a model, so a tokenizer rebuilt from it gives the same ids anywhere.
// What could still differ between two JavaScript engines is Unicode data (normalisation, letter classes) for
// characters newer than one engine's Unicode version; such characters only move between hash buckets.

export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
/** Ids below this are special tokens. */
export const FIRST_WORD_ID = 3;

export const VOCAB_FORMAT = 'soar-text-vocab';

/** The serialised vocabulary (what ships with a model as JSON). */
export interface VocabularyJson {
  format: typeof VOCAB_FORMAT;
  version: 1;
  /** How captions are normalised before splitting (only one scheme exists; recorded so it can change later). */
  normalization: 'nfkc-lowercase';
  /** How unknown pieces are hashed into buckets. */
  hash: 'fnv1a32-fmix32-utf8';
  /** Listed pieces; word i has id FIRST_WORD_ID + i. */
  words: string[];
  /** Number of hash buckets after the words. */
  buckets: number;
  /** Tokens per caption, BOS and EOS included (the model's max_text_tokens). */
  max_length: number;
}

/** One tokenized caption. */
export interface TokenizedCaption {
  /** [max_length]: BOS, content ids, EOS, PAD... */
  ids: Int32Array;
  /** The content pieces that were kept (after normalisation), one per content id. */
  pieces: string[];
  /** True when the caption had more pieces than fit; the kept ones are the first. */
  truncated: boolean;
  /** How many pieces were dropped. */
  dropped: number;
}

/** A batch of tokenized captions, row-major [batch, length]. */
export interface TokenBatch {
  ids: Int32Array;
  batch: number;
  length: number;
  /** Per caption: were pieces dropped? */
  truncated: boolean[];
}

// ------------------------------------------------------------------------------------------------ splitting

// Scripts written without spaces between words: one piece per character, so that a sentence is not one piece.
const CJK = '\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}';
const WORD_CHAR = '[\\p{L}\\p{M}\\p{N}]';
const PIECE = new RegExp(
  [
    '\\p{Regional_Indicator}{2}', // a flag
    // An emoji with its skin-tone modifiers, variation selectors, keycaps and ZWJ-joined parts (one piece).
    '\\p{Extended_Pictographic}(?:\\p{Emoji_Modifier}|\\uFE0F|\\u20E3|\\u200D\\p{Extended_Pictographic})*',
    `'(?:s|t|re|ve|m|ll|d)(?!${WORD_CHAR})`, // English contraction suffixes, as CLIP splits them
    `[${CJK}]`,
    `(?:(?![${CJK}])${WORD_CHAR})+`, // a word: letters, marks, digits
    '[^\\s\\p{Cc}\\p{Cf}]', // any other single code point: punctuation, symbols
  ].join('|'),
  'gu',
);

/** NFKC (full-width and compatibility forms fold to plain ones), lowercase, curly apostrophes made straight,
 *  invisible format characters removed (except ZWJ, which joins emoji) and control characters made spaces. */
export function normalizeCaption(caption: string): string {
  return caption
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/(?!\u200d)\p{Cf}/gu, '')
    .replace(/\p{Cc}/gu, ' ');
}

/** The pieces of a caption, in order. */
export function splitCaption(caption: string): string[] {
  return normalizeCaption(caption).match(PIECE) ?? [];
}

// ------------------------------------------------------------------------------------------------ hashing

const utf8 = new TextEncoder();

/** FNV-1a, 32 bit, over the UTF-8 bytes of `s` (lone surrogates encode as U+FFFD, as TextEncoder does). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of utf8.encode(s)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * MurmurHash3's 32-bit finalizer. FNV-1a's low byte depends only on the low bytes of the input (the multiply
 * carries upward only), so `fnv % 256` put 60 words differing in their last letters into 42 buckets; after the
 * avalanche every output bit depends on every input bit (the same 60 words: 54 buckets; chance predicts 53).
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The bucket of an unknown piece. */
export function pieceHash(piece: string): number {
  return fmix32(fnv1a32(piece));
}

// ------------------------------------------------------------------------------------------------ vocabulary

export interface BuildVocabularyOptions {
  /** Tokens per caption, BOS and EOS included (the model preset's max_text_tokens). */
  maxLength: number;
  /** Hash buckets for unknown pieces (default 256). */
  buckets?: number;
}

/**
 * A vocabulary over the given word lists, in order, duplicates skipped (first occurrence wins), each word
 * normalised as captions are. Pass the dataset's words first, then general ones (see builtin-vocab.ts).
 */
export function buildVocabulary(wordLists: ReadonlyArray<readonly string[]>, opts: BuildVocabularyOptions): VocabularyJson {
  const seen = new Set<string>();
  const words: string[] = [];
  for (const list of wordLists) {
    for (const raw of list) {
      const w = normalizeCaption(raw).trim();
      if (!seen.has(w)) {
        seen.add(w);
        words.push(w);
      }
    }
  }
  const vocab: VocabularyJson = {
    format: VOCAB_FORMAT,
    version: 1,
    normalization: 'nfkc-lowercase',
    hash: 'fnv1a32-fmix32-utf8',
    words,
    buckets: opts.buckets ?? 256,
    max_length: opts.maxLength,
  };
  validateVocabulary(vocab);
  return vocab;
}

/** Throws, naming the problem, when a vocabulary (e.g. parsed from an untrusted file) is not usable. */
export function validateVocabulary(v: VocabularyJson): void {
  const fail = (m: string): never => {
    throw new Error(`text vocabulary: ${m}`);
  };
  if (!v || typeof v !== 'object') fail('not an object');
  if (v.format !== VOCAB_FORMAT) fail(`format is ${JSON.stringify(v.format)}, expected ${JSON.stringify(VOCAB_FORMAT)}`);
  if (v.version !== 1) fail(`version ${JSON.stringify(v.version)} is not supported (1)`);
  if (v.normalization !== 'nfkc-lowercase') fail(`unknown normalization ${JSON.stringify(v.normalization)}`);
  if (v.hash !== 'fnv1a32-fmix32-utf8') fail(`unknown hash ${JSON.stringify(v.hash)}`);
  if (!Number.isInteger(v.buckets) || v.buckets < 1) fail(`buckets must be a positive integer, got ${v.buckets}`);
  if (!Number.isInteger(v.max_length) || v.max_length < 2) fail(`max_length must be an integer >= 2 (BOS and EOS), got ${v.max_length}`);
  if (!Array.isArray(v.words)) fail('words must be an array of strings');
  const seen = new Set<string>();
  for (const w of v.words) {
    if (typeof w !== 'string') fail(`word ${JSON.stringify(w)} is not a string`);
    // Every word must be exactly one piece, or no caption could ever produce its id.
    const pieces = splitCaption(w);
    if (pieces.length !== 1 || pieces[0] !== w) fail(`word ${JSON.stringify(w)} is not a single normalised piece (it splits as ${JSON.stringify(pieces)})`);
    if (seen.has(w)) fail(`word ${JSON.stringify(w)} is listed twice`);
    seen.add(w);
  }
}

// ------------------------------------------------------------------------------------------------ tokenizer

export class Tokenizer {
  readonly vocab: VocabularyJson;
  /** Embedding rows the encoder needs: specials + words + buckets. */
  readonly vocabSize: number;
  readonly maxLength: number;
  private readonly ids: Map<string, number>;

  constructor(vocab: VocabularyJson) {
    validateVocabulary(vocab);
    this.vocab = { ...vocab, words: [...vocab.words] };
    this.vocabSize = FIRST_WORD_ID + vocab.words.length + vocab.buckets;
    this.maxLength = vocab.max_length;
    this.ids = new Map(vocab.words.map((w, i) => [w, FIRST_WORD_ID + i]));
  }

  /** From the JSON text or the parsed object of a shipped vocabulary. */
  static fromJSON(json: string | VocabularyJson): Tokenizer {
    return new Tokenizer(typeof json === 'string' ? (JSON.parse(json) as VocabularyJson) : json);
  }

  toJSON(): VocabularyJson {
    return { ...this.vocab, words: [...this.vocab.words] };
  }

  /** The JSON text to ship with a model. */
  serialize(): string {
    return JSON.stringify(this.toJSON());
  }

  /** A short fingerprint of the vocabulary (embedding caches key on it with the model's id). */
  fingerprint(): string {
    return fnv1a32(this.serialize()).toString(16).padStart(8, '0');
  }

  /** The id of one piece: its word id, or its hash bucket. */
  pieceId(piece: string): number {
    return this.ids.get(piece) ?? FIRST_WORD_ID + this.vocab.words.length + (pieceHash(piece) % this.vocab.buckets);
  }

  /** True for ids of hash buckets (pieces not in the vocabulary). */
  isBucket(id: number): boolean {
    return id >= FIRST_WORD_ID + this.vocab.words.length && id < this.vocabSize;
  }

  /** A readable name for an id (debugging, UI). */
  describe(id: number): string {
    if (id === PAD_ID) return '<pad>';
    if (id === BOS_ID) return '<bos>';
    if (id === EOS_ID) return '<eos>';
    if (this.isBucket(id)) return `<#${id - FIRST_WORD_ID - this.vocab.words.length}>`;
    return this.vocab.words[id - FIRST_WORD_ID] ?? `<invalid ${id}>`;
  }

  /** How many content tokens a caption has, and how many the encoder reads (the rest is cut). */
  captionTokens(): { count: (caption: string) => number; max: number } {
    return { count: (caption) => splitCaption(caption).length, max: this.maxLength - 2 };
  }

  /** [BOS, pieces..., EOS, PAD...], truncated to max_length (EOS is always kept). */
  encode(caption: string): TokenizedCaption {
    const all = splitCaption(caption);
    const room = this.maxLength - 2;
    const pieces = all.slice(0, room);
    const ids = new Int32Array(this.maxLength).fill(PAD_ID);
    ids[0] = BOS_ID;
    pieces.forEach((p, i) => (ids[1 + i] = this.pieceId(p)));
    ids[1 + pieces.length] = EOS_ID;
    return { ids, pieces, truncated: all.length > room, dropped: Math.max(0, all.length - room) };
  }

  encodeBatch(captions: readonly string[]): TokenBatch {
    const T = this.maxLength;
    const ids = new Int32Array(captions.length * T);
    const truncated = captions.map((c, b) => {
      const t = this.encode(c);
      ids.set(t.ids, b * T);
      return t.truncated;
    });
    return { ids, batch: captions.length, length: T, truncated };
  }
}
