// A sampling round of an online method (Flow-GRPO, docs/methods.md): micro-batches sampled by one policy, then
// trained over by several optimizer updates, as the reference trains `num_inner_epochs` passes over the
// `num_batches_per_epoch` batches it sampled, stepping every `gradient_accumulation_steps`. What the trainer
// keeps of a round, and what a checkpoint taken in the middle of one stores to sample it again on resume.
import { LoraSet } from '../model/lora';
import type { RngState } from '../tensor/ops/rng';
import type { Engine } from '../tensor/engine';
import type { Prepared } from './methods/method';

/** Where a round began: the step, the RNG and the data order its sampling started from. */
export interface RoundStart {
  step: number;
  rng: RngState;
  order: { epoch: number; cursor: number };
}

/**
 * A checkpoint's round in progress: its start and the LoRA that sampled it (by parameter name, as the
 * checkpoint's own tensors). A resumed trainer samples the round again from these and goes on with its updates.
 */
export interface RoundCheckpoint extends RoundStart {
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

export interface Round<B> {
  start: RoundStart;
  batches: Array<{ host: B; prepared: Prepared }>;
  /** Optimizer updates the round makes: batches × passes / gradient_accumulation_steps. */
  updates: number;
  /** The policy that sampled the round, kept as it was while the updates move the LoRA (null: one update). */
  policy: LoraSet | null;
}

/** A copy of a LoRA on the GPU (stream-ordered buffer copies, no readback): the policy a round sampled with. */
export function snapshotLora(engine: Engine, lora: LoraSet): LoraSet {
  const copy = new LoraSet(lora.name, lora.config);
  copy.strength = lora.strength;
  for (const m of lora.modules.values()) {
    copy.modules.set(m.name, { name: m.name, A: engine.keep(engine.clone(m.A)), B: engine.keep(engine.clone(m.B)) });
  }
  return copy;
}

export function releaseRound<B>(round: Round<B> | null): void {
  if (!round) return;
  for (const b of round.batches) b.prepared.release();
  round.policy?.release();
}
