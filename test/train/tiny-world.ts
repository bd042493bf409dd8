// The `tiny` base the training-loop tests share: random weights with the adaLN-Zero layers perturbed (so a LoRA
// gets gradient), its own text encoder behind an embedding cache, and 12 built-in clean examples.
import { PRESETS } from '../../src/model/config';
import { MMDiT } from '../../src/model/mmdit';
import { builtinTokenizer } from '../../src/encode/builtin-vocab';
import { EmbeddingCache } from '../../src/encode/cache';
import { textEncoderConfigFor } from '../../src/encode/config';
import { TextEncoderModel, engineCaptionEncoder } from '../../src/encode/text-encoder';
import { builtinData } from '../../src/data/source';
import type { Engine } from '../../src/tensor/engine';
import { rand } from '../tensor/harness';

export const TINY = PRESETS.tiny;

export async function tinyWorld(e: Engine) {
  const model = MMDiT.init(e, TINY.config, 1);
  model.writeZeroInitLayers((n, i) => rand(n, 1 + i, -0.1, 0.1));
  const tok = builtinTokenizer(TINY.meta.max_text_tokens);
  const encoder = TextEncoderModel.init(e, textEncoderConfigFor(TINY, tok.vocabSize), 2);
  const cache = new EmbeddingCache(engineCaptionEncoder(encoder, tok, 'tiny-test'));
  const data = builtinData('clean', 12, TINY.meta.resolution);
  return { model, cache, data };
}
