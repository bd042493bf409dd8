// The two commands behind issue 7 on the tiny preset: `pretrain` writes a loadable bundle (weights, ONNX text
// encoder, model card with the evaluator's scores) and resumes; `demo` trains every arm for every seed and
// reports mean ± spread.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { swapShape } from '../../src/cli/word-separation';
import { parseArgs } from '../../src/cli/args';
import { demoCommand, meanStd } from '../../src/cli/demo';
import { pretrainCommand } from '../../src/cli/pretrain';
import { loadBase, randomBase } from '../../src/io/base-runtime';
import { builtinVocabulary } from '../../src/encode/builtin-vocab';
import { parseManifest } from '../../src/io/base-model';
import { checkpointFromBytes } from '../../src/io/checkpoint-file';
import { releaseBase } from '../../src/worker/base';
import { getEngine } from '../tensor/harness';

const quiet = async <T>(f: () => Promise<T>): Promise<T> => {
  const log = console.log;
  console.log = () => undefined;
  try {
    return await f();
  } finally {
    console.log = log;
  }
};

describe('pretrain and demo commands', () => {
  it('pretrain stops inside its --minutes budget with its state saved, and --resume continues exactly (text encoder and weight average included)', { timeout: 240_000 }, async () => {
    const e = await getEngine();
    const dir = mkdtempSync(join(tmpdir(), 'soar-chunks-'));
    const run = (name: string, extra: string[]) =>
      quiet(() => pretrainCommand(e, parseArgs(['--preset', 'tiny', '--batch', '2', '--steps', '24', '--checkpoint-every', '100', '--ema', '0.9', '--out', join(dir, name, 'out'), '--work', join(dir, name, 'work'), '--eval-prompts', '2', '--eval-steps', '2', '--chunk-eval-prompts', '2', ...extra])));
    const state = (name: string) => checkpointFromBytes(new Uint8Array(readFileSync(join(dir, name, 'work', 'checkpoint.safetensors'))));
    expect(await run('straight', [])).toBe(0);
    // A budget smaller than one slice of steps: the chunk ends after its first slice, checkpointed, no bundle.
    expect(await run('chunks', ['--minutes', '0.001'])).toBe(0);
    const first = state('chunks');
    expect(first.step).toBeGreaterThan(0);
    expect(first.step).toBeLessThan(24);
    expect(existsSync(join(dir, 'chunks', 'out', 'model.json'))).toBe(false);
    expect(await run('chunks', ['--resume'])).toBe(0);
    const [a, b] = [state('straight'), state('chunks')];
    expect(b.step).toBe(24);
    expect(b.history.map((h) => h.loss)).toEqual(a.history.map((h) => h.loss));
    for (const [name, t] of Object.entries(a.tensors)) expect(b.tensors[name].data, name).toEqual(t.data);
    expect(b.adam.ema!.length).toBe(a.adam.ema!.length);
    b.adam.ema!.forEach((x, k) => expect(x).toEqual(a.adam.ema![k]));
    // The bundle ships the weight average, and the metrics count both chunks.
    const metrics = JSON.parse(readFileSync(join(dir, 'chunks', 'work', 'metrics.json'), 'utf8')) as { compute: { images: number; chunks: number }; evals: Array<{ step: number }> };
    expect(metrics.compute).toMatchObject({ images: 48, chunks: 2 });
    expect(metrics.evals.map((x) => x.step)).toEqual([first.step, 24]);
    // Every chunk's end probes the weight average on unseen single objects: shape use per size, and the clean-image
    // error at fixed noise levels, which grows with the noise.
    for (const ev of metrics.evals as Array<{ shapeUse?: { small?: number; large?: number }; noiseLoss?: { bySigma: Record<string, number>; meanImage: number } }>) {
      expect(Number.isFinite(ev.shapeUse?.small) && Number.isFinite(ev.shapeUse?.large)).toBe(true);
      const bySigma = ev.noiseLoss!.bySigma;
      expect(Object.keys(bySigma).sort()).toEqual(['0.3', '0.5', '0.7', '0.9', '1']);
      expect(bySigma['0.3']).toBeLessThan(bySigma['1']);
      expect(ev.noiseLoss!.meanImage).toBeGreaterThan(0);
    }
    expect((metrics as unknown as { recipe: unknown[] }).recipe).toHaveLength(1); // --minutes is not part of the recipe
    // --stop-at ends a chunk at exactly that step; the resumed run is the same run.
    expect(await run('stopped', ['--stop-at', '5'])).toBe(0);
    expect(state('stopped').step).toBe(5);
    expect(await run('stopped', ['--resume'])).toBe(0);
    expect(state('stopped').history.map((h) => h.loss)).toEqual(a.history.map((h) => h.loss));
    await expect(run('stopped', ['--resume', '--stop-at', '30'])).rejects.toThrow(/--stop-at must be after the current step \(24\) and at most --steps \(24\), got 30/);
    const shipped = await import('../../src/codec/safetensors').then((m) => m.readSafetensors(new Uint8Array(readFileSync(join(dir, 'chunks', 'out', 'transformer.safetensors')))));
    const w = 'proj_out.weight';
    expect(Array.from(shipped.tensors.get(w)!.data)).not.toEqual(Array.from(a.tensors[w].data));
  });

  it('pretrain with a frozen text encoder (scale 0) keeps it out of the step and the checkpoint, and --resume continues exactly', { timeout: 240_000 }, async () => {
    const e = await getEngine();
    const dir = mkdtempSync(join(tmpdir(), 'soar-frozen-'));
    const run = (name: string, extra: string[]) =>
      quiet(() => pretrainCommand(e, parseArgs(['--preset', 'tiny', '--batch', '2', '--steps', '12', '--checkpoint-every', '100', '--ema', '0.9', '--text-encoder-lr-scale', '0', '--logit-mean', '0.5', '--weighting', 'uniform', '--out', join(dir, name, 'out'), '--work', join(dir, name, 'work'), '--eval-prompts', '2', '--eval-steps', '2', '--chunk-eval-prompts', '0', ...extra])));
    const state = (name: string) => checkpointFromBytes(new Uint8Array(readFileSync(join(dir, name, 'work', 'checkpoint.safetensors'))));
    expect(await run('straight', [])).toBe(0);
    expect(await run('chunks', ['--stop-at', '5'])).toBe(0);
    expect(await run('chunks', ['--resume'])).toBe(0);
    const [a, b] = [state('straight'), state('chunks')];
    expect(Object.keys(a.tensors).filter((n) => n.startsWith('text_'))).toEqual([]);
    expect(a.config.logit_mean).toBe(0.5); // --logit-mean: the noise levels it trains on lean high
    expect(a.config.weighting_scheme).toBe('uniform'); // --weighting: every noise level alike
    // Caption and shape use are measured on the weight average (what ships), not on the trained weights.
    const metrics = JSON.parse(readFileSync(join(dir, 'straight', 'work', 'metrics.json'), 'utf8')) as { captionUse: Array<{ step: number; captioned: number; weights?: string }>; validation: Array<{ step: number; loss: number }> };
    const last = metrics.captionUse.at(-1)!;
    expect(last.weights).toBe('average');
    expect(last.captioned).not.toBe(metrics.validation.find((v) => v.step === last.step)!.loss);
    expect(b.history.map((h) => h.loss)).toEqual(a.history.map((h) => h.loss));
    for (const [name, t] of Object.entries(a.tensors)) expect(b.tensors[name].data, name).toEqual(t.data);
    // A frozen encoder's word separation is a constant: measured at the first checkpoint only, across chunks too.
    const chunked = JSON.parse(readFileSync(join(dir, 'chunks', 'work', 'metrics.json'), 'utf8')) as { separation: Array<{ step: number }> };
    expect(chunked.separation.map((w) => w.step)).toEqual([5]);
    // The bundle's encoder is the seeded one, untouched.
    const out = join(dir, 'chunks', 'out');
    const shipped = loadBase(e, { manifest: readFileSync(join(out, 'model.json'), 'utf8'), transformer: new Uint8Array(readFileSync(join(out, 'transformer.safetensors'))), textEncoder: new Uint8Array(readFileSync(join(out, 'text_encoder.safetensors'))) });
    const fresh = randomBase(e, 'tiny', builtinVocabulary(8), 1, { adaLNZero: true });
    const [x, y] = [await shipped.textEncoder.toHost(), await fresh.textEncoder.toHost()];
    for (const [name, w] of x) expect(w.data, name).toEqual(y.get(name)!.data);
    releaseBase(shipped);
    releaseBase(fresh);
  });

  it('pretrain writes a bundle the studio loads, with a model card, and --resume continues', { timeout: 240_000 }, async () => {
    const e = await getEngine();
    const dir = mkdtempSync(join(tmpdir(), 'soar-pretrain-'));
    const out = join(dir, 'out');
    const work = join(dir, 'work');
    const common = ['--preset', 'tiny', '--batch', '2', '--checkpoint-every', '2', '--out', out, '--work', work, '--eval-prompts', '3', '--eval-steps', '2', '--chunk-eval-prompts', '2'];
    expect(await quiet(() => pretrainCommand(e, parseArgs([...common, '--steps', '2'])))).toBe(0);
    expect(checkpointFromBytes(new Uint8Array(readFileSync(join(work, 'checkpoint.safetensors')))).step).toBe(2);
    expect(await quiet(() => pretrainCommand(e, parseArgs([...common, '--steps', '4', '--resume'])))).toBe(0);
    const ck = checkpointFromBytes(new Uint8Array(readFileSync(join(work, 'checkpoint.safetensors'))));
    expect(ck.step).toBe(4);
    expect(ck.history.map((h) => h.step)).toEqual([1, 2, 3, 4]);
    for (const f of ['model.json', 'transformer.safetensors', 'text_encoder.safetensors', 'text_encoder.onnx', 'README.md', 'eval.json', 'samples.png', 'loss.png']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const manifest = readFileSync(join(out, 'model.json'), 'utf8');
    expect(parseManifest(manifest).id).toBe('tiny-base');
    const base = loadBase(e, { manifest, transformer: new Uint8Array(readFileSync(join(out, 'transformer.safetensors'))), textEncoder: new Uint8Array(readFileSync(join(out, 'text_encoder.safetensors'))) });
    releaseBase(base);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toContain('npm run soar -- pretrain --preset tiny');
    // --steps changed at the resume: the card gives both commands, the first stopping where the second began.
    expect(card).toContain('The recipe changed during the run');
    expect(card).toMatch(/npm run soar -- pretrain --preset tiny --batch 2 --checkpoint-every 2 --eval-prompts 3 --eval-steps 2 --steps 2 --stop-at 2\n/);
    expect(card).toMatch(/npm run soar -- pretrain --preset tiny --batch 2 --checkpoint-every 2 --eval-prompts 3 --eval-steps 2 --steps 4 --resume\n/);
    expect(card).toMatch(/Compute: 8 images in \d+\.\d{2} hours over 2 chunks/);
    expect(card).toMatch(/## Score against images seen/);
    expect(card).toMatch(/\| overall \| novel pairs \| in-distribution \|/);
    expect(card).toMatch(/Validation loss \(32 unseen broad images, fixed noise\): 2: \d\.\d{4}, 4: \d\.\d{4}/);
    // Caption use per checkpoint, the one before --resume kept: captioned vs empty-caption validation loss.
    expect(card).toMatch(/text encoder × 0\.1;/);
    expect(card).toMatch(/Caption use .*: 2: \d\.\d{4} captioned vs \d\.\d{4} empty, 4: \d\.\d{4} captioned vs \d\.\d{4} empty\./);
    const metrics = JSON.parse(readFileSync(join(work, 'metrics.json'), 'utf8')) as { captionUse: Array<{ step: number }>; separation: Array<{ step: number; color: number; shape: number }>; textEncoderLrScale: number };
    expect(metrics.captionUse.map((c) => c.step)).toEqual([2, 4]);
    // Word separation at every checkpoint: a random encoder already puts different words apart.
    expect(metrics.separation.map((w) => w.step)).toEqual([2, 4]);
    for (const w of metrics.separation) for (const d of [w.color, w.shape]) expect(d > 0 && Number.isFinite(d)).toBe(true);
    expect(card).toMatch(/Word separation .*: 2: \d+\.\d{2} \/ \d+\.\d{2}, 4: /);
    // Shape use: single-object images with their captions and with the shape word swapped, at every checkpoint
    // (equal here: two steps from an adaLN-zero start, the model reads no caption yet, as "empty" shows).
    const use = (metrics as unknown as { captionUse: Array<{ shapeRight: number; shapeSwapped: number }> }).captionUse;
    for (const u of use) expect(Number.isFinite(u.shapeRight) && Number.isFinite(u.shapeSwapped), JSON.stringify(use)).toBe(true);
    expect(card).toMatch(/Shape use .*: 2: \d\.\d{4} vs \d\.\d{4}, 4: /);
    expect(swapShape('a small red triangle')).toBe('a small red diamond');
    expect(swapShape('a photo of a diamond')).toBe('a photo of a circle');
    expect(metrics.textEncoderLrScale).toBe(0.1);
    const evaluated = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as { prompts: string[]; byStep: Array<{ steps: number }> };
    expect(evaluated.prompts.length).toBe(3);
    expect(evaluated.byStep[0].steps).toBe(2);
  });

  it('refuses bad recipe values (a negative text encoder lr scale, a logit mean or weighting that is not one) before training', async () => {
    const e = await getEngine();
    const dir = mkdtempSync(join(tmpdir(), 'soar-pretrain-'));
    await expect(pretrainCommand(e, parseArgs(['--preset', 'tiny', '--text-encoder-lr-scale', '-1', '--out', join(dir, 'o'), '--work', join(dir, 'w')]))).rejects.toThrow(/--text-encoder-lr-scale must be a number >= 0, got -1/);
    await expect(pretrainCommand(e, parseArgs(['--preset', 'tiny', '--logit-mean', 'high', '--out', join(dir, 'o'), '--work', join(dir, 'w')]))).rejects.toThrow(/logit_mean must be a number in \[-10, 10\], got NaN/);
    await expect(pretrainCommand(e, parseArgs(['--preset', 'tiny', '--weighting', 'cosine', '--out', join(dir, 'o'), '--work', join(dir, 'w')]))).rejects.toThrow(/weighting_scheme must be logit_normal or uniform/);
  });

  it('demo trains SFT, SOAR, SFT at equal compute, Flow-GRPO and SOAR then Flow-GRPO per seed and reports mean ± spread with each arm\'s compute', { timeout: 300_000 }, async () => {
    const e = await getEngine();
    const dir = mkdtempSync(join(tmpdir(), 'soar-demo-'));
    const baseDir = join(dir, 'base');
    await quiet(() => pretrainCommand(e, parseArgs(['--preset', 'tiny', '--steps', '2', '--batch', '2', '--out', baseDir, '--work', join(dir, 'work'), '--eval-prompts', '2', '--eval-steps', '1'])));
    const out = join(dir, 'demo');
    expect(await quiet(() => demoCommand(e, parseArgs(['--base', baseDir, '--out', out, '--seeds', '1,2', '--steps', '1', '--data', '8', '--prompts', '2', '--eval-steps', '1,2'])))).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      equalComputeSteps: number;
      soarStepCost: number;
      perSeed: Array<{ seed: number; arms: Record<string, { steps: number; validation: number; eval: { byStep: unknown[] } }> }>;
    };
    expect(report.perSeed.map((s) => s.seed)).toEqual([1, 2]);
    expect(report.equalComputeSteps).toBe(Math.round(report.soarStepCost));
    for (const s of report.perSeed) {
      expect(Object.keys(s.arms)).toEqual(['sft', 'soar', 'sft_equal_compute', 'grpo', 'soar_grpo']);
      // Compute per arm from each method's passes: Flow-GRPO spends far more per step than SFT.
      const compute = (k: string) => (s.arms[k] as unknown as { compute: { forwards: number; backwards: number } }).compute;
      expect(compute('grpo').forwards).toBeGreaterThan(compute('sft').forwards);
      expect(compute('soar_grpo')).toEqual(compute('grpo'));
      expect(s.arms.sft_equal_compute.steps).toBe(report.equalComputeSteps);
      for (const a of Object.values(s.arms)) {
        expect(Number.isFinite(a.validation)).toBe(true);
        expect(a.eval.byStep.length).toBe(2);
      }
      expect(existsSync(join(out, `seed-${s.seed}`, 'soar.lora.safetensors'))).toBe(true);
    }
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/\| SOAR \| 2 \| \d\.\d{3} ± \d\.\d{3} \|/);
    expect(md).toMatch(/\| SFT \(equal compute\) \| 1 \|/);
    expect(md).toMatch(/\| SOAR, then Flow-GRPO \| 2 \| -?\d\.\d{3} ± \d\.\d{3} \|/);
    expect(md).toMatch(/\| Flow-GRPO \| 1 \| \d[\d,]* \| \d[\d,]* \|/);
    expect(md).toContain('npm run demo -- --base');
    for (const f of ['loss-curves.png', 'samples.png']) expect(existsSync(join(out, f))).toBe(true);
  });

  it('demo says where the base comes from when it is missing', async () => {
    const e = await getEngine();
    await expect(demoCommand(e, parseArgs(['--base', join(tmpdir(), 'no-such-base')]))).rejects.toThrow(/no model.json.*npm run soar -- pretrain/);
  });

  it('meanStd: sample standard deviation, 0 for one value', () => {
    expect(meanStd([1, 2, 3])).toEqual({ mean: 2, std: 1 });
    expect(meanStd([5])).toEqual({ mean: 5, std: 0 });
  });
});
