// The studio's worker side end to end in Node: Dawn (SwiftShader) for the GPU, fake-indexeddb for IndexedDB,
// the tiny preset. Messages in, messages out, as the UI sees them.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/codec/safetensors';
import type { MMDiT } from '../../src/model/mmdit';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { loraFromCheckpoint } from '../../src/train/checkpoint-lora';
import { Trainer, type Checkpoint } from '../../src/train/trainer';
import { idbStore, type KeyValueStore } from '../../src/worker/kv';
import type { StoredDataset } from '../../src/worker/persistence';
import type { UiToWorker } from '../../src/worker/protocol';
import { getEngine, rand } from '../tensor/harness';
import { Harness, type Of } from './harness';

const CFG: TrainConfig = {
  ...DEFAULT_TRAIN,
  max_train_steps: 4,
  train_batch_size: 2,
  trajectory_length: 2,
  num_sampling_steps: 10,
  learning_rate: 5e-3,
  rank: 2,
  lora_alpha: 2,
  checkpointing_steps: 2,
  validation_steps: 2,
  shift: 1,
};

let dbCount = 0;
const freshKv = () => idbStore(`studio-test-${++dbCount}`);

/** The random base predicts 0 (adaLN-Zero); random modulation and output weights make LoRA gradients non-zero. */
function perturb(model: MMDiT): void {
  model.writeZeroInitLayers((n, i) => rand(n, 1 + i, -0.1, 0.1));
}

async function ready(h: Harness, data: UiToWorker | null = { type: 'data/builtin', split: 'clean', count: 8 }): Promise<void> {
  await h.send({ type: 'base/load', preset: 'tiny' });
  const base = h.last('base/ready');
  expect(base?.base).toMatchObject({ preset: 'tiny', source: 'random', resolution: 8, id: 'tiny-random-1', trainable: true });
  perturb(h.studio.loadedBase!.base.model);
  if (data) await h.send(data);
  expect(h.last('data/ready')).toBeDefined();
}

/** Losses of `steps` steps of one run trained alone, straight through, on the studio's base and data. */
async function straight(h: Harness, cfg: TrainConfig, steps: number): Promise<number[]> {
  const e = h.studio.engine!;
  const { base } = h.studio.loadedBase!;
  const saved = base.model.adapters;
  const t = await Trainer.create(e, base.model, base.embeddings, h.studio.loadedDataset!.trainingData(), cfg);
  base.model.adapters = [t.lora!];
  const losses: number[] = [];
  await t.run(steps, (m) => losses.push(m.loss));
  t.release();
  base.model.adapters = saved;
  return losses;
}

