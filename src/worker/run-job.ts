// One training run in the worker: its Trainer (made on the first step, or from the stored checkpoint after a
// reload or an error), one optimizer step per scheduler turn with the model lock held and only this run's LoRA
// active, metrics read back a step late, validation and checkpoints on their schedule. RunManager (runs.ts) owns
// the jobs and does what happens at pause/stop/done/error.
import type { LoraSet } from '../model/lora';
import { loraFromCheckpoint, loraFromTensors } from '../train/checkpoint-lora';
import { Trainer, type StepMetrics } from '../train/trainer';
import { StorageError, type RunRecord } from './persistence';
import type { RunManager } from './runs';
import type { Job } from './scheduler';
import type { GroupFrame, RunPhase } from './protocol';
import { isGrpoStep } from '../train/methods';
import type { MethodStep } from '../train/methods/method';
import { groupFrame, keepCapture, type KeptCapture } from './trajectory';

/** Steps whose timing the steps/s estimate takes the median of (robust to the slow first step). */
const RATE_WINDOW = 20;

export class RunJob implements Job {
  trainer: Trainer | null = null;
  /** The LoRA rebuilt from the checkpoint, for compare/export of a run that has no trainer in memory. */
  private stored: LoraSet | null = null;
  /** The LoRA of the run this one starts from (record.startLora), under its own in every use. */
  private under: LoraSet | null = null;
  private pending: Promise<StepMetrics> | null = null;
  /** Wall ms of this run's recent steps: step number → ms (see timeStep). */
  private durations = new Map<number, number>();
  /** The last checkpoint write failed (quota): the pause that follows does not try again at once. */
  storageFailed = false;
  /** A phase message is showing on the run card. */
  private inPhase = false;

  constructor(
    readonly runs: RunManager,
    public record: RunRecord,
  ) {}

  get id(): string {
    return this.record.id;
  }

  // ---------------------------------------------------------------------------------------------- the step

  async step(): Promise<boolean> {
    const fresh = !this.trainer;
    if (fresh) this.phase({ kind: 'preparing', message: this.record.checkpointStep > 0 ? `restoring the checkpoint of step ${this.record.checkpointStep}` : 'building the trainer' });
    const t = await this.ensureTrainer();
    if (t.done) {
      await this.flush();
      this.phase(null);
      return false;
    }
    if (fresh) {
      const software = this.runs.world.engine().gpu.summary.isSoftware;
      this.phase({ kind: 'first-step', message: `first step: compiling the GPU kernels it uses${software ? ' (the slow one on a software adapter: up to a minute; the steps after it are much faster)' : ''}` });
    }
    const { engine } = await this.runs.gpuModel();
    const watch = this.runs.trajectory.wants(this.id, t.step);
    let captured: KeptCapture | null = null;
    let groups: GroupFrame | null = null;
    const capture = (r: MethodStep) => {
      if (isGrpoStep(r)) groups = groupFrame(r.groups, this.id, t.step + 1);
      else captured = keepCapture(engine, r);
    };
    // The trainer's forwards name their adapters (its LoRA), so the lock only keeps other users of the model out.
    const { metrics } = await this.runs.world.lock.run(() => t.trainStep(watch ? { capture } : {}));
    this.timeStep(t.step, metrics);
    const previous = this.pending;
    this.pending = metrics;
    if (previous) this.onMetrics(await previous); // throws NonFiniteLossError for a refused step
    if (captured) this.runs.postFrame(captured, this.id, t.step);
    if (groups) this.runs.postGroups(groups);
    const cfg = t.config;
    const step = t.step;
    const validate = step % cfg.validation_steps === 0 && !t.done;
    const checkpoint = step % cfg.checkpointing_steps === 0 && !t.done;
    if (validate || checkpoint || t.done) await this.flush();
    if (validate) await this.validate();
    if (checkpoint) await this.checkpoint();
    return !t.done;
  }

