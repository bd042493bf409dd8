// The training loop around `trainStep`: data order, text embeddings, AdamW with the LR schedule, gradient
// accumulation, asynchronous metrics, NaN refusal, a fixed-seed validation loss, and checkpoints that resume
// exactly (weights, Adam moments, step, RNG counter, data order).
//
// A step records its GPU work and returns; its metrics are read back while the next step is recorded, so the
// GPU never idles waiting for the CPU to look at a loss.
import { uploadEmbeddings, type EmbeddingCache, type StackedEmbeddings } from '../encode/cache';
import type { TextEncoderModel } from '../encode/text-encoder';
import type { TokenBatch, Tokenizer } from '../encode/tokenizer';
import { zeroGrad } from '../tensor/autograd';
import type { Engine } from '../tensor/engine';
import { AdamW } from '../tensor/ops/optim';
import { Rng } from '../tensor/ops/rng';
import { lerp, sub } from '../tensor/ops/elementwise';
import { mean, perSampleMse } from '../tensor/ops/reduce';
import type { Tensor } from '../tensor/tensor';
import { LoraSet } from '../model/lora';
import type { MMDiT } from '../model/mmdit';
import { SeededRandom } from '../model/random';
import { learningRate, validateTrainConfig, type TrainConfig } from './config';
import { sampleT, shiftSigma, timestepOf } from './schedule';
import { methodOf, trainStepFlops } from './methods';
import type { MethodStep, Prepared, StepContext, TrainingMethod, Unconditional } from './methods/method';
import { loraFromCheckpoint, loraTensors } from './checkpoint-lora';
import { passBatches, releaseRound, snapshotLora, type Round, type RoundCheckpoint } from './round';

export interface TrainingExample {
  /** [C, H, W] in [-1, 1] at the model's resolution. */
  image: Float32Array;
  caption: string;
}

export interface TrainingData {
  readonly size: number;
  example(index: number): TrainingExample;
}

/**
 * One optimizer step as the loop records it: its own fields, plus each of the method's scalars and counts under
 * the method's metric keys (SFT and SOAR: loss_main, loss_aux, aux_per_sample; the names histories always had).
 */
export interface StepMetrics {
  step: number;
  loss: number;
  /** SFT and SOAR: the flow-matching loss per sample. */
  loss_main?: number;
  /** SOAR: the correction loss per aux item (null on steps without aux items). */
  loss_aux?: number | null;
  aux_per_sample?: number;
  grad_norm: number;
  lr: number;
  ms_per_step: number;
  /**
   * GFLOP/s of the step: the denoiser's analytic FLOPs (src/model/flops.ts trainStepFlops: forwards and
   * backwards of every pass) over ms_per_step, as llm.c reports MFU. Absent in histories from older runs.
   */
  gflops?: number;
  skipped: boolean;
  /** A method's other metrics by key (null: not measured that step). */
  [metric: string]: number | boolean | null | undefined;
}

export class NonFiniteLossError extends Error {
  constructor(readonly step: number, what: string) {
    super(`step ${step}: ${what} is not finite (NaN or Inf); the update was refused and training stopped. ` +
      'The last checkpoint is intact. Lower the learning rate or max_grad_norm, or check the data, then resume.');
    this.name = 'NonFiniteLossError';
  }
}

/** A batch on the host: cached caption embeddings, or token ids when the text encoder trains in the step. */
interface HostBatch {
  examples: TrainingExample[];
  embedded?: StackedEmbeddings;
  tokens?: TokenBatch;
}

export interface DataOrder {
  epoch: number;
  cursor: number;
}

export interface Checkpoint {
  config: TrainConfig;
  step: number;
  rng: { seed: [number, number]; counter: string };
  order: DataOrder;
  /** Trainable tensors by name (LoRA A/B in post-training, every base weight in pretraining). */
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
  /** Adam's state; `ema`: the parameters' moving average when the run keeps one (pretraining's emaDecay). */
  adam: { steps: number[]; m: Float32Array[]; v: Float32Array[]; ema?: Float32Array[] };
  history: StepMetrics[];
  validation: Array<{ step: number; loss: number }>;
  /** Taken in the middle of an online method's sampling round: what samples that round again (round.ts). */
  round?: RoundCheckpoint;
}