describe('Studio (worker side)', () => {
  it('loads the base and the built-in data: summary, previews, encode progress', async () => {
    const h = new Harness(await getEngine(), freshKv());
    await ready(h);
    const d = h.last('data/ready')!.dataset;
    expect(d).toMatchObject({ name: 'builtin:clean', format: 'builtin', count: 8, resolution: 8, skipped: {}, warnings: {} });
    expect(d.preview).toHaveLength(8);
    expect(d.preview[0].image.rgba).toHaveLength(8 * 8 * 4);
    expect(d.preview[0].caption.length).toBeGreaterThan(3);
    const enc = h.of('data/progress').filter((m) => m.phase === 'encode');
    expect(enc.at(-1)).toMatchObject({ done: enc.at(-1)!.total });
    // A caption edit is the studio's copy: the preview shows it, it is encoded, it survives as an edit.
    await h.send({ type: 'data/caption', id: d.preview[1].id, caption: '  a red  circle ' });
    expect(h.last('data/ready')!.dataset.preview[1].caption).toBe('a red circle');
    expect(h.studio.loadedBase!.base.embeddings.has('a red circle')).toBe(true);
    await h.send({ type: 'data/caption', id: 'nope', caption: 'x' });
    expect(h.last('data/error')!.message).toMatch(/nope/);
    // Loading the same preset again answers at once with the same base.
    await h.send({ type: 'base/load', preset: 'tiny' });
    expect(h.of('base/ready')).toHaveLength(2);
    await h.send({ type: 'base/load', preset: 'no-such' });
    expect(h.last('base/error')!.advice).toMatch(/tiny/);
  });

  it('interleaves an SFT and a SOAR run on one base: each has exactly the losses it has alone', async () => {
    const h = new Harness(await getEngine(), freshKv());
    await ready(h);
    const sftCfg = { ...CFG, method: 'sft' as const };
    const soarCfg = { ...CFG, method: 'soar' as const, seed: 7 };
    const aloneSft = await straight(h, sftCfg, 4);
    const aloneSoar = await straight(h, soarCfg, 4);
    const t0 = performance.now();
    await h.send({ type: 'run/start', interleave: true, runs: [{ id: 'sft', name: 'SFT', config: sftCfg }, { id: 'soar', name: 'SOAR', config: soarCfg }] });
    await h.until('both done', () => h.run('sft')?.status === 'done' && h.run('soar')?.status === 'done');
    const elapsed = performance.now() - t0;
    // Speed and ETA from each run's own wall time per step: the two runs' step times add up to at most the
    // wall time that passed (validation and checkpoints take the rest), and to a good part of it.
    const posted = h.of('run/metrics');
    const stepMs = posted.reduce((sum, x) => sum + x.metrics.ms_per_step, 0);
    expect(stepMs).toBeLessThanOrEqual(elapsed * 1.02);
    expect(stepMs).toBeGreaterThan(elapsed * 0.1);
    for (const x of posted) {
      expect(x.metrics.ms_per_step).toBeGreaterThan(0);
      const mine = posted.filter((y) => y.runId === x.runId && y.metrics.step <= x.metrics.step).map((y) => y.metrics.ms_per_step).sort((a, b) => a - b);
      expect(x.stepsPerSecond).toBeCloseTo(1000 / mine[mine.length >> 1], 6); // the median of its steps so far
      // While both train (up to step 2 at least: near the end one may finish first), the ETA is for both
      // together, and it is the time their remaining steps will take.
      if (x.metrics.step <= 2) {
        expect(x.etaScope).toBe('together');
        expect(x.etaSeconds).toBeGreaterThan(0);
        expect(x.etaSeconds * 1000).toBeLessThan(elapsed * 3);
      }
    }
    // Before its counter moves a run says what it is doing: building the trainer, then the first step (the
    // one that compiles the kernels); the phase clears as the first metrics arrive.
    for (const id of ['sft', 'soar']) {
      const mine = h.messages.filter((x) => (x.type === 'run/phase' || x.type === 'run/metrics') && x.runId === id);
      const phases = mine.filter((x): x is Of<'run/phase'> => x.type === 'run/phase').map((x) => x.phase?.kind ?? null);
      expect(phases).toEqual(['preparing', 'first-step', null]);
      expect(mine.findIndex((x) => x.type === 'run/phase' && x.phase === null)).toBeLessThan(mine.findIndex((x) => x.type === 'run/metrics'));
    }
    expect(h.metrics('sft')).toEqual(aloneSft);
    expect(h.metrics('soar')).toEqual(aloneSoar);
    expect(aloneSft).not.toEqual(aloneSoar);
    // Interleaved: the runs advance together (metrics are read back a step late, so they come in pairs).
    let lead = 0;
    for (const x of h.of('run/metrics')) {
      lead += x.runId === 'sft' ? 1 : -1;
      expect(Math.abs(lead)).toBeLessThanOrEqual(2);
    }
    const m = h.of('run/metrics').at(-1)!;
    expect(m.stepsPerSecond).toBeGreaterThan(0);
    expect(m.etaSeconds).toBe(0);
    expect(h.of('run/metrics').filter((x) => x.runId === 'soar').map((x) => x.metrics.step)).toEqual([1, 2, 3, 4]);
    expect(h.of('run/validation').filter((v) => v.runId === 'soar').map((v) => v.step)).toEqual([2, 4]);
    const done = h.run('soar')!;
    expect(done).toMatchObject({ status: 'done', step: 4, checkpointStep: 4, method: 'soar', name: 'SOAR' });
    expect(done.history.map((x) => x.step)).toEqual([1, 2, 3, 4]);
    // The model is back to the plain base between uses.
    expect(h.studio.loadedBase!.base.model.adapters).toEqual([]);
    // A config the trainer would refuse fails the run at once, with the field named.
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'bad', name: 'bad', config: { ...CFG, learning_rate: -1 } }] });
    expect(h.run('bad')).toMatchObject({ status: 'error' });
    expect(h.run('bad')!.error!.message).toMatch(/learning_rate/);
  });

  it('pause checkpoints to IndexedDB; after a reload the run resumes with the losses it would have had', async () => {
    const engine = await getEngine();
    const kv = freshKv();
    const cfg = { ...CFG, max_train_steps: 6, checkpointing_steps: 4, validation_steps: 3 };
    const a = new Harness(engine, kv);
    await ready(a);
    const reference = await straight(a, cfg, 6);
    await a.send({ type: 'run/start', interleave: false, runs: [{ id: 'r1', name: 'resumable', config: cfg }] });
    await a.until('step 2', () => a.metrics('r1').length >= 2);
    await a.send({ type: 'run/pause', id: 'r1' });
    const paused = a.run('r1')!;
    expect(paused.status).toBe('paused');
    expect(paused.checkpointStep).toBe(paused.step);
    expect(paused.step).toBeGreaterThanOrEqual(2);
    expect(paused.step).toBeLessThan(6);
    const before = a.metrics('r1');
    expect(before).toEqual(reference.slice(0, before.length));

    // "Reload": a new studio on the same IndexedDB and a freshly made base (the random base is deterministic).
    const b = new Harness(engine, kv);
    await ready(b, null);
    const restoredData = b.last('data/ready')!.dataset; // the dataset comes back from IndexedDB on its own
    expect(restoredData).toMatchObject({ name: 'builtin:clean', count: 8 });
    await b.send({ type: 'runs/restore' });
    const [run] = b.last('runs/restored')!.runs;
    expect(run).toMatchObject({ id: 'r1', status: 'paused', step: paused.step, checkpointStep: paused.step });
    expect(run.history.map((x) => x.loss)).toEqual(before);
    await b.send({ type: 'run/resume', id: 'r1' });
    await b.until('done', () => b.run('r1')?.status === 'done');
    // After the resume, speed and ETA are measured again (not 0 steps/s, not ETA 0 with steps left).
    const resumed = b.of('run/metrics').filter((x) => x.runId === 'r1');
    for (const x of resumed) expect(x.stepsPerSecond).toBeGreaterThan(0);
    for (const x of resumed.filter((y) => y.metrics.step < 6)) expect(x).toMatchObject({ etaScope: 'run', etaSeconds: expect.any(Number) });
    expect(resumed.filter((y) => y.metrics.step < 6).every((y) => y.etaSeconds > 0)).toBe(true);
    expect([...before, ...b.metrics('r1')]).toEqual(reference);
    expect(b.run('r1')!.history.map((x) => x.loss)).toEqual(reference);
    // Restoring again changes nothing.
    await b.send({ type: 'runs/restore' });
    expect(b.last('runs/restored')!.runs).toHaveLength(1);
    // Deleting removes the run and its checkpoint.
    await b.send({ type: 'run/delete', id: 'r1' });
    expect(b.last('run/deleted')).toEqual({ type: 'run/deleted', id: 'r1' });
    expect(await kv.get('checkpoint:r1')).toBeUndefined();
    expect(await kv.get('runs')).toEqual([]);
  });

  it('compare, trajectories, LoRA export/import, project export/import, bundle and storage estimate', async () => {
    const engine = await getEngine();
    const h = new Harness(engine, freshKv(), { storageManager: { estimate: async () => ({ usage: 123, quota: 4567 }), persisted: async () => true } });
    await ready(h);
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'soar', name: 'SOAR run', config: { ...CFG, method: 'soar' } }] });
    await h.until('done', () => h.run('soar')?.status === 'done');

    // Compare: base + the run, same noise per prompt in every column.
    const prompts = h.last('data/ready')!.dataset.preview.slice(0, 2).map((p) => p.caption);
    const request = { prompts, seed: 3, steps: 3, cfgScale: 2, runs: ['soar'], captureTrajectory: true };
    await h.send({ type: 'compare/sample', request });
    const result = h.last('compare/result')!;
    expect(result.prompts).toEqual(prompts);
    expect(result.columns.map((c) => [c.label, c.runId])).toEqual([['base', null], ['SOAR (SOAR run)', 'soar']]);
    for (const c of result.columns) {
      expect(c.images).toHaveLength(2);
      expect(c.trajectories!.map((t) => t.length)).toEqual([4, 4]);
    }
    const [base, run] = result.columns;
    expect(run.trajectories![1][0]).toEqual(base.trajectories![1][0]); // identical z1
    expect(run.images[0].rgba).not.toEqual(base.images[0].rgba); // the LoRA changes the sample
    expect(h.last('compare/progress')).toEqual({ type: 'compare/progress', done: 2, total: 2 });
    await h.send({ type: 'compare/sample', request: { ...request, captureTrajectory: false } });
    const again = h.last('compare/result')!;
    expect(again.columns[1].images).toEqual(run.images); // deterministic
    expect(again.columns[0].trajectories).toBeNull();
    await h.send({ type: 'compare/sample', request: { ...request, steps: 0 } });
    expect(h.last('compare/error')!.message).toMatch(/steps/);

    // Trajectory of a run that is not stepping: one frame on its first batch, without an update.
    await h.send({ type: 'trajectory/watch', runId: 'soar' });
    const frame = (await h.until('frame', () => h.last('trajectory/frame')))!.frame;
    expect(frame).toMatchObject({ runId: 'soar', step: 4 });
    expect(frame.aux).toHaveLength(CFG.trajectory_length);
    expect(frame.rollout!.rgba).toHaveLength(8 * 8 * 4);
    expect(frame.sigma1).not.toBeNull();
    expect(frame.sigma1!).toBeLessThan(frame.sigma0);
    for (const a of frame.aux) expect(a.sigma).toBeGreaterThanOrEqual(frame.sigma1!);
    await h.send({ type: 'trajectory/watch', runId: null });

    // LoRA export -> import: the imported LoRA samples like the run.
    await h.send({ type: 'lora/export', runId: 'soar', naming: 'peft', dtype: 'F32' });
    const file = h.last('file/download')!;
    expect(file.fileName).toBe('soar-run-soar-step4.safetensors');
    const exported = readSafetensors(new Uint8Array(file.bytes));
    expect(exported.metadata).toMatchObject({ method: 'soar', steps: '4', base_model_id: 'tiny-random-1' });
    await h.send({ type: 'lora/import', name: 'reimported', bytes: file.bytes.slice(0) });
    expect(h.last('lora/imported')).toMatchObject({ runId: 'import-1', name: 'reimported' });
    await h.send({ type: 'compare/sample', request: { ...request, captureTrajectory: false, runs: ['soar', 'import-1'] } });
    const withImport = h.last('compare/result')!.columns;
    expect(withImport[2].label).toBe('LoRA (reimported)');
    const diff = Math.max(...withImport[2].images[0].rgba.map((v, i) => Math.abs(v - withImport[1].images[0].rgba[i])));
    expect(diff).toBeLessThanOrEqual(1);
    await h.send({ type: 'lora/import', name: 'junk', bytes: new Uint8Array([1, 2, 3]).buffer });
    expect(h.last('lora/error')!.message).toMatch(/junk/);

    // Project export -> import into another studio: the run comes back with its weights.
    await h.send({ type: 'project/export' });
    const project = h.last('file/download')!;
    expect(project.fileName).toBe('soar-studio-project.safetensors');
    const other = new Harness(engine, freshKv());
    await ready(other);
    await other.send({ type: 'project/import', bytes: project.bytes });
    expect(other.last('runs/restored')!.runs.map((r) => r.id)).toEqual(['soar']);
    expect(other.last('runs/restored')!.runs[0]).toMatchObject({ status: 'done', step: 4, checkpointStep: 4, name: 'SOAR run' });
    await other.send({ type: 'lora/export', runId: 'soar', naming: 'peft', dtype: 'F32' });
    const again2 = readSafetensors(new Uint8Array(other.last('file/download')!.bytes));
    for (const [k, t] of exported.tensors) expect(again2.tensors.get(k)!.data, k).toEqual(t.data);
    await other.send({ type: 'project/import', bytes: new Uint8Array(16).buffer });
    expect(other.last('project/error')!.message).toMatch(/not a SOAR Studio project/);

    // The reference bundle and the storage estimate.
    await h.send({ type: 'bundle/export', runId: 'soar' });
    const bundle = h.last('file/download')!;
    expect(bundle).toMatchObject({ fileName: 'soar-run-reference-bundle.zip', mime: 'application/zip' });
    expect([...new Uint8Array(bundle.bytes).subarray(0, 2)]).toEqual([0x50, 0x4b]); // PK
    await h.send({ type: 'storage/estimate' });
    expect(h.last('storage/estimate')).toEqual({ type: 'storage/estimate', usage: 123, quota: 4567, persisted: true });
  });

  it('a Flow-GRPO run: rewards per step, its groups when watched, pause and resume exactly, a LoRA that names its method', async () => {
    const engine = await getEngine();
    const kv = freshKv();
    // The toy reward (the built-in captions would score ~0 on a random base: every group tied, nothing to learn).
    const cfg: TrainConfig = { ...CFG, method: 'grpo', reward_fn: 'redness', sample_num_steps: 3, sample_sde_window_size: 1, sample_sde_window_range: [0, 3], sample_guidance_scale: 1, train_cfg: false };
    const a = new Harness(engine, kv);
    await ready(a);
    const reference = await straight(a, cfg, 4);
    await a.send({ type: 'trajectory/watch', runId: 'g' });
    await a.send({ type: 'run/start', interleave: false, runs: [{ id: 'g', name: 'Flow-GRPO 1', config: cfg }] });
    await a.until('step 2', () => a.metrics('g').length >= 2);
    await a.send({ type: 'run/pause', id: 'g' });
    const paused = a.run('g')!;
    expect(paused.status).toBe('paused');
    for (const h of paused.history) expect(h.reward_mean).toEqual(expect.any(Number));
    const [frame] = a.of('trajectory/groups');
    expect(frame.frame).toMatchObject({ runId: 'g', step: 1 });
    expect(frame.frame.groups).toHaveLength(2);
    expect(frame.frame.groups[0].samples).toHaveLength(4);
    expect(frame.frame.groups[0].samples[0].image.rgba).toHaveLength(8 * 8 * 4);
    expect(a.of('trajectory/frame')).toEqual([]);

    const b = new Harness(engine, kv);
    await ready(b, null);
    await b.send({ type: 'runs/restore' });
    await b.send({ type: 'run/resume', id: 'g' });
    await b.until('done', () => b.run('g')?.status === 'done');
    expect(b.run('g')!.history.map((x) => x.loss)).toEqual(reference);
    await b.send({ type: 'lora/export', runId: 'g', naming: 'peft', dtype: 'F32' });
    const file = b.last('file/download')!;
    expect(file.fileName).toMatch(/-grpo-step4\.safetensors$/);
    expect(readSafetensors(new Uint8Array(file.bytes)).metadata.method).toBe('grpo');
  });

  it('SOAR, then Flow-GRPO: a Flow-GRPO run on top of a finished SOAR run\'s LoRA, kept with it, resumed exactly after a reload', async () => {
    const engine = await getEngine();
    const kv = freshKv();
    const a = new Harness(engine, kv);
    await ready(a);
    const soar: TrainConfig = { ...CFG, max_train_steps: 2 };
    await a.send({ type: 'run/start', interleave: false, runs: [{ id: 's', name: 'SOAR first', config: soar }] });
    await a.until('SOAR done', () => a.run('s')?.status === 'done');
    // Off policy too: 2 micro-batches per round, 4 passes (8 updates), so the pause below lands in the middle of a round.
    const cfg: TrainConfig = { ...CFG, method: 'grpo', reward_fn: 'redness', sample_num_steps: 3, sample_sde_window_size: 1, sample_sde_window_range: [0, 3], sample_guidance_scale: 1, train_cfg: false, sample_num_batches_per_epoch: 2, train_num_inner_epochs: 4, checkpointing_steps: 1000 };

    // What it must do: a trainer with the SOAR LoRA under its own, straight through.
    const { base } = a.studio.loadedBase!;
    const soarLora = loraFromCheckpoint(engine, base.model.config, soar, (await kv.get<Checkpoint>('checkpoint:s'))!, 'soar');
    const t = await Trainer.create(engine, base.model, base.embeddings, a.studio.loadedDataset!.trainingData(), cfg, { under: [soarLora] });
    const reference: number[] = [];
    await t.run(4, (m) => reference.push(m.loss));
    t.release();
    soarLora.release();
    expect(await straight(a, cfg, 4), 'the SOAR LoRA changes what Flow-GRPO does').not.toEqual(reference);

    // Refused: a start from a run that does not exist, and a start for another method than Flow-GRPO.
    await a.send({ type: 'run/start', interleave: false, runs: [{ id: 'x', name: 'nowhere', config: cfg, startFrom: 'nope' }, { id: 'y', name: 'not grpo', config: soar, startFrom: 's' }] });
    expect(a.run('x')!.error!.message).toMatch(/there is no run nope to start from/);
    expect(a.run('y')!.error!.message).toMatch(/only a Flow-GRPO run starts from another run's LoRA/);

    await a.send({ type: 'run/start', interleave: false, runs: [{ id: 'g', name: 'Flow-GRPO on SOAR', config: cfg, startFrom: 's' }] });
    const from = { runId: 's', name: 'SOAR first', method: 'soar', step: 2 };
    expect(a.run('g')!.startFrom).toEqual(from);
    expect(a.run('g')).not.toHaveProperty('startLora'); // the UI gets the summary, not the tensors
    await a.until('step 2', () => a.metrics('g').length >= 2);
    await a.send({ type: 'run/pause', id: 'g' });
    const paused = a.run('g')!;
    expect(paused.checkpointStep).toBeGreaterThan(0);
    expect(paused.checkpointStep).toBeLessThan(4); // in the middle of the first round
    // The run it started from goes: the new run keeps the LoRA it copied.
    await a.send({ type: 'run/delete', id: 's' });

    const b = new Harness(engine, kv);
    await ready(b, null);
    await b.send({ type: 'runs/restore' });
    expect(b.last('runs/restored')!.runs.find((r) => r.id === 'g')!.startFrom).toEqual(from);
    await b.send({ type: 'run/resume', id: 'g' });
    await b.until('done', () => b.run('g')?.status === 'done');
    expect(b.run('g')!.history.map((x) => x.loss)).toEqual(reference);
    // The exported LoRA holds both, stacked (rank 2 + 2), and says where it started.
    await b.send({ type: 'lora/export', runId: 'g', naming: 'peft', dtype: 'F32' });
    const meta = readSafetensors(new Uint8Array(b.last('file/download')!.bytes)).metadata;
    expect(meta).toMatchObject({ method: 'grpo', lora_rank: '4', started_from: 'SOAR first (SOAR, step 2)' });
  });

  it('a trajectory is captured every few steps of the watched running run', async () => {
    const h = new Harness(await getEngine(), freshKv());
    await ready(h);
    await h.send({ type: 'trajectory/watch', runId: 'w' });
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'w', name: 'watched', config: { ...CFG, max_train_steps: 6 } }] });
    await h.until('done', () => h.run('w')?.status === 'done');
    await h.until('frames', () => h.of('trajectory/frame').length >= 2);
    expect(h.of('trajectory/frame').map((f) => f.frame.step)).toEqual([1, 6]); // captured at steps 0 and 5 (0-based)
  });

  it('a NaN in the data stops the run with the reason and advice; its checkpoint is kept', async () => {
    const kv = freshKv();
    // A stored dataset holding a NaN pixel (as a broken file could), restored when the base loads.
    const per = 3 * 8 * 8;
    const images = Float32Array.from({ length: 4 * per }, (_, i) => ((i * 37) % 101) / 50 - 1);
    images[5] = Number.NaN;
    const stored: StoredDataset = {
      kind: 'files', name: 'broken', format: 'captions', resolution: 8,
      ids: ['a', 'b', 'c', 'd'], paths: ['a.png', 'b.png', 'c.png', 'd.png'], captions: ['a red circle', 'a blue square', 'two green circles', 'a cat'], rawCaptions: ['', '', '', ''],
      sizes: new Int32Array(8).fill(8), images,
      report: { format: 'captions', formatReason: 'test', decoder: 'test', resolution: { width: 8, height: 8 }, taken: ['a.png', 'b.png', 'c.png', 'd.png'], skipped: [], warnings: [] },
    };
    await kv.set('dataset:current', stored);
    const h = new Harness(await getEngine(), kv);
    await ready(h, null);
    expect(h.last('data/ready')!.dataset).toMatchObject({ name: 'broken', count: 4 });
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'nan', name: 'nan', config: { ...CFG, method: 'sft', train_batch_size: 4 } }] });
    const run = await h.until('error', () => (h.run('nan')?.status === 'error' ? h.run('nan') : null));
    expect(run.error!.message).toMatch(/not finite.*refused/);
    expect(run.error!.advice).toMatch(/learning_rate/);
    expect(run.step).toBe(0);
  });

  it('a lost GPU pauses every run at its stored checkpoint, says why, and refuses to resume', async () => {
    const h = new Harness(await getEngine(), freshKv());
    await ready(h);
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'l', name: 'lost', config: { ...CFG, max_train_steps: 50 } }] });
    await h.until('checkpoint', () => (h.run('l')?.checkpointStep ?? 0) > 0 || h.metrics('l').length >= 3);
    await h.studio.runs.onGpuLost('unknown: the GPU process crashed');
    const run = h.run('l')!;
    expect(run.status).toBe('paused');
    expect(run.step).toBe(run.checkpointStep);
    expect(run.history.map((x) => x.step)).toEqual(Array.from({ length: run.step }, (_, i) => i + 1));
    expect(run.error!.message).toMatch(/GPU device was lost/);
    expect(run.error!.advice).toMatch(new RegExp(`Recover.*reload.*step ${run.checkpointStep}`));
    await h.send({ type: 'run/resume', id: 'l' });
    expect(h.run('l')!.status).toBe('paused');
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'l2', name: 'after', config: CFG }] });
    expect(h.run('l2')!.error!.message).toMatch(/lost/);
  });

  it('a quota error while checkpointing is posted and pauses the run; nothing is swallowed', async () => {
    const real = freshKv();
    const kv: KeyValueStore = {
      ...real,
      set: async (key, value) => {
        if (key.startsWith('checkpoint:')) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return real.set(key, value);
      },
    };
    const h = new Harness(await getEngine(), kv);
    await ready(h);
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'q', name: 'quota', config: { ...CFG, max_train_steps: 10 } }] });
    await h.until('paused', () => h.run('q')?.status === 'paused');
    const err = h.last('storage/error')!;
    expect(err.message).toMatch(/quota/);
    expect(err.message).toMatch(/run "quota"/); // its name, not its id
    // What storage still holds was read back, not assumed: no checkpoint of this run, the dataset is there.
    expect(err.message).toMatch(/Checked just now: still stored: the dataset "builtin:clean"\. Not stored: any checkpoint of run "quota"/);
    expect(err.advice).toMatch(/paused/);
    expect(h.run('q')).toMatchObject({ step: 2, checkpointStep: 0 });
    expect(h.of('storage/error')).toHaveLength(1);
  });

  it('a refused last checkpoint: the run waits paused, not done; the project file holds its weights; resuming stores it', async () => {
    const real = freshKv();
    let full = true;
    const kv: KeyValueStore = {
      ...real,
      set: async (key, value) => {
        if (full && key.startsWith('checkpoint:')) throw new DOMException('Failed to write blobs (IOError)', 'DataError');
        return real.set(key, value);
      },
    };
    const h = new Harness(await getEngine(), kv);
    await ready(h);
    // Two steps, a checkpoint every two: the only checkpoint is the last one, written when the run finishes.
    await h.send({ type: 'run/start', interleave: false, runs: [{ id: 'last', name: 'last one', config: { ...CFG, max_train_steps: 2 } }] });
    await h.until('paused', () => h.run('last')?.status === 'paused');
    expect(h.run('last')).toMatchObject({ step: 2, checkpointStep: 0 });
    expect(h.last('storage/error')!.message).toMatch(/checkpoint of run "last one" \(step 2\): the disk is full/);
    // The way out the alert offers: the downloaded project has the weights storage refused.
    await h.send({ type: 'project/export' });
    const project = readSafetensors(new Uint8Array(h.last('file/download')!.bytes));
    const runs = JSON.parse(project.metadata.runs!) as Array<{ record: { id: string; step: number }; checkpoint: { step: number } | null }>;
    expect(runs.find((r) => r.record.id === 'last')).toMatchObject({ record: { step: 2 }, checkpoint: { step: 2 } });
    // Space again: resuming stores the last checkpoint, and only then is the run done.
    full = false;
    await h.send({ type: 'run/resume', id: 'last' });
    await h.until('done', () => h.run('last')?.status === 'done');
    expect(h.run('last')).toMatchObject({ step: 2, checkpointStep: 2 });
    expect((await real.get<{ step: number }>('checkpoint:last'))!.step).toBe(2);
  });
});
