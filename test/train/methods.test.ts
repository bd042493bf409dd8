// The method seam: the page's catalog and the engine's registry agree, each method's descriptor is
// consistent with the config, and costs come from the passes a method declares.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, validateTrainConfig, type TrainConfig } from '../../src/train/config';
import { METHOD_IDS as CATALOG_IDS, METHOD_INFOS } from '../../src/train/methods/catalog';
import { METHODS, methodOf, stepCost } from '../../src/train/methods';

describe('method registry', () => {
  it('the catalog and the registry list the same methods, each under its own id', () => {
    expect(Object.keys(METHODS)).toEqual(CATALOG_IDS);
    for (const id of CATALOG_IDS) {
      expect(METHODS[id].id).toBe(id);
      expect(METHOD_INFOS[id].id).toBe(id);
      expect(typeof METHODS[id].step).toBe('function');
    }
  });

  it('form fields and defaults name real config fields; every default validates', () => {
    for (const id of CATALOG_IDS) {
      const info = METHOD_INFOS[id];
      for (const f of info.formFields) expect(Object.keys(DEFAULT_TRAIN), `${id}: ${f.key}`).toContain(f.key);
      for (const k of Object.keys(info.defaults)) expect(DEFAULT_TRAIN, `${id}: ${k}`).toHaveProperty(k);
      expect(validateTrainConfig({ ...DEFAULT_TRAIN, ...info.defaults, method: id } as TrainConfig)).toEqual([]);
    }
  });

  it('an unknown method is refused naming the ones there are', () => {
    expect(validateTrainConfig({ ...DEFAULT_TRAIN, method: 'dpo' as TrainConfig['method'] })).toContain(`method must be one of ${CATALOG_IDS.map((m) => `"${m}"`).join(', ')}, got "dpo"`);
    expect(() => methodOf('dpo')).toThrow(/method must be one of "sft", "soar"/);
  });

  it("a method's own validation runs through validateTrainConfig", () => {
    expect(validateTrainConfig({ ...DEFAULT_TRAIN, method: 'soar', trajectory_length: -1 })).toContain('trajectory_length must be an integer ≥ 0, got -1');
  });

  it('costs come from the declared passes: SFT 1 + 1, SOAR 2 + K·P forwards and 1 + K·P backwards', () => {
    expect(stepCost({ ...DEFAULT_TRAIN, method: 'sft' })).toEqual({ forwards: 1, backwards: 1, relativeToSft: 1 });
    const soar = stepCost({ ...DEFAULT_TRAIN, method: 'soar', trajectory_length: 3, num_rollout_paths: 2 });
    expect(soar.forwards).toBe(2 + 6);
    expect(soar.backwards).toBe(1 + 6);
    expect(soar.relativeToSft).toBeCloseTo((8 + 14) / 3, 12);
    // lambda_aux = 0 is SFT in the same code path: no rollout, no aux passes.
    expect(stepCost({ ...DEFAULT_TRAIN, method: 'soar', lambda_aux: 0 })).toEqual({ forwards: 1, backwards: 1, relativeToSft: 1 });
    expect(METHODS.soar.passes({ ...DEFAULT_TRAIN, trajectory_length: 2 }, 4).map((p) => [p.batch, p.backward])).toEqual([[4, true], [4, false], [8, true]]);
  });

  it("Flow-GRPO's cost per prompt: G·2·N sampling forwards, and a forward and backward of 2G per trained step", () => {
    // Group 4, 10 steps with CFG, 9 trained (timestep_fraction 0.99), no KL.
    const grpo = stepCost({ ...DEFAULT_TRAIN, method: 'grpo' });
    expect(grpo.forwards).toBe(4 * 2 * 10 + 4 * 2 * 9);
    expect(grpo.backwards).toBe(4 * 2 * 9);
    // β > 0 adds the reference policy's forward per trained step; Fast trains only its window.
    expect(stepCost({ ...DEFAULT_TRAIN, method: 'grpo', train_beta: 0.04 }).forwards).toBe(80 + 72 + 72);
    expect(stepCost({ ...DEFAULT_TRAIN, method: 'grpo', sample_sde_window_size: 2 }).backwards).toBe(4 * 2 * 2);
    // A round sampled once and trained in 2 passes: half the sampling per trained micro-batch.
    expect(stepCost({ ...DEFAULT_TRAIN, method: 'grpo', train_num_inner_epochs: 2 }).forwards).toBe(40 + 72);
  });

  it("Flow-GRPO's rounds: the reference's knobs, defaults of one update per round, and what does not split refused", () => {
    const grpo: TrainConfig = { ...DEFAULT_TRAIN, method: 'grpo' };
    expect(METHODS.grpo.round!(grpo)).toEqual({ batches: 1, passes: 1 });
    expect(METHODS.grpo.round!({ ...grpo, gradient_accumulation_steps: 3 })).toEqual({ batches: 3, passes: 1 });
    // geneval_sd3: 4 batches per epoch, accumulation 2, one inner epoch: 2 updates per round.
    expect(METHODS.grpo.round!({ ...grpo, sample_num_batches_per_epoch: 4, gradient_accumulation_steps: 2 })).toEqual({ batches: 4, passes: 1 });
    expect(validateTrainConfig({ ...grpo, sample_num_batches_per_epoch: 4, gradient_accumulation_steps: 2, train_num_inner_epochs: 2 })).toEqual([]);
    expect(validateTrainConfig({ ...grpo, sample_num_batches_per_epoch: 3, gradient_accumulation_steps: 2 })).toEqual([
      'sample_num_batches_per_epoch 3 is not a multiple of gradient_accumulation_steps 2: each update trains gradient_accumulation_steps of a round\'s micro-batches, so a round must split into whole updates (0: one update per round)',
    ]);
    expect(validateTrainConfig({ ...grpo, sample_num_batches_per_epoch: -1 })).toEqual(['sample_num_batches_per_epoch must be an integer ≥ 0, got -1']);
    expect(validateTrainConfig({ ...grpo, train_num_inner_epochs: 0 })).toEqual(['train_num_inner_epochs must be an integer ≥ 1, got 0']);
    expect(validateTrainConfig({ ...grpo, train_num_inner_epochs: 1.5 })).toEqual(['train_num_inner_epochs must be an integer ≥ 1, got 1.5']);
  });
});