export interface TrainerOptions {
  /** Examples the validation loss is measured on (default: the first 8 training examples). */
  validation?: TrainingData;
  validationCount?: number;
  /**
   * Pretraining (train_mode 'full'): the text encoder runs inside every step with gradient and trains with the
   * denoiser, so captions are tokenised, not looked up in the embedding cache (which would be stale).
   * `lrScale` multiplies the encoder's learning rate (default 1): see PRETRAIN_DEFAULTS for why it is lower.
   */
  textEncoder?: { model: TextEncoderModel; tokenizer: Tokenizer; lrScale?: number };
  /**
   * Keeps an exponential moving average of every trainable parameter with this decay (0: none), updated after
   * each applied step and saved in checkpoints; pretraining samples and ships the average (emaWeights).
   */
  emaDecay?: number;
  /**
   * Adapters under the trained LoRA (an earlier stage's, e.g. SOAR before Flow-GRPO): on in every forward of
   * this trainer, and part of the KL's reference policy. The trainer neither trains nor releases them.
   */
  under?: readonly LoraSet[];
}

/** Fixed seed of the validation draws: the same noise and t for every run and every method. */
const VALIDATION_SEED = 0x5eed;

export class Trainer {
  step = 0;
  readonly history: StepMetrics[] = [];
  readonly validation: Array<{ step: number; loss: number }> = [];
  readonly lora: LoraSet | null;
  readonly method: TrainingMethod;
  private readonly optimizer: AdamW;
  private rng: Rng;
  private order: DataOrder = { epoch: 0, cursor: 0 };
  private permutation: Uint32Array;
  private lastStepEnd = 0;
  /** Analytic FLOPs of one optimizer step (set at the first step, from the batch's shapes). */
  private stepFlops: number | undefined;
  private stopped: Error | null = null;
  /** An online method's sampling round whose updates are not all done (round.ts). */
  private round: Round<HostBatch> | null = null;
  /** A restored checkpoint's round in progress, sampled again at the next step. */
  private replay: RoundCheckpoint | null = null;

  private constructor(
    readonly engine: Engine,
    readonly model: MMDiT,
    readonly embeddings: EmbeddingCache,
    readonly data: TrainingData,
    readonly config: TrainConfig,
    /** The empty caption's embedding; null when the text encoder trains in the step (encoded every step). */
    private readonly uncond: Unconditional | null,
    private readonly opts: TrainerOptions,
  ) {
    const errs = validateTrainConfig(config);
    if (errs.length) throw new Error(`invalid training config: ${errs.join('; ')}`);
    if (data.size === 0) throw new Error('the dataset is empty: add images with captions');
    this.method = methodOf(config.method);
    if (this.method.prepare && !this.method.joinRound) throw new Error(`method ${this.method.id} samples before its gradient (prepare) but does not join its rounds (joinRound)`);
    if (opts.textEncoder && config.train_mode !== 'full') throw new Error('training the text encoder needs train_mode "full" (pretraining); LoRA runs use the frozen encoder');
    opts.textEncoder?.model.setTrainable(true);
    if (config.train_mode === 'lora') {
      model.setTrainable(false);
      this.lora = LoraSet.create(engine, config.method, model.config, { rank: config.rank, alpha: config.lora_alpha, targets: config.lora_targets }, config.seed);
    } else {
      model.setTrainable(true);
      this.lora = null;
    }
    this.optimizer = new AdamW(this.parameters(), {
      lr: config.learning_rate,
      beta1: config.adam_beta1,
      beta2: config.adam_beta2,
      eps: config.adam_epsilon,
      weightDecay: config.adam_weight_decay,
      maxGradNorm: config.max_grad_norm,
    }, this.parameterLrScales(), opts.emaDecay ?? 0);
    this.rng = new Rng(config.seed);
    this.permutation = epochPermutation(data.size, config.seed, 0);
  }