  /** Awaits the metrics still being read back (and posts them). */
  async flush(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p) this.onMetrics(await p);
  }

  /**
   * The wall time of a step is the GPU's time on it: from when the GPU finished whatever ran before it (any run's
   * step: interleaved runs share the GPU) or from its submission if the GPU was idle, to its own completion (its
   * metrics read back). Completions arrive in GPU order, so the shared clock on the RunManager orders them.
   */
  private timeStep(step: number, metrics: Promise<StepMetrics>): void {
    const submitted = performance.now();
    metrics.then(
      () => {
        const now = performance.now();
        const start = Math.max(this.runs.lastGpuDone, submitted);
        this.runs.lastGpuDone = now;
        this.durations.set(step, now - start);
        for (const k of this.durations.keys()) if (k <= step - RATE_WINDOW) this.durations.delete(k);
      },
      () => undefined, // a refused step: reported by flush/step
    );
  }

  /** Median wall ms per step of this run over its recent steps (null before the first one). */
  msPerStep(): number | null {
    const xs = [...this.durations.values()].sort((a, b) => a - b);
    return xs.length ? xs[xs.length >> 1] : null;
  }

  /** Steps this run still has to go. */
  get stepsLeft(): number {
    return Math.max(0, this.record.config.max_train_steps - this.record.step);
  }

  /** Tells the run card what happens before the step counter moves (null once steps flow). */
  private phase(p: RunPhase | null): void {
    if (!p && !this.inPhase) return;
    this.inPhase = p !== null;
    this.runs.world.post({ type: 'run/phase', runId: this.id, phase: p });
  }

  private onMetrics(m: StepMetrics): void {
    this.phase(null); // the first step is done: steps flow
    // The trainer times a step from its previous one, which in interleaved mode includes the other run's step:
    // the worker's own measure replaces it (and the GFLOP/s that follow from it).
    const own = this.durations.get(m.step);
    if (own !== undefined && own > 0) {
      if (m.gflops && m.ms_per_step > 0) m.gflops *= m.ms_per_step / own;
      m.ms_per_step = own;
    }
    this.record.step = m.step;
    this.record.history.push(m);
    const ms = this.msPerStep();
    const stepsPerSecond = ms ? 1000 / ms : 0;
    const eta = this.runs.eta(this);
    this.runs.world.post({ type: 'run/metrics', runId: this.id, metrics: m, stepsPerSecond, etaSeconds: eta.seconds, etaScope: eta.scope });
  }

  async validate(): Promise<void> {
    const t = this.trainer;
    if (!t) return;
    const loss = await this.runs.world.lock.run(() => t.validationLoss());
    this.record.validation = [...t.validation];
    this.runs.world.post({ type: 'run/validation', runId: this.id, step: t.step, loss });
  }

  /** Writes the checkpoint and the run list; a storage failure is posted and pauses the run. */
  async checkpoint(): Promise<boolean> {
    const t = this.trainer;
    if (!t) return true;
    const ck = await this.runs.world.lock.run(() => t.checkpoint());
    try {
      await this.runs.world.storage.saveCheckpoint(this.id, ck, this.record.name);
      this.record.checkpointStep = ck.step;
      this.record.history = [...t.history];
      this.record.validation = [...t.validation];
      await this.runs.saveRecords();
      this.storageFailed = false;
      this.runs.update(this); // the run card's "saved at step N" follows every checkpoint, not just pauses
      return true;
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.storageFailed = true;
      // Nothing is called safe unless read back: what storage still holds, checked now.
      const held = await this.runs.world.storage.whatRemains(this.id, this.record.name);
      this.runs.world.post({ type: 'storage/error', message: `${e.message} ${held}`, advice: e.advice });
      void this.runs.scheduler.pause(this.id); // after this step; awaiting it here would wait for ourselves
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------- weights

  /** The trainer, created on the first step (and after a reload or an error) from the stored checkpoint. */
  async ensureTrainer(): Promise<Trainer> {
    if (this.trainer) return this.trainer;
    const r = this.record;
    const { base, info } = await this.runs.world.base();
    if (info.id !== r.baseId) throw new Error(`run "${r.name}" was trained on the base ${r.baseId}, but ${info.id} is loaded: load that base again to continue it`);
    const dataset = await this.runs.world.dataset();
    if (dataset.key !== r.datasetKey) throw new Error(`run "${r.name}" was trained on another dataset (${r.datasetKey}) than the one loaded (${dataset.key}): load that dataset again to continue it exactly`);
    const engine = this.runs.world.engine();
    const ck = await this.runs.world.storage.loadCheckpoint(this.id, this.record.name);
    const under = await this.underLora();
    const trainer = await this.runs.world.lock.run(async () => {
      const t = await Trainer.create(engine, base.model, base.embeddings, dataset.trainingData(), r.config, { under: under ? [under] : [] });
      if (ck && ck.step > 0) t.restore(ck);
      return t;
    });
    this.releaseStored();
    this.trainer = trainer;
    this.durations.clear();
    // The history is the checkpoint's from here on (steps after it are recomputed, with the same values).
    const rewound = r.step !== trainer.step || r.history.length !== trainer.history.length;
    r.step = trainer.step;
    r.checkpointStep = trainer.step;
    r.history = [...trainer.history];
    r.validation = [...trainer.validation];
    if (rewound) this.runs.update(this);
    return trainer;
  }

  /** The LoRA this run starts from, built once from its record (null: it starts from the base). */
  private async underLora(): Promise<LoraSet | null> {
    const s = this.record.startLora;
    if (!s || this.under) return this.under;
    const { base } = await this.runs.world.base();
    this.under = loraFromTensors(this.runs.world.engine(), base.model.config, this.record.startFrom?.method ?? 'start', { rank: s.rank, alpha: s.alpha, targets: s.targets }, s.tensors);
    return this.under;
  }

  /** Every adapter of this run's model, for a preview: the LoRA it started from (if any), then its own. */
  async adapters(): Promise<LoraSet[]> {
    const under = await this.underLora();
    return [...(under ? [under] : []), await this.lora()];
  }

  /** The run's LoRA for a preview or an export: the trainer's, else rebuilt from the last checkpoint. */
  async lora(): Promise<LoraSet> {
    if (this.trainer?.lora) return this.trainer.lora;
    if (this.stored) return this.stored;
    const ck = await this.runs.world.storage.loadCheckpoint(this.id, this.record.name);
    const { base } = await this.runs.world.base();
    const set = loraFromCheckpoint(this.runs.world.engine(), base.model.config, this.record.config, ck);
    this.stored = set;
    return set;
  }

  /** Drops the trainer (GPU buffers) and any pending metrics; the record stays. */
  dispose(): void {
    this.pending?.catch(() => undefined);
    this.pending = null;
    this.trainer?.release();
    this.trainer = null;
    this.releaseStored();
    this.under?.release();
    this.under = null;
  }

  private releaseStored(): void {
    this.stored?.release();
    this.stored = null;
  }
}

