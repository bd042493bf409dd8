// A sampling round of an online method (Flow-GRPO, docs/methods.md): micro-batches sampled by one policy, then
// trained over by several optimizer updates, as the reference trains `num_inner_epochs` passes over the
// `num_batches_per_epoch` batches it sampled, stepping every `gradient_accumulation_steps`. Each pass visits
// the round's samples in a fresh seeded order, re-batched into micro-batches of the sampled size (the reference
// reshuffles along the batch dimension before every inner epoch). What the trainer keeps of a round, and what
// a checkpoint taken in the middle of one stores to sample it again on resume.
import { LoraSet } from '../model/lora';
import { SeededRandom } from '../model/random';
import type { RngState } from '../tensor/ops/rng';
import type { Engine } from '../tensor/engine';
import type { PreparedRound } from './methods/method';

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
  /** The sampled micro-batches' host data, in sampled order. */
  hosts: B[];
  /** The round's samples as the method joined them (its advantages are the round's). */
  samples: PreparedRound;
  /** Optimizer updates the round makes: batches × passes / gradient_accumulation_steps. */
  updates: number;
  /** The policy that sampled the round, kept as it was while the updates move the LoRA (null: one update). */
  policy: LoraSet | null;
}

/**
 * The micro-batches of one pass over a round of `samples` samples cut into `batches` micro-batches: a seeded
 * permutation of the samples, from (seed, the round's first step, the pass), so a run resumed in the middle of a
 * round draws the same ones; each micro-batch lists its samples in ascending order (its loss is a mean over
 * them, so only which samples share a micro-batch, and which micro-batch comes when, is random; a round of one
 * micro-batch trains it exactly as sampled).
 */
export function passBatches(samples: number, batches: number, seed: number, roundStep: number, pass: number): number[][] {
  if (!Number.isInteger(samples / batches)) throw new Error(`a round of ${samples} samples does not split into ${batches} micro-batches`);
  const per = samples / batches;
  const rng = new SeededRandom(mix(mix(mix(0x52d3a1c7, seed), roundStep), pass));
  const p = Array.from({ length: samples }, (_, i) => i);
  for (let i = samples - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return Array.from({ length: batches }, (_, m) => p.slice(m * per, (m + 1) * per).sort((a, b) => a - b));
}

/** A 32-bit hash step (murmur3's finaliser over h ⊕ v): distinct rounds and passes get unrelated streams. */
function mix(h: number, v: number): number {
  h = (h ^ Math.imul(v >>> 0, 0xcc9e2d51)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
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
  round.samples.release();
  round.policy?.release();
}
