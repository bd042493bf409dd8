// `train --config` in the reference trainers' nested form (Flow-GRPO's config/grpo.py as JSON): each key lands on
// this trainer's field of the same name, the round's knobs among them; keys it has no use for are listed.
import { describe, expect, it } from 'vitest';
import { flattenReferenceConfig } from '../../src/cli/main';

describe('flattenReferenceConfig', () => {
  it("Flow-GRPO's geneval_sd3 round: sample.num_batches_per_epoch, train.num_inner_epochs, the accumulation", () => {
    const { config, ignored } = flattenReferenceConfig({
      method: 'grpo',
      sample: { num_steps: 10, num_image_per_prompt: 24, num_batches_per_epoch: 4, global_std: true, test_batch_size: 14 },
      train: { gradient_accumulation_steps: 2, num_inner_epochs: 1, batch_size: 9, clip_range: 1e-4, beta: 0.04, learning_rate: 3e-4 },
    });
    expect(config).toEqual({
      method: 'grpo',
      sample_num_steps: 10,
      sample_num_image_per_prompt: 24,
      sample_num_batches_per_epoch: 4,
      sample_global_std: true,
      gradient_accumulation_steps: 2,
      train_num_inner_epochs: 1,
      train_clip_range: 1e-4,
      train_beta: 0.04,
      learning_rate: 3e-4,
    });
    // train.batch_size only sizes a buffer in the reference: not the micro-batch.
    expect(ignored).toEqual(['sample.test_batch_size', 'train.batch_size']);
  });

  it('refuses what is not an object', () => {
    expect(() => flattenReferenceConfig([1])).toThrow(/must be a JSON object/);
  });
});
