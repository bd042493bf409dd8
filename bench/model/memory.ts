// Peak GPU memory and wall time of one LoRA training step (src/train/step.ts + AdamW, as the Trainer runs it).
//
// Memory = the engine's buffer pool: bytes held by live tensors (size-class rounded, i.e. what the buffers
// really occupy). The pool only counts, it has no high-water mark, so while armed this wraps the pool's
// `acquire` (bench code must not change src/gpu) and records the maximum of `bytesInUse` after each one.
// Reported: the baseline before the step (weights, adapter, optimizer moments, the batch), the peak during the
// step, and their difference (activations saved for backward, gradients, rollout and aux states).
import type { BufferPool } from '../../src/gpu/pool';
import type { LoraSet } from '../../src/model/lora';
import type { MMDiT } from '../../src/model/mmdit';
import { zeroGrad } from '../../src/tensor/autograd';
import type { Engine } from '../../src/tensor/engine';
import { AdamW } from '../../src/tensor/ops/optim';
import { Rng } from '../../src/tensor/ops/rng';
import { DEFAULT_TRAIN, type Method, type TrainConfig } from '../../src/train/config';
import { trainStep } from '../../src/train/methods';
import { randomF32 } from '../lib/stats';

/** High-water mark of pool.bytesInUse while armed. */
class PeakTracker {
  peak = 0;
  private readonly acquire: BufferPool['acquire'];

  constructor(private readonly pool: BufferPool) {
    this.acquire = pool.acquire.bind(pool);
    // An own property shadows BufferPool.prototype.acquire for this pool only (removed by dispose).
    pool.acquire = (bytes, label) => {
      const buf = this.acquire(bytes, label);
      this.peak = Math.max(this.peak, pool.bytesInUse);
      return buf;
    };
    this.reset();
  }

  reset(): void {
    this.peak = this.pool.bytesInUse;
  }

  dispose(): void {
    delete (this.pool as Partial<Pick<BufferPool, 'acquire'>>).acquire;
  }
}

export interface StepMemory {
  method: Method;
  batch: number;
  /** SOAR: aux items in the step (trajectory_length per sample); 0 for SFT. */
  auxItems: number;
  trajectoryLength: number;
  baselineBytes: number;
  peakBytes: number;
  /** peak − baseline: what the step itself needs on top of the resident state. */
  stepBytes: number;
  /** What the pool holds after the two steps (live + free for reuse; it was trimmed before them). */
  allocatedBytes: number;
  /** Wall time of the measured step, recorded to completion (after one warm-up step). */
  ms: number;
}

/** Runs a warm-up step and one measured step of `method` on a frozen `model` with `lora` active. */
export async function measureStep(engine: Engine, model: MMDiT, lora: LoraSet, method: Method, B: number, T: number, K: number): Promise<StepMemory> {
  const c = model.config;
  const H = c.sample_size;
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN,
    method,
    train_batch_size: B,
    trajectory_length: K,
    rank: lora.config.rank,
    lora_alpha: lora.config.alpha,
    lora_targets: lora.config.targets,
  };
  const keep = (n: number, shape: number[], seed: number, name: string) => engine.keep(engine.fromArray(randomF32(n, seed), shape, name));
  const batch = {
    z0: keep(B * c.in_channels * H * H, [B, c.in_channels, H, H], 11, 'z0'),
    context: keep(B * T * c.joint_attention_dim, [B, T, c.joint_attention_dim], 12, 'context'),
    pooled: keep(B * c.pooled_projection_dim, [B, c.pooled_projection_dim], 13, 'pooled'),
  };
  const uncond = {
    context: keep(T * c.joint_attention_dim, [1, T, c.joint_attention_dim], 14, 'uncond.context'),
    pooled: keep(c.pooled_projection_dim, [1, c.pooled_projection_dim], 15, 'uncond.pooled'),
  };
  const params = lora.parameters();
  const optimizer = new AdamW(params, { lr: 1e-4 });
  const rng = new Rng(7);
  let auxItems = 0;
  const step = async () => {
    const loss = engine.scope(() => {
      const r = trainStep(model, batch, uncond, cfg, rng);
      auxItems = r.nAux;
      optimizer.step(1);
      zeroGrad(params);
      return r.loss;
    });
    await loss.item();
    loss.release();
    await engine.gpu.sync();
  };
  // Free buffers left by earlier work (the forward benchmark) go back to the driver, so that what the pool holds
  // after the steps is what training needs, fragmentation of its size classes included.
  await engine.gpu.sync();
  engine.gpu.pool.trim();
  const tracker = new PeakTracker(engine.gpu.pool);
  try {
    await step(); // pipelines, pool buffers, the optimizer's moments
    tracker.reset();
    const baselineBytes = engine.gpu.pool.bytesInUse;
    const t0 = performance.now();
    await step();
    const ms = performance.now() - t0;
    return {
      method,
      batch: B,
      auxItems,
      trajectoryLength: method === 'soar' ? K : 0,
      baselineBytes,
      peakBytes: tracker.peak,
      stepBytes: tracker.peak - baselineBytes,
      allocatedBytes: engine.gpu.pool.bytesCreated,
      ms,
    };
  } finally {
    tracker.dispose();
    optimizer.dispose();
    for (const t of [...Object.values(batch), ...Object.values(uncond)]) t.release();
  }
}
