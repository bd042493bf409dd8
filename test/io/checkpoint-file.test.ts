// Checkpoint files: a round trip keeps every field; a damaged or foreign file is refused with the field named
// (a step of "abc" used to become NaN, a stray adam.m/<huge> key a sparse list), never half-read.
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { checkpointFromBytes, checkpointToBytes } from '../../src/io/checkpoint-file';
import { sampleCheckpoint } from './fixtures';

/** The checkpoint's file as a mutable map and metadata, to break in one place per case. */
function parts() {
  const f = readSafetensors(checkpointToBytes(sampleCheckpoint()));
  return { tensors: new Map<string, TensorToWrite>([...f.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), meta: f.metadata };
}

describe('checkpoint file', () => {
  it('round-trips every field', () => {
    const ck = sampleCheckpoint();
    expect(checkpointFromBytes(checkpointToBytes(ck))).toEqual(ck);
  });

  const cases: Array<[string, (p: ReturnType<typeof parts>) => Uint8Array, RegExp]> = [
    ['a step that is not a number', (p) => writeSafetensors(p.tensors, { ...p.meta, step: 'abc' }), /checkpoint file: metadata step must be a whole number, got "abc"; the file is damaged/],
    ['a config that is not an object', (p) => writeSafetensors(p.tensors, { ...p.meta, config: '7' }), /metadata config must be an object, got 7/],
    ['an invalid config', (p) => writeSafetensors(p.tensors, { ...p.meta, config: JSON.stringify({ ...JSON.parse(p.meta.config), learning_rate: 'fast' }) }), /metadata config is not a valid training config: learning_rate must be a number/],
    ['lora_targets that are not a list', (p) => writeSafetensors(p.tensors, { ...p.meta, config: JSON.stringify({ ...JSON.parse(p.meta.config), lora_targets: null }) }), /metadata config\.lora_targets must be a list, got null/],
    ['a history that is not a list', (p) => writeSafetensors(p.tensors, { ...p.meta, history: '{}' }), /metadata\.history must be a list, got an object/],
    ['a history entry without its loss', (p) => writeSafetensors(p.tensors, { ...p.meta, history: '[{"step": 1}]' }), /metadata\.history\[0\]\.loss must be a number or null, got nothing/],
    ['an rng counter that is not decimal', (p) => writeSafetensors(p.tensors, { ...p.meta, rng: '{"seed": [1, 2], "counter": "0x10"}' }), /metadata\.rng\.counter must be a decimal integer/],
    ['no adam_steps', (p) => { const { adam_steps: _, ...meta } = p.meta; return writeSafetensors(p.tensors, meta); }, /metadata adam_steps is missing/],
    ['metadata that is not JSON', (p) => writeSafetensors(p.tensors, { ...p.meta, order: '{epoch: 1' }), /metadata order is not valid JSON/],
    ['metadata nested 5,000 levels', (p) => writeSafetensors(p.tensors, { ...p.meta, validation: '['.repeat(5000) + ']'.repeat(5000) }), /metadata validation: nested more than 64 levels deep/],
    ['an Adam index far out of range', (p) => { p.tensors.set('adam.m/999999999', { shape: [1], data: [0] }); return writeSafetensors(p.tensors, p.meta); }, /the Adam moments are not adam\.m\/0\.\.1 and adam\.v\/0\.\.1/],
    ['an unknown tensor', (p) => { p.tensors.set('adam.m/x', { shape: [1], data: [0] }); return writeSafetensors(p.tensors, p.meta); }, /unexpected tensor "adam\.m\/x"/],
    ['moments that do not match the tensors', (p) => { p.tensors.set('adam.v/1', { shape: [3], data: [0, 0, 0] }); return writeSafetensors(p.tensors, p.meta); }, /Adam moments 1 have 4 and 3 values/],
    ['a NaN parameter', (p) => { p.tensors.set('param/transformer_blocks.0.attn.to_q.lora_B', { shape: [2, 2], data: [0, 1, Number.NaN, 2] }); return writeSafetensors(p.tensors, p.meta); }, /tensor "transformer_blocks\.0\.attn\.to_q\.lora_B" has NaN or infinite values \(the first at index 2\)/],
    ['bytes that are not safetensors', () => new Uint8Array(20), /checkpoint file: not a safetensors file/],
  ];
  it.each(cases)('refuses %s', (_label, make, message) => {
    let err: unknown;
    try {
      checkpointFromBytes(make(parts()));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).constructor).toBe(Error);
    expect((err as Error).message).toMatch(message);
  });
});
