// The project file: a round trip keeps every run; a damaged project is refused when it is imported, naming the
// run and field (these were TypeErrors at import, or surfaced only at resume), with the studio's own Error.
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { projectFromBytes, projectToBytes } from '../../src/worker/project';
import type { BaseInfo } from '../../src/worker/protocol';
import { sampleCheckpoint, sampleRecord } from '../io/fixtures';

const BASE: BaseInfo = { id: 'tiny-random-1', preset: 'tiny', source: 'random', resolution: 8, parameters: 1000, trainable: true, textEncoder: 'WGSL kernels' };

function project(): Uint8Array {
  const ck = sampleCheckpoint();
  return projectToBytes(BASE, [{ record: sampleRecord('a', ck), checkpoint: ck }, { record: sampleRecord('b', null), checkpoint: null }]);
}

/** The project's runs metadata changed by `edit` (on the parsed JSON), tensors as they were. */
function withRuns(edit: (runs: any[]) => unknown, tensorsEdit?: (t: Map<string, TensorToWrite>) => void): Uint8Array {
  const f = readSafetensors(project());
  const tensors = new Map<string, TensorToWrite>([...f.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
  tensorsEdit?.(tensors);
  const runs = JSON.parse(f.metadata.runs);
  const replaced = edit(runs);
  // "DEEP" stands for an array nested 5,000 levels (JSON.stringify itself would overflow on it).
  const text = JSON.stringify(replaced === undefined ? runs : replaced).replace('"DEEP"', '['.repeat(5000) + ']'.repeat(5000));
  return writeSafetensors(tensors, { ...f.metadata, runs: text });
}

describe('project file', () => {
  it('round-trips the base, the runs and the checkpoint', () => {
    const back = projectFromBytes(project());
    expect(back.base).toEqual(BASE);
    expect(back.runs).toHaveLength(2);
    expect(back.runs[0].checkpoint).toEqual(sampleCheckpoint());
    expect(back.runs[0].record).toEqual(sampleRecord('a', sampleCheckpoint()));
    expect(back.runs[1]).toEqual({ record: sampleRecord('b', null), checkpoint: null });
  });

  it('keeps a Flow-GRPO run stopped in the middle of a sampling round: the LoRA that sampled it, where it began', () => {
    const base = sampleCheckpoint();
    const round = { step: 2, rng: { seed: [7, 9] as [number, number], counter: '8' }, order: { epoch: 1, cursor: 0 }, tensors: Object.fromEntries(Object.entries(base.tensors).map(([k, t]) => [k, { shape: t.shape, data: t.data.map((v) => v * 0.9) }])) };
    const ck = { ...base, config: { ...base.config, method: 'grpo' as const, sample_num_batches_per_epoch: 2 }, round };
    const bytes = projectToBytes(BASE, [{ record: sampleRecord('g', ck), checkpoint: ck }]);
    const back = projectFromBytes(bytes).runs[0];
    expect(back.record.method).toBe('grpo');
    expect(back.checkpoint).toEqual(ck);
    // A round whose LoRA is not the checkpoint's, or that began after it, is refused.
    const f = readSafetensors(bytes);
    const runs = JSON.parse(f.metadata.runs);
    runs[0].checkpoint.round.step = 4;
    expect(() => projectFromBytes(writeSafetensors(new Map([...f.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])), { ...f.metadata, runs: JSON.stringify(runs) }))).toThrow(/checkpoint\.round\.step 4 is after the checkpoint's step 3/);
    const missing = new Map([...f.tensors].filter(([k]) => !k.startsWith('run0/round/transformer_blocks.0.attn.to_q.lora_B')).map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    expect(() => projectFromBytes(writeSafetensors(missing, f.metadata))).toThrow(/lacks tensor "run0\/round\/transformer_blocks\.0\.attn\.to_q\.lora_B"/);
  });

  it('keeps the LoRA a run started from ("SOAR, then Flow-GRPO") with the run', () => {
    const ck = { ...sampleCheckpoint(), config: { ...sampleCheckpoint().config, method: 'grpo' as const } };
    const startLora = { rank: 2, alpha: 4, targets: ['attn.to_q'], tensors: Object.fromEntries(Object.entries(ck.tensors).map(([k, t]) => [k, { shape: t.shape, data: t.data.map((v) => v + 1) }])) };
    const record = { ...sampleRecord('g', ck), startFrom: { runId: 's', name: 'SOAR 1', method: 'soar' as const, step: 30 }, startLora };
    const bytes = projectToBytes(BASE, [{ record, checkpoint: ck }]);
    expect(projectFromBytes(bytes).runs[0].record).toEqual(record);
    const f = readSafetensors(bytes);
    const missing = new Map([...f.tensors].filter(([k]) => !k.startsWith('run0/start/')).map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    expect(() => projectFromBytes(writeSafetensors(missing, f.metadata))).toThrow(/lacks tensor "run0\/start\//);
  });

  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['runs that are not a list', () => withRuns(() => ({ a: 1 })), /the project file is damaged: metadata runs must be a list, got an object\. Export the project again/],
    ['a null run', () => withRuns((r) => [r[0], null]), /run 1 must be an object, got null/],
    ['no record', () => withRuns((r) => void delete r[0].record), /run 0\.record must be an object, got nothing/],
    ['null tensors', () => withRuns((r) => void (r[0].checkpoint.tensors = null)), /run 0\.checkpoint\.tensors must be an object, got null/],
    ['no adam_steps', () => withRuns((r) => void delete r[0].checkpoint.adam_steps), /run 0\.checkpoint\.adam_steps must be a list, got nothing/],
    ['a history that is not a list', () => withRuns((r) => void (r[1].record.history = 'none')), /run 1\.record\.history must be a list, got "none"/],
    ['a malformed record', () => withRuns((r) => void (r[0].record.status = 'flying')), /run 0\.record\.status must be one of "queued", "running"/],
    ['an invalid config', () => withRuns((r) => void (r[1].record.config.train_batch_size = 0)), /run 1\.record\.config is not a valid training config: train_batch_size must be an integer ≥ 1, got 0/],
    ['a checkpoint step of the wrong type', () => withRuns((r) => void (r[0].checkpoint.step = 'abc')), /run 0\.checkpoint\.step must be an integer/],
    ['a missing tensor', () => withRuns(() => undefined, (t) => t.delete('run0/adam.v/1')), /the file lacks tensor "run0\/adam\.v\/1"/],
    ['a tensor of another shape', () => withRuns((r) => void (r[0].checkpoint.tensors['transformer_blocks.0.attn.to_q.lora_A'] = [3, 2])), /is \[3, 2\], its tensor \[2, 3\]/],
    ['an Inf moment', () => withRuns(() => undefined, (t) => t.set('run0/adam.m/0', { shape: [6], data: [0, 0, Infinity, 0, 0, 0] })), /tensor "adam\.m\/0" has NaN or infinite values/],
    ['a run nested 5,000 levels', () => withRuns((r) => void (r[0].record.history = 'DEEP')), /metadata runs: nested more than 64 levels deep/],
    ['a LoRA file', () => writeSafetensors({}, { format: 'soar-studio-lora/1' }), /this is a LoRA file, import it as a LoRA/],
  ];
  it.each(cases)('refuses %s', (_label, make, message) => {
    let err: unknown;
    try {
      projectFromBytes(make());
    } catch (e) {
      err = e;
    }
    expect((err as Error)?.constructor).toBe(Error);
    expect((err as Error).message).toMatch(message);
  });
});
