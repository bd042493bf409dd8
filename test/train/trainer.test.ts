// The training loop: exact resume from a checkpoint, NaN refusal, the fixed-seed validation loss, LR schedules.
import { describe, expect, it } from 'vitest';
import { memoryData } from '../../src/data/source';
import { DEFAULT_TRAIN, learningRate, type TrainConfig } from '../../src/train/config';
import { NonFiniteLossError, Trainer } from '../../src/train/trainer';
import { tinyWorld } from './tiny-world';
import { getEngine } from '../tensor/harness';

const CFG: TrainConfig = { ...DEFAULT_TRAIN, max_train_steps: 6, train_batch_size: 2, trajectory_length: 2, num_sampling_steps: 10, learning_rate: 5e-3, rank: 2, lora_alpha: 2 };

const world = tinyWorld;

describe('Trainer', () => {
  it('run() without a callback still waits for every step: the history is complete when it returns', async () => {
    const e = await getEngine();
    const w = await world(e);
    const t = await Trainer.create(e, w.model, w.cache, w.data, { ...CFG, method: 'sft' });
    await t.run(3);
    expect(t.history.map((h) => h.step)).toEqual([1, 2, 3]);
    t.release();
  });

  it('resuming from a checkpoint gives the same losses as not stopping (SOAR, LoRA)', async () => {
    const e = await getEngine();
    const w = await world(e);
    const straight = await Trainer.create(e, w.model, w.cache, w.data, CFG);
    const all: number[] = [];
    await straight.run(4, (m) => all.push(m.loss));
    straight.release();

    const first = await Trainer.create(e, w.model, w.cache, w.data, CFG);
    const part: number[] = [];
    await first.run(2, (m) => part.push(m.loss));
    const ck = await first.checkpoint();
    first.release();
    const resumed = await Trainer.create(e, w.model, w.cache, w.data, CFG);
    resumed.restore(ck);
    expect(resumed.step).toBe(2);
    await resumed.run(2, (m) => part.push(m.loss));
    expect(part).toEqual(all);
    expect(resumed.history.map((h) => h.step)).toEqual([1, 2, 3, 4]);
    expect(all.every(Number.isFinite)).toBe(true);
    resumed.release();
  });

  it('validation loss uses fixed draws: identical for SFT and SOAR trainers before any step, and repeatable', async () => {
    const e = await getEngine();
    const w = await world(e);
    const a = await Trainer.create(e, w.model, w.cache, w.data, { ...CFG, method: 'sft' });
    const va = await a.validationLoss();
    expect(await a.validationLoss()).toBe(va);
    a.release();
    const b = await Trainer.create(e, w.model, w.cache, w.data, { ...CFG, method: 'soar' });
    expect(await b.validationLoss()).toBe(va); // B = 0: the fresh LoRA leaves the base unchanged
    await b.run(2);
    expect(await b.validationLoss()).not.toBe(va);
    b.release();
  });

  it('a NaN in the data refuses the update, stops the run with a clear error, and leaves the weights intact', async () => {
    const e = await getEngine();
    const w = await world(e);
    const bad = memoryData(Array.from({ length: 4 }, (_, i) => {
      const x = w.data.example(i);
      const image = Float32Array.from(x.image);
      image[5] = Number.NaN;
      return { image, caption: x.caption };
    }));
    const t = await Trainer.create(e, w.model, w.cache, bad, { ...CFG, method: 'sft' });
    const before = await Promise.all(t.parameters().map((p) => p.toArray()));
    const { metrics } = await t.trainStep();
    await expect(metrics).rejects.toBeInstanceOf(NonFiniteLossError);
    await expect(metrics).rejects.toThrow(/not finite.*refused.*last checkpoint is intact/);
    const after = await Promise.all(t.parameters().map((p) => p.toArray()));
    expect(after).toEqual(before);
    await expect(t.trainStep()).rejects.toBeInstanceOf(NonFiniteLossError);
    t.release();
  });

  it('refuses invalid configs with the field named; LR schedules', async () => {
    const e = await getEngine();
    const w = await world(e);
    await expect(Trainer.create(e, w.model, w.cache, w.data, { ...CFG, learning_rate: -1 })).rejects.toThrow(/learning_rate must be a number in \(0, 1\]/);
    await expect(Trainer.create(e, w.model, w.cache, memoryData([]), CFG)).rejects.toThrow(/dataset is empty/);
    const c = { ...CFG, lr_scheduler: 'cosine' as const, lr_warmup_steps: 2, max_train_steps: 10, learning_rate: 1 };
    expect([0, 1, 2, 6, 10].map((s) => learningRate(c, s))).toEqual([0.5, 1, 1, 0.5 * (1 + Math.cos(Math.PI * 0.5)), 0]);
    expect(learningRate({ ...c, lr_scheduler: 'constant' }, 0)).toBe(1);
  });
});
