// Pretraining trains the text encoder inside the step: its weights get gradients and move, the checkpoint holds
// them, and a resumed run continues exactly.
import { describe, expect, it } from 'vitest';
import { builtinVocabulary } from '../../src/encode/builtin-vocab';
import { builtinData } from '../../src/data/source';
import { randomBase } from '../../src/io/base-runtime';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { Trainer } from '../../src/train/trainer';
import { withCaptionDropout, withoutFrozenEncoder } from '../../src/cli/pretrain';
import { checkpointFromBytes, checkpointToBytes } from '../../src/io/checkpoint-file';
import { getEngine } from '../tensor/harness';

const CFG: TrainConfig = { ...DEFAULT_TRAIN, method: 'sft', train_mode: 'full', max_train_steps: 4, train_batch_size: 2, learning_rate: 1e-2, lr_scheduler: 'cosine', lr_warmup_steps: 1 };

describe('joint text-encoder training (pretraining)', () => {
  it('moves the encoder and the denoiser, checkpoints both (with their moving average, through the file), and resumes exactly', async () => {
    const e = await getEngine();
    const make = () => randomBase(e, 'tiny', builtinVocabulary(8), 5, { adaLNZero: true });
    const data = withCaptionDropout(builtinData('broad', 16, 8), 0.25, 1);

    const a = make();
    const before = await a.textEncoder.toHost();
    const straight = await Trainer.create(e, a.model, a.embeddings, data, CFG, { textEncoder: { model: a.textEncoder, tokenizer: a.tokenizer }, emaDecay: 0.9 });
    const names = straight.parameters().map((p) => p.name);
    expect(names.some((n) => n.startsWith('text_model.'))).toBe(true);
    expect(names).toContain('text_projection.weight');
    expect(names).toContain('proj_out.weight');
    const all: number[] = [];
    await straight.run(4, (m) => all.push(m.loss));
    expect(all.every(Number.isFinite)).toBe(true);
    const after = await a.textEncoder.toHost();
    const moved = (n: string) => after.get(n)!.data.some((v, i) => v !== before.get(n)!.data[i]);
    expect(moved('text_model.embeddings.token_embedding.weight')).toBe(true);
    expect(moved('text_model.encoder.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(moved('text_projection.weight')).toBe(true);
    // The average trails the weights: between where they started and where they are.
    const emaStraight = (await straight.emaWeights())!;
    const w = 'text_projection.weight';
    expect(emaStraight.get(w)!.some((v, i) => v !== after.get(w)!.data[i] && v !== before.get(w)!.data[i])).toBe(true);
    straight.release();
    expect(a.textEncoder.parameters()).toEqual([]); // frozen again after training

    const b = make();
    const first = await Trainer.create(e, b.model, b.embeddings, data, CFG, { textEncoder: { model: b.textEncoder, tokenizer: b.tokenizer }, emaDecay: 0.9 });
    const part: number[] = [];
    await first.run(2, (m) => part.push(m.loss));
    // Through the checkpoint file, as the pretrain command writes it between chunks.
    const ck = checkpointFromBytes(checkpointToBytes(await first.checkpoint()));
    expect(Object.keys(ck.tensors)).toContain('text_model.final_layer_norm.weight');
    expect(ck.adam.ema?.length).toBe(names.length);
    first.release();
    const c = make();
    const resumed = await Trainer.create(e, c.model, c.embeddings, data, CFG, { textEncoder: { model: c.textEncoder, tokenizer: c.tokenizer }, emaDecay: 0.9 });
    resumed.restore(ck);
    await resumed.run(2, (m) => part.push(m.loss));
    expect(part).toEqual(all);
    const emaResumed = (await resumed.emaWeights())!;
    for (const n of names) expect(emaResumed.get(n), n).toEqual(emaStraight.get(n));
    resumed.release();
    for (const base of [a, b, c]) {
      base.model.release();
      base.textEncoder.release();
    }
  });

  it('refuses to train the encoder under a LoRA (the base and its encoder are frozen there)', async () => {
    const e = await getEngine();
    const base = randomBase(e, 'tiny', builtinVocabulary(8), 5);
    await expect(Trainer.create(e, base.model, base.embeddings, builtinData('clean', 4, 8), { ...CFG, train_mode: 'lora' }, { textEncoder: { model: base.textEncoder, tokenizer: base.tokenizer } })).rejects.toThrow(/train_mode "full"/);
    base.model.release();
    base.textEncoder.release();
  });

  it('trains the encoder at its own lr scale (0: it stays put while the denoiser moves); measures caption use', async () => {
    const e = await getEngine();
    const base = randomBase(e, 'tiny', builtinVocabulary(8), 5, { adaLNZero: true });
    const data = builtinData('broad', 16, 8);
    const encoderBefore = await base.textEncoder.toHost();
    const outBefore = await base.model.weights.get('proj_out.weight')!.toArray();
    const t = await Trainer.create(e, base.model, base.embeddings, data, CFG, { textEncoder: { model: base.textEncoder, tokenizer: base.tokenizer, lrScale: 0 }, validation: data, validationCount: 4 });
    await t.run(2);
    const encoderAfter = await base.textEncoder.toHost();
    for (const [name, w] of encoderBefore) expect(encoderAfter.get(name)!.data, name).toEqual(w.data);
    expect((await base.model.weights.get('proj_out.weight')!.toArray()).some((v, i) => v !== outBefore[i])).toBe(true);
    const captioned = await t.validationLoss();
    const empty = await t.validationLoss({ emptyCaptions: true });
    expect(Number.isFinite(empty) && empty !== captioned).toBe(true); // other captions, other velocities
    expect(t.validation.map((v) => v.loss)).toEqual([captioned]); // the empty-caption loss is not a validation point
    t.release();
    base.model.release();
    base.textEncoder.release();
  });

  it('resumes a checkpoint that kept a frozen encoder in the step without it, and refuses one whose encoder trained', async () => {
    const e = await getEngine();
    const make = () => randomBase(e, 'tiny', builtinVocabulary(8), 5, { adaLNZero: true });
    const data = builtinData('broad', 16, 8);
    const old = make();
    const inStep = await Trainer.create(e, old.model, old.embeddings, data, CFG, { textEncoder: { model: old.textEncoder, tokenizer: old.tokenizer, lrScale: 0 }, emaDecay: 0.9 });
    await inStep.run(2);
    const ck = checkpointFromBytes(checkpointToBytes(await inStep.checkpoint()));
    const denoiser = old.model.parameters().length;
    expect(ck.adam.m.length).toBeGreaterThan(denoiser); // the older layout: the encoder's entries after the denoiser's

    const fresh = make();
    const frozen = await Trainer.create(e, fresh.model, fresh.embeddings, data, CFG, { emaDecay: 0.9 });
    const stripped = await withoutFrozenEncoder(ck, fresh.textEncoder, frozen.parameters().length);
    expect(Object.keys(stripped.tensors).filter((n) => n.startsWith('text_'))).toEqual([]);
    expect(stripped.adam.m.length).toBe(denoiser);
    expect(stripped.adam.ema!.length).toBe(denoiser);
    frozen.restore(stripped);
    expect(frozen.step).toBe(2);
    for (const p of frozen.parameters()) expect(await p.toArray(), p.name).toEqual(ck.tensors[p.name].data);
    await frozen.run(1);
    expect(frozen.step).toBe(3);
    // Already without the encoder: unchanged.
    const own = await frozen.checkpoint();
    expect(await withoutFrozenEncoder(own, fresh.textEncoder, frozen.parameters().length)).toBe(own);
    // An encoder that moved is not the frozen one.
    const name = Object.keys(ck.tensors).find((n) => n.startsWith('text_'))!;
    const moved = { ...ck, tensors: { ...ck.tensors, [name]: { ...ck.tensors[name], data: ck.tensors[name].data.map((v, k) => (k === 0 ? v + 1e-3 : v)) } } };
    await expect(withoutFrozenEncoder(moved, fresh.textEncoder, frozen.parameters().length)).rejects.toThrow(/is not the frozen one this run starts from: it trained; resume with the --text-encoder-lr-scale it was made with/);
    inStep.release();
    frozen.release();
    for (const b of [old, fresh]) {
      b.model.release();
      b.textEncoder.release();
    }
  });

  it('drops captions per example, at the given rate, the same way every time', () => {
    const data = builtinData('broad', 2000, 8);
    const dropped = withCaptionDropout(data, 0.1, 7);
    const empty = Array.from({ length: 2000 }, (_, i) => dropped.example(i).caption === '').filter(Boolean).length;
    expect(empty).toBeGreaterThan(140);
    expect(empty).toBeLessThan(260);
    const again = withCaptionDropout(data, 0.1, 7);
    for (let i = 0; i < 50; i++) expect(again.example(i).caption).toBe(dropped.example(i).caption);
    expect(dropped.example(3).image).toBe(data.example(3).image); // images untouched
    expect(() => withCaptionDropout(data, 1, 1)).toThrow(/caption-dropout/);
  });
});