  static async create(engine: Engine, model: MMDiT, embeddings: EmbeddingCache, data: TrainingData, config: TrainConfig, opts: TrainerOptions = {}): Promise<Trainer> {
    if (opts.textEncoder) return new Trainer(engine, model, embeddings, data, config, null, opts);
    const u = await embeddings.unconditional();
    const uncond: Unconditional = {
      context: engine.keep(engine.fromArray(u.context, [1, u.context.length / model.config.joint_attention_dim, model.config.joint_attention_dim], 'uncond.context')),
      pooled: engine.keep(engine.fromArray(u.pooled, [1, u.pooled.length], 'uncond.pooled')),
    };
    return new Trainer(engine, model, embeddings, data, config, uncond, opts);
  }

  /** The optimiser's parameter groups: the denoiser (or LoRA) at the configured lr, the text encoder scaled. */
  private parameterLrScales(): number[] {
    const encoder = new Set(this.opts.textEncoder?.model.parameters() ?? []);
    return this.parameters().map((p) => (encoder.has(p) ? (this.opts.textEncoder?.lrScale ?? 1) : 1));
  }

  parameters(): Tensor[] {
    if (this.lora) return this.lora.parameters();
    return [...this.model.parameters(), ...(this.opts.textEncoder?.model.parameters() ?? [])];
  }

  get done(): boolean {
    return this.step >= this.config.max_train_steps;
  }

  /**
   * Records and submits one optimizer step (gradient_accumulation_steps micro-batches). Resolves as soon as the
   * work is submitted, with a promise of the step's metrics that settles when the GPU has produced them, so the
   * caller can record the next step meanwhile. The metrics promise rejects with NonFiniteLossError on NaN/Inf
   * (the update itself was refused on the GPU), and later steps refuse to run.
   */
  async trainStep(opts: { capture?: (r: MethodStep) => void } = {}): Promise<{ metrics: Promise<StepMetrics> }> {
    if (this.stopped) throw this.stopped;
    const cfg = this.config;
    const step = this.step;
    const lr = learningRate(cfg, step);
    this.optimizer.hp.lr = lr;
    if (this.method.prepare) return this.onlineStep(opts, step, lr);
    const hostBatches: HostBatch[] = [];
    for (let a = 0; a < cfg.gradient_accumulation_steps; a++) hostBatches.push(await this.nextBatch());
    return this.recordStep(hostBatches, [], (hb) => this.context(hb, Boolean(opts.capture)), opts, step, lr);
  }

  private context(hb: HostBatch, capture: boolean): StepContext {
    return {
      model: this.model,
      adapters: this.adapters(),
      reference: this.adapters().filter((a) => a !== this.lora),
      uncond: this.unconditional(),
      rng: this.rng,
      capture,
      prompts: hb.examples.map((x) => x.caption),
    };
  }

  /**
   * A step of a method that reads results back before its gradient (online RL: sample, then score). It samples
   * a round of micro-batches when none is under way (outside the step's scope), then trains the update's
   * gradient_accumulation_steps of them: update u of a round takes its micro-batches u·accum … u·accum +
   * accum − 1, counted over the round's passes. Each pass cuts the round's samples into micro-batches of the
   * sampled size in its own seeded order (round.ts passBatches). With one update per round (the default) this is
   * sampling and training the same micro-batch, as before rounds.
   */
  private async onlineStep(opts: { capture?: (r: MethodStep) => void }, step: number, lr: number): Promise<{ metrics: Promise<StepMetrics> }> {
    const round = this.round ?? (this.round = await this.sampleRound());
    const accum = this.config.gradient_accumulation_steps;
    const u = step - round.start.step;
    const picks = Array.from({ length: accum }, (_, a) => this.microBatch(round, u * accum + a));
    let result: { metrics: Promise<StepMetrics> };
    try {
      result = await this.recordStep(picks.map((b) => b.host), picks.map((b) => b.prepared), (hb) => this.context(hb, Boolean(opts.capture)), opts, step, lr);
    } catch (err) {
      this.endRound(); // the step did not happen: the next one samples afresh
      throw err;
    }
    if (u + 1 >= round.updates) this.endRound();
    return result;
  }

