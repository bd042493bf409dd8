// The vocabulary of the built-in base model: the built-in dataset's caption words first (so every word a
// built-in caption can contain has its own id), then the common English words, then 256 hash buckets.
//
// This is the only file of src/encode that reads src/data: the tokenizer itself takes word lists, so a model
// with another vocabulary (loaded from its JSON) never depends on the built-in dataset.
import { VOCAB } from '../data/builtin/vocab';
import { COMMON_WORDS } from './common-words';
import { buildVocabulary, Tokenizer, type VocabularyJson } from './tokenizer';

export const BUILTIN_BUCKETS = 256;

/** The built-in vocabulary for a model whose meta says `maxTextTokens` (8 for tiny, 16 for studio-s). */
export function builtinVocabulary(maxTextTokens: number): VocabularyJson {
  return buildVocabulary([VOCAB, COMMON_WORDS], { maxLength: maxTextTokens, buckets: BUILTIN_BUCKETS });
}

export function builtinTokenizer(maxTextTokens: number): Tokenizer {
  return new Tokenizer(builtinVocabulary(maxTextTokens));
}
