// The rollout-trajectory view: for one watched run, every few steps the trainer's step is recorded with capture
// on, and sample 0 of the batch becomes a TrajectoryFrame: z0, z_sigma0, the rollout state ẑ1, and for each of
// its re-noised aux states z' (sigma'), the correction target v_corr and the clean estimate x̂0 = z' − sigma'·v'
// of the model's prediction v'. A run that is not stepping (paused, done) gets one frame computed on its first
// batch without an update, so the view is never empty.
//
// Display: states and x̂0 are images in [-1, 1] as they are; v_corr is a velocity (|v| reaches 3 and more), so
// it is drawn divided by its own max |v|: its structure shows, its scale does not.
import { uploadEmbeddings, type EmbeddingCache } from '../encode/cache';
import type { LoraSet } from '../model/lora';
import type { MMDiT } from '../model/mmdit';
import { zeroGrad } from '../tensor/autograd';
import type { Engine } from '../tensor/engine';
import { Rng } from '../tensor/ops/rng';
import type { Tensor } from '../tensor/tensor';
import type { TrainConfig } from '../train/config';
import { trainStep, type SampledGroups } from '../train/methods';
import type { MethodStep } from '../train/methods/method';
import type { StepResult } from '../train/step';
import type { TrainingData } from '../train/trainer';
import { batchImage, maxAbs } from './images';
import type { GroupFrame, TrajectoryFrame } from './protocol';

/** Steps between two frames of the watched run (a capture costs a few readbacks of batch-sized tensors). */
export const TRAJECTORY_EVERY = 5;

/** What a capture keeps past the step's scope: GPU tensors (released after the readback) and host values. */
export interface KeptCapture {
  tensors: { z0: Tensor; zSigma0: Tensor; rollout: Tensor | null; auxStates: Tensor | null; auxTargets: Tensor | null; auxPredictions: Tensor | null };
  sigma0: Float32Array;
  sigma1: Float32Array | null;
  aux: Array<{ sample: number; sigma: number }>;
}

/**
 * Call inside the step's scope (trainStep's capture callback): keeps the captured tensors alive. Only the
 * flow-matching methods (SFT, SOAR) have a rollout to show; any other step gives null.
 */
export function keepCapture(engine: Engine, step: MethodStep): KeptCapture | null {
  const r = step as Partial<StepResult>;
  const c = r.capture;
  if (!c || !r.sigma0 || !r.aux) return null;
  const keep = (t: Tensor | null) => (t ? engine.keep(t) : null);
  return {
    tensors: {
      z0: engine.keep(c.z0),
      zSigma0: engine.keep(c.zSigma0),
      rollout: keep(c.rollout),
      auxStates: keep(c.auxStates),
      auxTargets: keep(c.auxTargets),
      auxPredictions: keep(c.auxPredictions),
    },
    sigma0: r.sigma0,
    sigma1: r.sigma1 ?? null,
    aux: r.aux.map((a) => ({ sample: a.sample, sigma: a.sigma })),
  };
}

export function releaseCapture(k: KeptCapture): void {
  for (const t of Object.values(k.tensors)) t?.release();
}

/** Reads a capture back and builds the frame of sample 0; releases the tensors whatever happens. */
export async function captureToFrame(k: KeptCapture, runId: string, step: number): Promise<TrajectoryFrame> {
  try {
    const t = k.tensors;
    const read = async (x: Tensor | null) => (x ? { data: await x.toArray(), shape: [...x.shape] } : null);
    const [z0, zs, rollout, states, targets, preds] = await Promise.all([read(t.z0), read(t.zSigma0), read(t.rollout), read(t.auxStates), read(t.auxTargets), read(t.auxPredictions)]);
    const per = z0!.shape.slice(1).reduce((a, b) => a * b, 1);
    const aux: TrajectoryFrame['aux'] = [];
    k.aux.forEach((a, i) => {
      if (a.sample !== 0 || !states || !targets) return;
      const predicted = new Float32Array(per);
      if (preds) for (let j = 0; j < per; j++) predicted[j] = states.data[i * per + j] - a.sigma * preds.data[i * per + j];
      aux.push({
        sigma: a.sigma,
        state: batchImage(states.data, states.shape, i),
        target: batchImage(targets.data, targets.shape, i, maxAbs(targets.data, i * per, per)),
        predictedX0: batchImage(predicted, [1, ...states.shape.slice(1)], 0),
      });
    });
    return {
      runId,
      step,
      sigma0: k.sigma0[0],
      sigma1: k.sigma1 ? k.sigma1[0] : null,
      z0: batchImage(z0!.data, z0!.shape, 0),
      zSigma0: batchImage(zs!.data, zs!.shape, 0),
      rollout: rollout ? batchImage(rollout.data, rollout.shape, 0) : null,
      aux,
    };
  } finally {
    releaseCapture(k);
  }
}

/** Which run is watched, and whether a step should capture. */
export class TrajectoryWatch {
  runId: string | null = null;
  constructor(readonly every = TRAJECTORY_EVERY) {}

  wants(runId: string, stepAboutToRun: number): boolean {
    return this.runId === runId && stepAboutToRun % this.every === 0;
  }
}

/**
 * A frame for a run that is not stepping: its first batch through the SOAR/SFT step with capture on, with a
 * fixed seed, then the gradients are thrown away (no optimizer step: the run's weights and state are untouched).
 * The caller holds the model lock and has set `model.adapters = [lora]`.
 */
export async function idleCapture(engine: Engine, model: MMDiT, lora: LoraSet, data: TrainingData, embeddings: EmbeddingCache, cfg: TrainConfig): Promise<KeptCapture | null> {
  const B = Math.min(cfg.train_batch_size, data.size);
  if (B === 0) return null;
  const examples = Array.from({ length: B }, (_, i) => data.example(i));
  const emb = await embeddings.stacked(examples.map((x) => x.caption));
  const u = await embeddings.stacked(['']);
  const per = examples[0].image.length;
  const side = Math.round(Math.sqrt(per / model.config.in_channels));
  const z = new Float32Array(per * B);
  examples.forEach((x, i) => z.set(x.image, i * per));
  let kept: KeptCapture | null = null;
  engine.scope(() => {
    const batch = {
      z0: engine.fromArray(z, [B, model.config.in_channels, side, side], 'z0'),
      ...uploadEmbeddings(engine, emb),
    };
    const uncond = uploadEmbeddings(engine, u);
    const r = trainStep(model, batch, uncond, cfg, new Rng(cfg.seed + 0x7a3c), { capture: true });
    kept = keepCapture(engine, r);
  });
  zeroGrad(lora.parameters());
  return kept;
}

/** Flow-GRPO's sampled groups as images with their rewards and advantages (the first four prompts). */
export function groupFrame(g: SampledGroups, runId: string, step: number): GroupFrame {
  const [C, H, W] = g.shape;
  const shape = [g.rewards.length, C, H, W];
  return {
    runId,
    step,
    groups: g.prompts.slice(0, 4).map((prompt, p) => ({
      prompt,
      samples: Array.from({ length: g.perPrompt }, (_, j) => {
        const i = p * g.perPrompt + j;
        return { image: batchImage(g.images, shape, i), reward: g.rewards[i], advantage: g.advantages[i] };
      }),
    })),
  };
}