  /**
   * The k-th micro-batch a round trains (counted over its passes): the pass's k-th cut of the round's samples. The
   * host batch at that position only sizes the step (a prepared method's step reads its samples from `prepared`).
   */
  private microBatch(round: Round<HostBatch>, k: number): { host: HostBatch; prepared: Prepared } {
    const n = round.hosts.length;
    const cuts = passBatches(round.samples.samples, n, this.config.seed, round.start.step, Math.floor(k / n));
    return { host: round.hosts[k % n], prepared: round.samples.batch(cuts[k % n]) };
  }

  private async sampleRound(): Promise<Round<HostBatch>> {
    const e = this.engine;
    const cfg = this.config;
    const accum = cfg.gradient_accumulation_steps;
    const shape = this.method.round?.(cfg) ?? { batches: accum, passes: 1 };
    const updates = (shape.batches * shape.passes) / accum;
    if (!Number.isInteger(updates) || updates < 1) throw new Error(`a sampling round of ${shape.batches} micro-batches and ${shape.passes} passes does not split into updates of ${accum}`);
    // Resuming in the middle of a round: sample it again from where it began, with the policy that sampled it.
    const replay = this.replay;
    this.replay = null;
    const resumed = replay ? { rng: this.rng.toJSON(), order: { ...this.order } } : null;
    if (replay) this.seek(Rng.fromJSON(replay.rng), replay.order);
    const start = { step: replay?.step ?? this.step, rng: this.rng.toJSON(), order: { ...this.order } };
    // The later updates move the LoRA; the round keeps the policy it was sampled with (a checkpoint stores it).
    let policy: Round<HostBatch>['policy'] = null;
    if (updates > 1 && this.lora) policy = replay ? loraFromCheckpoint(e, this.model.config, cfg, replay, this.lora.name) : snapshotLora(e, this.lora);
    const adapters = policy ? [...this.adapters().filter((a) => a !== this.lora), policy] : this.adapters();
    const hosts: HostBatch[] = [];
    for (let b = 0; b < shape.batches; b++) hosts.push(await this.nextBatch());
    const prepared: Prepared[] = [];
    let round: Round<HostBatch>;
    try {
      for (const host of hosts) {
        const batch = e.scope(() => this.upload(host));
        try {
          prepared.push(await this.method.prepare!(batch, cfg, { ...this.context(host, false), adapters }));
        } finally {
          for (const t of Object.values(batch)) t.release();
        }
      }
      // What needs the whole round (Flow-GRPO's advantages) is computed once all of it is sampled.
      round = { start, hosts, samples: this.method.joinRound!(prepared, cfg), updates, policy };
    } catch (err) {
      for (const p of prepared) p.release();
      policy?.release();
      throw err;
    }
    if (resumed) {
      const now = this.rng.toJSON();
      if (now.counter !== resumed.rng.counter || this.order.epoch !== resumed.order.epoch || this.order.cursor !== resumed.order.cursor) {
        releaseRound(round);
        throw new Error(`the checkpoint's sampling round does not replay to its own state (RNG ${now.counter} vs ${resumed.rng.counter}, data ${this.order.epoch}:${this.order.cursor} vs ${resumed.order.epoch}:${resumed.order.cursor}): it was made with other data or config`);
      }
    }
    return round;
  }

  private endRound(): void {
    releaseRound(this.round);
    this.round = null;
  }

  /** Sets the RNG and the data order (with its epoch's permutation). */
  private seek(rng: Rng, order: DataOrder): void {
    this.rng = rng;
    this.order = { ...order };
    this.permutation = epochPermutation(this.data.size, this.config.seed, this.order.epoch);
  }

