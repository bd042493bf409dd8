// Text encoder config presets (sized from the MMDiT presets), the CLIP-style state-dict names, weight-file
// validation and the exported ONNX graph's contents (standard ops only, opset 17, int64 ids in).
import { describe, expect, it } from 'vitest';
import { builtinTokenizer } from '../../src/encode/builtin-vocab';
import { textEncoderConfigFor, textParameterCount, textParameterSpecs, type TextEncoderConfig } from '../../src/encode/config';
import { textEncoderGraph } from '../../src/encode/onnx-export';
import { initTextWeights, loadTextEncoder, saveTextEncoder } from '../../src/encode/weights';
import { decodeModel, encodeModel } from '../../src/codec/onnx';
import { writeSafetensors } from '../../src/codec/safetensors';
import { PRESETS } from '../../src/model/config';

describe('text encoder config', () => {
  it('matches the tiny and studio-s MMDiT presets (context width, pooled width, tokens)', () => {
    for (const id of ['tiny', 'studio-s']) {
      const p = PRESETS[id];
      const tok = builtinTokenizer(p.meta.max_text_tokens);
      const c = textEncoderConfigFor(p, tok.vocabSize);
      expect(c.hidden_size).toBe(p.config.joint_attention_dim);
      expect(c.projection_dim).toBe(p.config.pooled_projection_dim);
      expect(c.max_position_embeddings).toBe(p.meta.max_text_tokens);
      expect(c.vocab_size).toBe(tok.vocabSize);
    }
    expect(textEncoderConfigFor(PRESETS.tiny, 100)).toMatchObject({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 8 });
    const s = textEncoderConfigFor(PRESETS['studio-s'], builtinTokenizer(16).vocabSize);
    expect(s).toMatchObject({ hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256, max_position_embeddings: 16 });
    expect(textParameterCount(s)).toBeLessThan(1_000_000);
    expect(() => textEncoderConfigFor(PRESETS['sd3.5-medium'], 100)).toThrow(/no built-in text encoder size for preset 'sd3.5-medium'/);
  });

  it('names parameters as CLIPTextModelWithProjection does', () => {
    const c = textEncoderConfigFor(PRESETS.tiny, 50);
    const names = textParameterSpecs(c).map((s) => s.name);
    expect(names).toContain('text_model.embeddings.token_embedding.weight');
    expect(names).toContain('text_model.embeddings.position_embedding.weight');
    expect(names).toContain('text_model.encoder.layers.0.self_attn.q_proj.weight');
    expect(names).toContain('text_model.encoder.layers.1.mlp.fc2.bias');
    expect(names).toContain('text_model.encoder.layers.1.layer_norm2.weight');
    expect(names).toContain('text_model.final_layer_norm.bias');
    expect(names).toContain('text_projection.weight');
    expect(names).not.toContain('text_projection.bias');
    expect(new Set(names).size).toBe(names.length);
  });

  it('refuses weight files that do not fit: wrong shapes, missing tensors, foreign files', () => {
    const tok = builtinTokenizer(8);
    const c = textEncoderConfigFor(PRESETS.tiny, tok.vocabSize);
    const w = initTextWeights(c, 1);
    expect(initTextWeights(c, 1).get('text_projection.weight')!.data).toEqual(w.get('text_projection.weight')!.data); // seeded
    const bad = new Map(w);
    bad.delete('text_model.final_layer_norm.bias');
    bad.set('text_projection.weight', { shape: [3, 3], data: new Float32Array(9) });
    expect(() => saveTextEncoder(c, tok.toJSON(), bad)).toThrow(/missing text_model.final_layer_norm.bias; text_projection.weight is \[3, 3\]/);
    const other: TextEncoderConfig = { ...c, vocab_size: c.vocab_size + 1 };
    expect(() => saveTextEncoder(other, tok.toJSON(), initTextWeights(other, 1))).toThrow(/vocabulary has \d+ ids, the encoder's vocab_size is/);
    expect(() => loadTextEncoder(writeSafetensors({ x: { shape: [1], data: [0] } }))).toThrow(/metadata format/);
    const f16 = loadTextEncoder(saveTextEncoder(c, tok.toJSON(), w, 'F16'));
    expect(f16.weights.get('text_projection.weight')!.data[0]).toBeCloseTo(w.get('text_projection.weight')!.data[0], 3);
  });

  it('exports a graph of standard opset-17 ops with int64 ids in and context / pooled out', () => {
    const c = textEncoderConfigFor(PRESETS.tiny, 40);
    const model = decodeModel(encodeModel(textEncoderGraph(c, initTextWeights(c, 2)))) as {
      opsetImport: Array<{ domain?: string; version: number }>;
      graph: {
        node: Array<{ opType: string; domain?: string }>;
        input: Array<{ name: string; type: { tensorType: { elemType: number } } }>;
        output: Array<{ name: string }>;
        initializer: Array<{ name: string }>;
      };
    };
    expect(model.opsetImport).toEqual([{ domain: '', version: 17 }]);
    const ops = new Set(model.graph.node.map((n) => n.opType));
    const standard = ['Gather', 'Add', 'Reshape', 'LayerNormalization', 'Gemm', 'Transpose', 'MatMul', 'Mul', 'Softmax', 'Tanh', 'Constant'];
    expect([...ops].filter((o) => !standard.includes(o))).toEqual([]);
    expect(model.graph.node.every((n) => !n.domain)).toBe(true);
    expect(model.graph.input.map((i) => [i.name, i.type.tensorType.elemType])).toEqual([['input_ids', 7]]);
    expect(model.graph.output.map((o) => o.name)).toEqual(['context', 'pooled']);
    expect(model.graph.initializer.map((i) => i.name)).toEqual(expect.arrayContaining(textParameterSpecs(c).map((s) => s.name)));
  });
});
