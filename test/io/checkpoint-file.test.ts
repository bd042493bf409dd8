// Checkpoint files: a round trip keeps every field; a damaged or foreign file is refused with the field named
// (a step of "abc" used to become NaN, a stray adam.m/<huge> key a sparse list), never half-read. A checkpoint in
// the middle of a sampling round keeps it (round/ tensors, round metadata); one without is the file it was before.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { checkpointFromBytes, checkpointToBytes } from '../../src/io/checkpoint-file';
import { sampleCheckpoint, sampleRoundCheckpoint } from './fixtures';

/** The checkpoint's file as a mutable map and metadata, to break in one place per case. */
function parts(ck = sampleCheckpoint()) {
  const f = readSafetensors(checkpointToBytes(ck));
  return { tensors: new Map<string, TensorToWrite>([...f.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), meta: f.metadata };
}

describe('checkpoint file', () => {
  it('round-trips every field', () => {
    const ck = sampleCheckpoint();
    expect(checkpointFromBytes(checkpointToBytes(ck))).toEqual(ck);
  });

  it('writes a checkpoint without a round as before rounds: the same bytes, no round/ tensors or round metadata', () => {
    // SHA-256 of the files the writer made before it knew of rounds.
    const sha = (ck: ReturnType<typeof sampleCheckpoint>) => createHash('sha256').update(checkpointToBytes(ck)).digest('hex');
    const ck = sampleCheckpoint();
    expect(sha(ck)).toBe('f6762a226f56f124455b25b5007effa5c0109bdac165371429c73abed8408867');
    expect(sha({ ...ck, adam: { ...ck.adam, ema: ck.adam.m.map((m) => m.map((v) => v + 1)) } })).toBe('8081d9d8db1a8b850942d79dfebe49d71c135b1467e851889e5246206d6b540c');
    const f = readSafetensors(checkpointToBytes(ck));
    expect([...f.tensors.keys()].filter((k) => k.startsWith('round/'))).toEqual([]);
    expect(f.metadata.round).toBeUndefined();
    expect('round' in checkpointFromBytes(checkpointToBytes(ck))).toBe(false);
  });

  it('round-trips a checkpoint in the middle of a sampling round: the LoRA that sampled it and where it began', () => {
    const ck = sampleRoundCheckpoint();
    const f = readSafetensors(checkpointToBytes(ck));
    expect([...f.tensors.keys()].filter((k) => k.startsWith('round/')).sort()).toEqual(Object.keys(ck.tensors).map((n) => `round/${n}`).sort());
    expect(JSON.parse(f.metadata.round)).toEqual({ step: 2, rng: { seed: [7, 9], counter: '8' }, order: { epoch: 1, cursor: 0 } });
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
  // The same care for a sampling round (the file of sampleRoundCheckpoint, broken in one place).
  const A = 'transformer_blocks.0.attn.to_q.lora_A';
  const B = 'transformer_blocks.0.attn.to_q.lora_B';
  const round = (edit: (p: ReturnType<typeof parts>) => Uint8Array) => () => edit(parts(sampleRoundCheckpoint()));
  const roundMeta = (p: ReturnType<typeof parts>, edit: (r: Record<string, unknown>) => void) => {
    const r = JSON.parse(p.meta.round) as Record<string, unknown>;
    edit(r);
    return writeSafetensors(p.tensors, { ...p.meta, round: JSON.stringify(r) });
  };
  cases.push(
    ['round metadata that is not JSON', round((p) => writeSafetensors(p.tensors, { ...p.meta, round: '{"step": 2' })), /checkpoint file: metadata round is not valid JSON/],
    ['round metadata that is not an object', round((p) => writeSafetensors(p.tensors, { ...p.meta, round: '[]' })), /metadata round must be an object, got \[\]/],
    ['a round without its step', round((p) => roundMeta(p, (r) => delete r.step)), /metadata round\.step must be/],
    ['a round step that is not a whole number', round((p) => roundMeta(p, (r) => (r.step = 1.5))), /metadata round\.step must be/],
    ['a round that began after the checkpoint', round((p) => roundMeta(p, (r) => (r.step = 4))), /metadata round\.step 4 is after the checkpoint's step 3/],
    ['a round rng counter that is not decimal', round((p) => roundMeta(p, (r) => (r.rng = { seed: [7, 9], counter: '-1' }))), /metadata round\.rng\.counter must be a decimal integer/],
    ['a round rng seed of one number', round((p) => roundMeta(p, (r) => (r.rng = { seed: [7], counter: '8' }))), /metadata round\.rng\.seed must be two 32-bit integers/],
    ['a round order without its cursor', round((p) => roundMeta(p, (r) => (r.order = { epoch: 1 }))), /metadata round\.order\.cursor must be/],
    ['round metadata without round tensors', round((p) => writeSafetensors(new Map([...p.tensors].filter(([k]) => !k.startsWith('round/'))), p.meta)), /metadata round names a sampling round but the file has no round\/ tensors/],
    ['round tensors without round metadata', round((p) => { const { round: _, ...meta } = p.meta; return writeSafetensors(p.tensors, meta); }), new RegExp(`tensor "round/${A.replaceAll('.', '\\.')}" belongs to a sampling round but metadata round is missing`)],
    ['a round that lacks a tensor', round((p) => { p.tensors.delete(`round/${B}`); return writeSafetensors(p.tensors, p.meta); }), /the sampling round lacks tensor "round\/transformer_blocks\.0\.attn\.to_q\.lora_B"/],
    ['a round tensor of another size', round((p) => { p.tensors.set(`round/${B}`, { shape: [3], data: [0, 0, 0] }); return writeSafetensors(p.tensors, p.meta); }), /tensor "round\/transformer_blocks\.0\.attn\.to_q\.lora_B" has 3 values, the checkpoint's 4/],
    ['a round tensor the checkpoint does not have', round((p) => { p.tensors.set('round/x', { shape: [1], data: [0] }); return writeSafetensors(p.tensors, p.meta); }), /tensor "round\/x" is not one of the checkpoint's tensors/],
    ['a round tensor named after an object property', round((p) => { p.tensors.set('round/constructor', { shape: [1], data: [0] }); return writeSafetensors(p.tensors, p.meta); }), /tensor "round\/constructor" is not one of the checkpoint's tensors/],
    ['a NaN in the round', round((p) => { p.tensors.set(`round/${A}`, { shape: [2, 3], data: [0, 1, 2, Number.POSITIVE_INFINITY, 4, 5] }); return writeSafetensors(p.tensors, p.meta); }), /tensor "round\/transformer_blocks\.0\.attn\.to_q\.lora_A" has NaN or infinite values \(the first at index 3\)/],
  );
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