  private async recordStep(
    hostBatches: HostBatch[],
    prepared: Array<Prepared | undefined>,
    context: (hb: HostBatch) => StepContext,
    opts: { capture?: (r: MethodStep) => void },
    step: number,
    lr: number,
  ): Promise<{ metrics: Promise<StepMetrics> }> {
    const e = this.engine;
    const cfg = this.config;
    const accum = cfg.gradient_accumulation_steps;
    const reads = e.scope(() => {
      const parts: MethodStep[] = [];
      hostBatches.forEach((hb, a) => {
        const batch = this.upload(hb);
        this.stepFlops ??= accum * trainStepFlops(this.model.config, { batch: batch.z0.shape[0], height: batch.z0.shape[2], width: batch.z0.shape[3], tokens: batch.context.shape[1] }, cfg).total;
        const r = this.method.step(batch, cfg, { ...context(hb), prepared: prepared[a] });
        // The metrics outlive the scope until they are read back (the scope keeps only shallow results).
        for (const t of [r.loss, ...Object.values(r.scalars)]) if (t) e.keep(t);
        opts.capture?.(r);
        parts.push(r);
      });
      const report = this.optimizer.step(1 / accum);
      zeroGrad(this.parameters());
      return { parts, report };
    });
    this.step++;
    const now = performance.now();
    const ms = this.lastStepEnd ? now - this.lastStepEnd : 0;
    this.lastStepEnd = now;
    // Issue the reads now (this submits the step); await them only in the returned promise.
    const valuesP = Promise.all(reads.parts.map(async (p) => ({ loss: await p.loss.item(), scalars: await readScalars(p.scalars) })));
    const optP = reads.report.read();
    const metrics = (async (): Promise<StepMetrics> => {
      const [values, opt] = await Promise.all([valuesP, optP]);
      for (const t of new Set(reads.parts.flatMap((p) => [p.loss, ...Object.values(p.scalars)]))) t?.release();
      reads.report.norm.release();
      reads.report.skipped.release();
      const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      // A method's scalar averages the micro-batches that measured it (null when none did); counts average all.
      const own: Record<string, number | null> = {};
      for (const key of Object.keys(reads.parts[0].scalars)) {
        const measured = values.map((v) => v.scalars[key]).filter((v): v is number => v !== null);
        own[key] = measured.length ? avg(measured) : null;
      }
      for (const key of Object.keys(reads.parts[0].counts)) own[key] = avg(reads.parts.map((p) => p.counts[key]));
      const m: StepMetrics = {
        step: step + 1,
        loss: avg(values.map((v) => v.loss)),
        ...own,
        grad_norm: opt.norm,
        lr,
        ms_per_step: ms,
        gflops: ms > 0 && this.stepFlops ? this.stepFlops / ms / 1e6 : 0,
        skipped: opt.skipped,
      };
      if (opt.skipped || !Number.isFinite(m.loss)) {
        this.stopped = new NonFiniteLossError(step + 1, opt.skipped ? 'the gradient norm' : 'the loss');
        throw this.stopped;
      }
      // Reads of consecutive steps may settle out of order: keep the history sorted by step.
      let at = this.history.length;
      while (at > 0 && this.history[at - 1].step > m.step) at--;
      this.history.splice(at, 0, m);
      return m;
    })();
    metrics.catch(() => undefined); // the caller sees the rejection; this only avoids an unhandled-rejection report
    return { metrics };
  }

  /** Runs steps until `max_train_steps` (or `count` more), keeping one step of metrics in flight. */
  async run(count = Infinity, onMetrics?: (m: StepMetrics) => void): Promise<void> {
    let pending: Promise<StepMetrics> | null = null;
    // Await each step's metrics even without a callback: they carry the NaN refusal, and the history must be
    // complete when run() returns (`onMetrics?.(await x)` would skip the await when there is no callback).
    const settle = async (p: Promise<StepMetrics>) => {
      const m = await p;
      onMetrics?.(m);
    };
    for (let i = 0; i < count && !this.done; i++) {
      const { metrics } = await this.trainStep();
      if (pending) await settle(pending);
      pending = metrics;
    }
    if (pending) await settle(pending);
  }

