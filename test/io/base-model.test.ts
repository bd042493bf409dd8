// Base model bundles from files: model.json is validated field by field (null, deep nesting, missing or string
// sizes, file names outside the bundle were crashes or accepted before), the text encoder's metadata that is not
// JSON is our Error, and weights with NaN or Inf are refused before any GPU buffer is made.
import { describe, expect, it } from 'vitest';
import { writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { builtinTokenizer } from '../../src/encode/builtin-vocab';
import { textEncoderConfigFor } from '../../src/encode/config';
import { initTextWeights, loadTextEncoder, saveTextEncoder } from '../../src/encode/weights';
import { BASE_MODEL_FORMAT, parseManifest, type BaseModelManifest } from '../../src/io/base-model';
import { loadBase } from '../../src/io/base-runtime';
import { PRESETS } from '../../src/model/config';
import { parameterSpecs } from '../../src/model/params';
import { getEngine } from '../tensor/harness';

const TINY = PRESETS.tiny;

export function tinyManifest(): BaseModelManifest {
  return {
    format: BASE_MODEL_FORMAT,
    id: 'tiny-test',
    preset: 'tiny',
    config: structuredClone(TINY.config),
    meta: { ...TINY.meta },
    files: { transformer: 'transformer.safetensors', text_encoder: 'text_encoder.safetensors' },
    transformer_hash: '',
  };
}

function tinyTextEncoder(edit?: (meta: Record<string, string>) => void): Uint8Array {
  const tok = builtinTokenizer(TINY.meta.max_text_tokens);
  const c = textEncoderConfigFor(TINY, tok.vocabSize);
  const bytes = saveTextEncoder(c, tok.toJSON(), initTextWeights(c, 1));
  if (!edit) return bytes;
  const meta = { format: 'soar-text-encoder', config: JSON.stringify(c), vocabulary: JSON.stringify(tok.toJSON()) };
  edit(meta);
  const w = initTextWeights(c, 1);
  return writeSafetensors(new Map<string, TensorToWrite>(w), meta);
}

function tinyTransformer(poison?: string): Uint8Array {
  const t = new Map<string, TensorToWrite>();
  for (const s of parameterSpecs(TINY.config)) {
    const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(0.01);
    if (s.name === poison) data[3] = Number.NaN;
    t.set(s.name, { shape: s.shape, data });
  }
  return writeSafetensors(t);
}

describe('base model manifest', () => {
  it('accepts a valid model.json', () => {
    expect(parseManifest(JSON.stringify(tinyManifest())).config).toEqual(TINY.config);
  });

  const edits: Array<[string, string | ((m: any) => void), RegExp]> = [
    ['null', 'null', /model\.json must be an object, got null: the base model bundle is damaged; write it again/],
    ['nested 5,000 levels', `{"format":"${BASE_MODEL_FORMAT}","config":${'['.repeat(5000)}${']'.repeat(5000)}}`, /model\.json: nested more than 64 levels deep/],
    ['not JSON', '{"format": ', /model\.json is not valid JSON/],
    ['no dual_attention_layers', (m) => delete m.config.dual_attention_layers, /invalid SD3 config: dual_attention_layers must be a list of block indices, got nothing/],
    ['a size given as a string', (m) => (m.config.num_layers = '2'), /invalid SD3 config: num_layers must be a positive integer, got "2"/],
    ['a size given as null', (m) => (m.config.patch_size = null), /patch_size must be a positive integer, got null/],
    ['a meta size given as a string', (m) => (m.meta.max_text_tokens = '8'), /model\.json\.meta\.max_text_tokens must be an integer in \[2, 65536\], got "8"/],
    ['a huge layer count', (m) => (m.config.num_layers = 2 ** 40), /num_layers 1099511627776 is over 1024/],
    ['a file outside the bundle', (m) => (m.files.transformer = '../../x'), /model\.json\.files\.transformer is "\.\.\/\.\.\/x": a bundle names its files inside its own folder/],
    ['an absolute file', (m) => (m.files.text_encoder = '/etc/passwd'), /files\.text_encoder is "\/etc\/passwd"/],
    ['a URL-escaped parent', (m) => (m.files.text_encoder_onnx = '%2e%2e%2fx'), /files\.text_encoder_onnx is "%2e%2e%2fx"/],
    ['a file name that is not a string', (m) => (m.files.transformer = ['a']), /model\.json\.files\.transformer must be a string, got a list of 1/],
    ['another format', (m) => (m.format = { a: 1 }), /model\.json has format an object, expected soar-studio-base\/1/],
  ];
  it.each(edits)('refuses a model.json that is %s', (_label, edit, message) => {
    let text: string;
    if (typeof edit === 'string') text = edit;
    else {
      const m = tinyManifest();
      edit(m);
      text = JSON.stringify(m);
    }
    let err: unknown;
    try {
      parseManifest(text);
    } catch (e) {
      err = e;
    }
    expect((err as Error)?.constructor).toBe(Error);
    expect((err as Error).message).toMatch(message);
  });
});

describe('text encoder file', () => {
  it('round-trips, and refuses a config or vocabulary that is not JSON with our Error (was a SyntaxError)', () => {
    expect(loadTextEncoder(tinyTextEncoder()).config.hidden_size).toBe(TINY.config.joint_attention_dim);
    expect(() => loadTextEncoder(tinyTextEncoder((m) => (m.config = '{oops')))).toThrow(/text encoder file: metadata config is not valid JSON/);
    expect(() => loadTextEncoder(tinyTextEncoder((m) => (m.vocabulary = 'nope')))).toThrow(/text encoder file: metadata vocabulary is not valid JSON/);
    expect(() => loadTextEncoder(tinyTextEncoder((m) => (m.config = 'null')))).toThrow(/invalid text encoder config: not an object \(got null\)/);
    expect(() => loadTextEncoder(tinyTextEncoder((m) => (m.config = '{}')))).toThrow(/invalid text encoder config: vocab_size must be a positive integer, got nothing/);
    expect(() => loadTextEncoder(tinyTextEncoder((m) => (m.vocabulary = `{"format":${'['.repeat(5000)}${']'.repeat(5000)}}`)))).toThrow(/metadata vocabulary: nested more than 64 levels/);
    for (const bad of ['{oops', 'nope', 'null']) {
      try {
        loadTextEncoder(tinyTextEncoder((m) => (m.config = bad)));
      } catch (e) {
        expect((e as Error).constructor).toBe(Error);
      }
    }
  });
});

describe('base bundle', () => {
  it('loads a valid bundle and refuses one whose transformer holds NaN, before touching the GPU', async () => {
    const e = await getEngine();
    const manifest = JSON.stringify(tinyManifest());
    const base = loadBase(e, { manifest, transformer: tinyTransformer(), textEncoder: tinyTextEncoder() });
    expect(base.model.config).toEqual(TINY.config);
    base.model.release();
    base.textEncoder.release();
    const inUse = e.gpu.getStats().bytesInUse;
    expect(() => loadBase(e, { manifest, transformer: tinyTransformer('transformer_blocks.1.attn.to_v.weight'), textEncoder: tinyTextEncoder() })).toThrow(
      /transformer\.safetensors: tensor "transformer_blocks\.1\.attn\.to_v\.weight" has NaN or infinite values \(the first at index 3\); the file is damaged/,
    );
    expect(e.gpu.getStats().bytesInUse).toBe(inUse);
  });

  it('refuses a text encoder that does not fit the transformer', async () => {
    const e = await getEngine();
    const m = tinyManifest();
    m.meta.max_text_tokens = 16;
    expect(() => loadBase(e, { manifest: JSON.stringify(m), transformer: tinyTransformer(), textEncoder: tinyTextEncoder() })).toThrow(
      /text_encoder\.safetensors: the text encoder's max_position_embeddings is 8, but model\.json's meta\.max_text_tokens is 16/,
    );
  });
});
