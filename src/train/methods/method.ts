// The seam between the training loop and a post-training method. The loop (src/train/trainer.ts) owns what
// every method shares: data order, AdamW and its schedule, gradient accumulation, asynchronous metrics, NaN
// refusal, checkpoints and exact resume. A method owns the rest, in one module: its config fields with
// defaults and validation, what its batches read, one step's losses and metrics (with the adapters it trains
// passed explicitly), its cost and FLOPs, its curves and its form fields. docs/methods.md says what each does.
import type { SD3Config } from '../../model/config';
import type { LoraSet } from '../../model/lora';
import type { MMDiT } from '../../model/mmdit';
import type { Rng } from '../../tensor/ops/rng';
import type { Tensor } from '../../tensor/tensor';
import type { TrainConfig } from '../config';

export interface Batch {
  z0: Tensor; // [B, C, H, W]
  context: Tensor; // [B, T, J]
  pooled: Tensor; // [B, P]
}

/** The empty caption's encoding, [1, T, J] and [1, P]: CFG's unconditional branch and caption dropout. */
export interface Unconditional {
  context: Tensor;
  pooled: Tensor;
}

/** What a step is given besides its batch. */
export interface StepContext {
  model: MMDiT;
  /** The adapters the step's forwards use (the trained LoRA among them); never read from the model's state. */
  adapters: readonly LoraSet[];
  uncond: Unconditional;
  rng: Rng;
  /** Keep detached intermediate states for the trajectory view. */
  capture: boolean;
  /** The batch's captions (online RL samples for them and rewards what it draws). */
  prompts?: readonly string[];
  /** The adapters of the reference policy: `adapters` without the one being trained (the base, for a KL). */
  reference?: readonly LoraSet[];
}

/** One step's result: detached GPU scalars, read back by the loop while the next step is recorded. */
export interface MethodStep {
  /** The total loss the gradient was taken of. */
  loss: Tensor;
  /** The method's own curves by metric key (null: not measured this step). */
  scalars: Record<string, Tensor | null>;
  /** Host-side numbers per step (counts, rates), averaged over accumulated micro-batches. */
  counts: Record<string, number>;
}

/** A curve a method adds to the charts (its key is a field of the step metrics). */
export interface MethodMetric {
  key: string;
  title: string;
  hint: string;
}

/** A number field of the run form: a TrainConfig key with its label, range and a line of help. */
export interface FormField {
  key: keyof TrainConfig;
  label: string;
  /** One line under the field. */
  hint?: string;
  /** 'any' for a real number (the input takes 1e-4), absent for an integer. */
  step?: 'any';
  /** Shown under Advanced rather than in the method's own group. */
  advanced?: boolean;
  /** A choice among these strings (a select) instead of a number. */
  options?: readonly string[];
}

export interface StepCost {
  forwards: number;
  backwards: number;
  /** (forwards + 2·backwards) / 3: the step's cost relative to one SFT step (a backward ≈ two forwards). */
  relativeToSft: number;
}

/** One model pass of a step: its batch, and whether it runs backward (for the analytic FLOPs). */
export interface StepPass {
  what: string;
  batch: number;
  backward: boolean;
  /**
   * How many times the pass runs in a step (default 1): e.g. once per sampling step. May be fractional: work a
   * step shares with others (a sampling round trained over several passes) counts its share.
   */
  count?: number;
}

/**
 * What the page needs of a method (the form, charts, costs): pure data and arithmetic, so the page bundle
 * does not carry the engine. The catalog (catalog.ts) lists these; the registry (index.ts) the full methods.
 */
export interface MethodInfo {
  readonly id: string;
  /** Short name on tags, charts and buttons. */
  readonly label: string;
  /** One line for the run form. */
  readonly summary: string;
  /** What the method's config fields default to (the loop's own fields come from DEFAULT_TRAIN). */
  readonly defaults: Partial<TrainConfig>;
  /** Problems with the method's own fields, each naming the field and what is allowed. */
  validate(c: TrainConfig): string[];
  /** Transformer passes of one step at `batch` samples (upper bounds where the count is random). */
  passes(cfg: TrainConfig, batch: number): StepPass[];
  /** Curves beyond the loop's own (loss, validation, grad norm, lr, speed). */
  readonly metrics: readonly MethodMetric[];
  /** Form fields beyond the shared ones. */
  readonly formFields: readonly FormField[];
  /**
   * A method that samples before its gradient (`prepare`): how many micro-batches one sampling round holds (a
   * multiple of gradient_accumulation_steps) and how many passes the updates make over it, each in a fresh
   * seeded order of the round's samples. Updates after a round's first train on what an older policy sampled.
   * Absent: one round per update, sampled by its policy.
   */
  round?(cfg: TrainConfig): { batches: number; passes: number };
}

export interface TrainingMethod<R extends MethodStep = MethodStep> extends MethodInfo {
  /**
   * Work a step needs before its gradient that reads results back (online RL: sample a group, score it). Runs
   * outside the step's scope, once per micro-batch of a sampling round; `joinRound` joins the round's, and
   * `step` gets micro-batches of the joined round as `ctx.prepared`. The loop releases the round when its
   * updates are done. Methods that only record GPU work (SFT, SOAR) have none.
   */
  prepare?(batch: Batch, cfg: TrainConfig, ctx: StepContext): Promise<Prepared>;
  /**
   * A method with `prepare` joins a round's prepared micro-batches, once all are sampled, into the round's samples
   * (taking them over: the loop releases only what this returns). What depends on the whole round is computed
   * here (Flow-GRPO: advantages over the round); the loop then hands `step` micro-batches of the round's
   * samples in each pass's order (round.ts passBatches).
   */
  joinRound?(parts: Prepared[], cfg: TrainConfig): PreparedRound;
  /** Records one micro-batch's forwards and backward; gradients accumulate into the trainable tensors. */
  step(batch: Batch, cfg: TrainConfig, ctx: StepContext & { prepared?: Prepared }): R;
}

/** What `prepare` hands to `step`: GPU tensors it kept (released by the loop after the step) and host data. */
export interface Prepared {
  release(): void;
}

/** A sampling round's samples, joined from its prepared micro-batches (`joinRound`). */
export interface PreparedRound {
  /** How many samples the round holds (every sampled micro-batch the same number). */
  readonly samples: number;
  /**
   * One micro-batch of the round's samples (indices into the round, ascending), as `step` takes it: a view of
   * the round's tensors, owned by the round (its `release` frees nothing).
   */
  batch(samples: readonly number[]): Prepared;
  release(): void;
}

/** The step's cost from its passes, relative to SFT's one forward and one backward. */
export function costOf(passes: readonly StepPass[], batch: number): StepCost {
  const forwards = passes.reduce((n, p) => n + ((p.count ?? 1) * p.batch) / batch, 0);
  const backwards = passes.reduce((n, p) => n + (p.backward ? ((p.count ?? 1) * p.batch) / batch : 0), 0);
  return { forwards, backwards, relativeToSft: (forwards + 2 * backwards) / 3 };
}

export type { SD3Config };