  /**
   * The flow-matching (SFT) loss on the validation examples with fixed noise and t, without gradient: the same
   * draws for every run, so SFT and SOAR curves are comparable. Variants for probes (not recorded in the
   * validation history): every caption empty (the difference to the captioned loss is how much the model reads
   * its captions), other images (`data`, the first `count` of them), each caption rewritten (`caption`, e.g.
   * with a word swapped: a loss that does not rise means the model ignores that word), or every image at one
   * noise level (`sigma`, after the shift: where in the noise range a model fails).
   */
  async validationLoss(opts: { emptyCaptions?: boolean; data?: TrainingData; count?: number; caption?: (caption: string) => string; sigma?: number } = {}): Promise<number> {
    const e = this.engine;
    const data = opts.data ?? this.opts.validation ?? this.data;
    const n = Math.min(opts.count ?? this.opts.validationCount ?? 8, data.size);
    const examples = Array.from({ length: n }, (_, i) => data.example(i));
    const captions = await this.hostCaptions(examples.map((x) => (opts.emptyCaptions ? '' : opts.caption ? opts.caption(x.caption) : x.caption)));
    const rng = new Rng(VALIDATION_SEED);
    const loss = e.noGrad(() =>
      e.scope(() => {
        const z0 = this.imageBatch(examples);
        const z1 = rng.randn(e, z0.shape, 'val.z1');
        const normals = rng.randnHost(n);
        const uniforms = rng.randHost(n);
        const sigma = Float32Array.from({ length: n }, (_, i) => opts.sigma ?? shiftSigma(sampleT(this.config.weighting_scheme, normals[i], uniforms[i], this.config.logit_mean, this.config.logit_std), this.config.shift));
        const v = this.model.forward(
          {
            x: lerp(z0, z1, e.fromArray(sigma, [n])),
            timestep: e.fromArray(sigma.map(timestepOf), [n]),
            ...this.encoded(captions),
          },
          this.adapters(),
        );
        return mean(perSampleMse(v, sub(z1, z0)));
      }),
    );
    const value = await loss.item();
    loss.release();
    if (!opts.emptyCaptions && !opts.data && !opts.caption && opts.count === undefined && opts.sigma === undefined) this.validation.push({ step: this.step, loss: value });
    return value;
  }

  async checkpoint(): Promise<Checkpoint> {
    const tensors: Checkpoint['tensors'] = {};
    for (const t of this.parameters()) tensors[t.name] = { shape: [...t.shape], data: await t.toArray() };
    const rng = this.rng.toJSON();
    return {
      config: this.config,
      step: this.step,
      rng: { seed: [rng.seed[0], rng.seed[1]], counter: rng.counter },
      order: { ...this.order },
      tensors,
      adam: await this.optimizer.state(),
      history: [...this.history],
      validation: [...this.validation],
      // In the middle of a round, what samples it again (the policy it was sampled with, where it began).
      ...(this.round?.policy && this.step > this.round.start.step ? { round: { ...this.round.start, tensors: await loraTensors(this.round.policy) } } : {}),
    };
  }

  /** The moving average of every trainable parameter, by name (null when the trainer keeps none). */
  async emaWeights(): Promise<Map<string, Float32Array> | null> {
    const ema = (await this.optimizer.state()).ema;
    if (!ema) return null;
    return new Map(this.parameters().map((p, k) => [p.name, ema[k]]));
  }

  /** Restores a checkpoint taken from a trainer with the same config and data: the run continues exactly. */
  restore(ck: Checkpoint): void {
    const params = this.parameters();
    for (const p of params) {
      const saved = ck.tensors[p.name];
      if (!saved) throw new Error(`checkpoint has no ${p.name}: it was made with another model or LoRA config`);
      if (saved.data.length !== p.size) throw new Error(`checkpoint ${p.name} has ${saved.data.length} values, the model needs ${p.size}`);
      this.engine.gpu.write(p.buffer, saved.data);
    }
    this.optimizer.load(ck.adam);
    this.step = ck.step;
    this.seek(Rng.fromJSON(ck.rng), ck.order);
    this.endRound();
    this.replay = ck.round ?? null;
    this.history.splice(0, this.history.length, ...ck.history);
    this.validation.splice(0, this.validation.length, ...ck.validation);
    this.stopped = null;
  }

