// Valid model files built on the host (no GPU): a checkpoint and a project with one stepped and one fresh run,
// for the refusal tests and as fuzzing seeds.
import { DEFAULT_TRAIN } from '../../src/train/config';
import type { Checkpoint } from '../../src/train/trainer';
import type { RunRecord } from '../../src/worker/persistence';

export function sampleCheckpoint(): Checkpoint {
  const config = { ...DEFAULT_TRAIN, rank: 2, lora_alpha: 2, max_train_steps: 10 };
  const a = Float32Array.from({ length: 6 }, (_, i) => i / 10 - 0.2);
  const b = Float32Array.from({ length: 4 }, (_, i) => -i / 7);
  return {
    config,
    step: 3,
    rng: { seed: [7, 9], counter: '12' },
    order: { epoch: 1, cursor: 2 },
    tensors: { 'transformer_blocks.0.attn.to_q.lora_A': { shape: [2, 3], data: a }, 'transformer_blocks.0.attn.to_q.lora_B': { shape: [2, 2], data: b } },
    adam: { steps: [3, 3], m: [a.map((v) => v / 2), b.map((v) => v / 3)], v: [a.map((v) => v * v), b.map((v) => v * v)] },
    history: [
      { step: 1, loss: 0.5, loss_main: 0.4, loss_aux: 0.1, aux_per_sample: 0.05, grad_norm: 1.5, lr: 1e-3, ms_per_step: 12, skipped: false },
      { step: 2, loss: 0.45, loss_main: 0.45, loss_aux: null, aux_per_sample: 0, grad_norm: 1.2, lr: 1e-3, ms_per_step: 11, skipped: false },
    ],
    validation: [{ step: 2, loss: 0.47 }],
  };
}

/** The sample checkpoint taken in the middle of a sampling round that began at step 2 (Flow-GRPO, src/train/round.ts). */
export function sampleRoundCheckpoint(): Checkpoint {
  const ck = sampleCheckpoint();
  const tensors = Object.fromEntries(Object.entries(ck.tensors).map(([k, t]) => [k, { shape: [...t.shape], data: t.data.map((v) => v * 0.9 + 0.01) }]));
  return {
    ...ck,
    config: { ...ck.config, method: 'grpo', sample_num_batches_per_epoch: 2 },
    round: { step: 2, rng: { seed: [7, 9], counter: '8' }, order: { epoch: 1, cursor: 0 }, tensors },
  };
}

export function sampleRecord(id: string, ck: Checkpoint | null): RunRecord {
  const config = ck?.config ?? { ...DEFAULT_TRAIN, method: 'sft' as const };
  return {
    id,
    name: `run ${id}`,
    method: config.method,
    config,
    status: ck ? 'paused' : 'queued',
    step: ck?.step ?? 0,
    checkpointStep: ck?.step ?? 0,
    history: ck?.history ?? [],
    validation: ck?.validation ?? [],
    createdAt: 1700000000000,
    baseId: 'tiny-random-1',
    datasetKey: 'builtin:clean:8',
    group: null,
  };
}
