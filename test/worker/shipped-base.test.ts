// The pretrained base shipped in public/models/studio-s (what the studio loads at start): the files agree with
// each other and with the preset, fit the size budget, carry a model card, and the shipped ONNX text encoder
// computes what the shipped safetensors encoder computes.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { OnnxTextEncoder } from '../../src/encode/onnx-runner';
import { contentHash, parseManifest } from '../../src/io/base-model';
import { PRESETS } from '../../src/model/config';
import { loadStudioBase, releaseBase, type Fetch } from '../../src/worker/base';
import { expectClose, getEngine } from '../tensor/harness';

const DIR = 'public/models/studio-s';
const FILES = ['model.json', 'transformer.safetensors', 'text_encoder.safetensors', 'text_encoder.onnx'];

/** The preview server's view of public/: the files by URL. */
const publicFetch: Fetch = async (url) => {
  const path = join('public', decodeURI(url));
  if (!existsSync(path)) return new Response('not found', { status: 404 });
  return new Response(new Uint8Array(readFileSync(path)), { status: 200 });
};

describe('shipped studio-s base', () => {
  it('is complete, consistent with the preset, under 20 MB, with a model card that says how to reproduce it', () => {
    for (const f of [...FILES, 'README.md']) expect(existsSync(join(DIR, f)), `${DIR}/${f}`).toBe(true);
    const manifest = parseManifest(readFileSync(join(DIR, 'model.json'), 'utf8'));
    expect(manifest.preset).toBe('studio-s');
    expect(manifest.config).toEqual(PRESETS['studio-s'].config);
    expect(manifest.meta).toEqual(PRESETS['studio-s'].meta);
    expect(manifest.transformer_hash).toBe(contentHash(new Uint8Array(readFileSync(join(DIR, manifest.files.transformer)))));
    const bytes = FILES.reduce((n, f) => n + statSync(join(DIR, f)).size, 0);
    expect(bytes).toBeLessThan(20 * 1024 * 1024);
    const card = readFileSync(join(DIR, 'README.md'), 'utf8');
    expect(card).toContain('npm run soar -- pretrain');
    expect(card).toMatch(/\| overall \| novel pairs \| in-distribution \|/);
  });

  it('is what the studio worker loads at start, and its ONNX encoder matches the engine encoder', async () => {
    const e = await getEngine();
    const { base, info } = await loadStudioBase(e, 'studio-s', publicFetch);
    expect(info.source).toBe('builtin');
    expect(info.preset).toBe('studio-s');
    const captions = ['a red circle to the left of a blue square', 'two green triangles', ''];
    const tokens = base.tokenizer.encodeBatch(captions);
    const engineOut = await base.embeddings.stacked(captions);
    const runner = await OnnxTextEncoder.create(ort, new Uint8Array(readFileSync(join(DIR, 'text_encoder.onnx'))), { executionProviders: ['wasm'] });
    try {
      const onnx = await runner.run(tokens);
      // Two fp32 implementations with different summation orders: a few ulps of O(1) activations.
      expectClose(onnx.context, engineOut.context, { atol: 2e-4, rtol: 2e-4 }, 'shipped onnx context vs engine');
      expectClose(onnx.pooled, engineOut.pooled, { atol: 2e-4, rtol: 2e-4 }, 'shipped onnx pooled vs engine');
    } finally {
      await runner.release();
      releaseBase(base);
    }
  });
});