  release(): void {
    this.endRound();
    this.optimizer.dispose();
    this.uncond?.context.release();
    this.uncond?.pooled.release();
    this.opts.textEncoder?.model.setTrainable(false);
    this.lora?.release();
  }

  /**
   * The adapters every forward of this trainer uses: its LoRA on top of the model's own (a merged-in adapter
   * of an earlier stage, a preview's) and its `under` ones, never another trainer's LoRA of the same method.
   */
  adapters(): LoraSet[] {
    const under = this.opts.under ?? [];
    if (!this.lora) return [...this.model.adapters, ...under];
    return [...this.model.adapters.filter((a) => a !== this.lora && a.name !== this.lora!.name), ...under, this.lora];
  }

  // -------------------------------------------------------------------------- data

  private async nextBatch(): Promise<HostBatch> {
    const B = this.config.train_batch_size;
    const examples: TrainingExample[] = [];
    for (let i = 0; i < B; i++) {
      if (this.order.cursor >= this.data.size) {
        this.order = { epoch: this.order.epoch + 1, cursor: 0 };
        this.permutation = epochPermutation(this.data.size, this.config.seed, this.order.epoch);
      }
      examples.push(this.data.example(this.permutation[this.order.cursor++]));
    }
    return { examples, ...(await this.hostCaptions(examples.map((x) => x.caption))) };
  }

  /** Captions ready for the GPU: token ids for the in-step encoder, else embeddings from the cache. */
  private async hostCaptions(captions: string[]): Promise<Pick<HostBatch, 'embedded' | 'tokens'>> {
    const te = this.opts.textEncoder;
    if (te) return { tokens: te.tokenizer.encodeBatch(captions) };
    return { embedded: await this.embeddings.stacked(captions) };
  }

  /** context [B, T, J] and pooled [B, P] on the GPU (through the encoder, with gradient when it trains). */
  private encoded(hb: Pick<HostBatch, 'embedded' | 'tokens'>): { context: Tensor; pooled: Tensor } {
    if (hb.tokens) return this.opts.textEncoder!.model.forward(hb.tokens);
    return uploadEmbeddings(this.engine, hb.embedded!);
  }

  /**
   * The empty caption's encoding. With the encoder in the step it is encoded (with gradient) only if the step
   * reads it — caption dropout or SOAR's unconditional branch — so plain pretraining steps do not pay for it.
   */
  private unconditional(): Unconditional {
    if (this.uncond) return this.uncond;
    const te = this.opts.textEncoder!;
    let encoded: Unconditional | null = null;
    const encode = () => (encoded ??= te.model.forward(te.tokenizer.encodeBatch([''])));
    return {
      get context() {
        return encode().context;
      },
      get pooled() {
        return encode().pooled;
      },
    };
  }

  private upload(hb: HostBatch) {
    return { z0: this.imageBatch(hb.examples), ...this.encoded(hb) };
  }

  private imageBatch(examples: TrainingExample[]): Tensor {
    const c = this.model.config;
    const per = examples[0].image.length;
    const side = Math.round(Math.sqrt(per / c.in_channels));
    const data = new Float32Array(per * examples.length);
    examples.forEach((x, i) => {
      if (x.image.length !== per) throw new Error(`training image ${i} has ${x.image.length} values, expected ${per}`);
      data.set(x.image, i * per);
    });
    return this.engine.fromArray(data, [examples.length, c.in_channels, side, side], 'z0');
  }
}

/** The data order of an epoch: a permutation from (seed, epoch), so a resumed run sees the same batches. */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const rng = new SeededRandom((seed * 0x9e3779b1 + epoch * 0x85ebca77) >>> 0);
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Reads a step's GPU scalars back (null stays null). */
async function readScalars(scalars: Record<string, Tensor | null>): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const [key, t] of Object.entries(scalars)) out[key] = t ? await t.item() : null;
  return out;
}
