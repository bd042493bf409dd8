// Training runs in the worker: one Trainer per run, all on the one base model, each with its own LoRA. The
// scheduler (scheduler.ts) decides which run steps next; a RunJob (run-job.ts) does the step with its metrics
// (steps/s, ETA), validation every `validation_steps` and checkpoints every `checkpointing_steps`; this file
// starts, pauses, stops, deletes and restores runs and does what a pause/stop/done/error means: the last
// checkpoint to IndexedDB, NaN refusal with advice, quota errors, a lost GPU.
//
// Adapters: a Trainer's forwards name their adapters (its LoRA); several runs share the model, so every other
// use of it (previews, exports) takes the model lock and sets `model.adapters = [this run's LoRA]` for exactly
// that use (lock.ts). Between uses the list is empty: the plain base.
//
// Metrics are read back one step late: a run records step n+1 before it awaits step n's numbers, so the GPU
// never idles on a readback. Before a validation, a checkpoint, a pause or the end, the pending read is awaited
// so the history is complete up to the trainer's step.
import type { LoraSet } from '../model/lora';
import { loraTensors } from '../train/checkpoint-lora';
import { validateTrainConfig, type TrainConfig } from '../train/config';
import { NonFiniteLossError } from '../train/trainer';
import type { Engine } from '../tensor/engine';
import type { StudioBase } from './base';
import type { StudioDataset } from './dataset';
import { withAdapters, type Mutex } from './lock';
import { StorageError, type RunRecord, type StudioStorage } from './persistence';
import { methodOf } from '../train/methods';
import { queuedRun, type GroupFrame, type RunSummary, type WorkerToUi } from './protocol';
import { RunJob } from './run-job';
import { Scheduler, type JobStatus } from './scheduler';
import { captureToFrame, idleCapture, TrajectoryWatch, type KeptCapture } from './trajectory';

export { loraFromCheckpoint } from '../train/checkpoint-lora';

export type Post = (message: WorkerToUi, transfer?: Transferable[]) => void;

/** What the runs need from the studio: the GPU, the current base and dataset (waiting for loads under way). */
export interface World {
  engine(): Engine;
  base(): Promise<StudioBase>;
  dataset(): Promise<StudioDataset>;
  readonly lock: Mutex;
  readonly storage: StudioStorage;
  readonly post: Post;
}

const NAN_ADVICE =
  'The run is stopped at its last good step and its last checkpoint is kept. Start a new run with a lower ' +
  'learning_rate or max_grad_norm (or fix the data: a broken image can hold NaN), or resume to retry from the checkpoint.';

export function summaryOf(r: RunRecord): RunSummary {
  const { baseId: _b, datasetKey: _d, group: _g, startLora: _s, ...summary } = r;
  return structuredClone(summary);
}

export class RunManager {
  readonly scheduler: Scheduler;
  readonly trajectory = new TrajectoryWatch();
  private readonly jobs = new Map<string, RunJob>();
  /** Set once the GPU is lost: nothing may touch it again; runs keep their stored checkpoints. */
  private lost: string | null = null;
  /** When the GPU last finished a run's step (performance.now()): interleaved runs' steps are timed against it. */
  lastGpuDone = 0;

  constructor(
    readonly world: World,
    yieldToEvents?: () => Promise<void>,
  ) {
    this.scheduler = new Scheduler((id, status, error) => this.onTransition(id, status, error), yieldToEvents);
  }

  async gpuModel(): Promise<{ engine: Engine; model: StudioBase['base']['model'] }> {
    const { base } = await this.world.base();
    return { engine: this.world.engine(), model: base.model };
  }

  /**
   * Time left for `job`. Interleaved runs take turns on the GPU, so while others run beside it the ETA is when
   * all of them will be done (each one's steps left × its own time per step), and says so.
   */
  eta(job: RunJob): { seconds: number; scope: 'run' | 'together' } {
    const group = job.record.group;
    const interleaved = group !== null && group.startsWith('i:');
    const together = [...this.jobs.values()].filter((j) => j === job || (interleaved && j.record.group === group && j.record.status === 'running'));
    let ms = 0;
    for (const j of together) ms += j.stepsLeft * (j.msPerStep() ?? job.msPerStep() ?? 0);
    return { seconds: ms / 1000, scope: together.length > 1 ? 'together' : 'run' };
  }

  records(): RunRecord[] {
    return [...this.jobs.values()].map((j) => j.record);
  }

  get(id: string): RunJob | undefined {
    return this.jobs.get(id);
  }

  async saveRecords(): Promise<void> {
    await this.world.storage.saveRuns(this.records());
  }

  /** Saves the run list; a failure is posted (never swallowed) and reported as false. */
  private async saveRecordsOrPost(): Promise<boolean> {
    try {
      await this.saveRecords();
      return true;
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.world.post({ type: 'storage/error', message: e.message, advice: e.advice });
      return false;
    }
  }

  update(job: RunJob): void {
    this.world.post({ type: 'run/update', run: summaryOf(job.record) });
  }

  // ---------------------------------------------------------------------------------------------- messages

  async start(runs: Array<{ id: string; name: string; config: TrainConfig; startFrom?: string }>, interleave: boolean): Promise<void> {
    const group = `${interleave ? 'i' : 's'}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const fresh: RunJob[] = [];
    let world: { baseId: string; datasetKey: string } | null = null;
    let worldError: string | null = null;
    try {
      if (this.lost) throw new Error(`the GPU device was lost (${this.lost}): reload the page to train again`);
      const [{ info }, dataset] = await Promise.all([this.world.base(), this.world.dataset()]);
      world = { baseId: info.id, datasetKey: dataset.key };
    } catch (e) {
      worldError = (e as Error).message;
    }
    for (const r of runs) {
      const record: RunRecord = {
        ...queuedRun(r, Date.now()),
        baseId: world?.baseId ?? '',
        datasetKey: world?.datasetKey ?? '',
        group,
      };
      const problems = worldError ? [worldError] : this.jobs.has(r.id) ? [`a run with id ${r.id} already exists`] : validateTrainConfig(r.config);
      if (!problems.length && r.startFrom !== undefined) {
        try {
          Object.assign(record, await this.startFrom(r.startFrom, r.config, record.baseId));
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
      if (problems.length) {
        record.status = 'error';
        record.error = { message: `Run "${r.name}" cannot start: ${problems.join('; ')}.`, advice: worldError ? 'Load a base model and a dataset first (the Data step), then start the run.' : 'Fix the fields named above and start again.' };
        this.update(new RunJob(this, record));
        continue;
      }
      fresh.push(new RunJob(this, record));
    }
    if (!fresh.length) return;
    fresh.forEach((j, i) => {
      j.record.status = interleave || i === 0 ? 'running' : 'queued';
      this.jobs.set(j.id, j);
      this.update(j);
    });
    await this.saveRecordsOrPost();
    this.scheduler.add(fresh, { interleave, chain: group });
  }

  /**
   * "SOAR, then Flow-GRPO": a finished SFT or SOAR run's LoRA, copied now so the new run keeps starting from it
   * (after a reload, or once the source trains on or is deleted).
   */
  private async startFrom(sourceId: string, config: TrainConfig, baseId: string): Promise<Pick<RunRecord, 'startFrom' | 'startLora'>> {
    if (config.method !== 'grpo') throw new Error(`only a Flow-GRPO run starts from another run's LoRA (this one is ${config.method.toUpperCase()})`);
    const src = this.jobs.get(sourceId);
    if (!src) throw new Error(`there is no run ${sourceId} to start from`);
    const s = src.record;
    if (s.method !== 'sft' && s.method !== 'soar') throw new Error(`a Flow-GRPO run starts from a finished SFT or SOAR run, and "${s.name}" is ${s.method.toUpperCase()}`);
    if ((s.status !== 'done' && s.status !== 'stopped') || s.checkpointStep === 0) throw new Error(`run "${s.name}" is not finished (${s.status} at step ${s.step}): start from a run that is done or stopped`);
    if (s.baseId !== baseId) throw new Error(`run "${s.name}" was trained on another base (${s.baseId}): load that base to start from it`);
    if (s.config.train_mode !== 'lora') throw new Error(`run "${s.name}" trained the whole model, not a LoRA`);
    const lora = await src.lora();
    const tensors = await this.world.lock.run(() => loraTensors(lora));
    return {
      startFrom: { runId: s.id, name: s.name, method: s.method, step: src.trainer?.step ?? s.checkpointStep },
      startLora: { rank: s.config.rank, alpha: s.config.lora_alpha, targets: [...s.config.lora_targets], tensors },
    };
  }

  async pause(id: string): Promise<void> {
    await this.scheduler.pause(id);
  }

  async stop(id: string): Promise<void> {
    await this.scheduler.stop(id);
  }

  resume(id: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    if (this.lost) {
      job.record.error = { message: `The GPU device was lost (${this.lost}).`, advice: 'Reload the page: the studio gets a new device and the run resumes from its last checkpoint.' };
      this.update(job);
      return;
    }
    if (job.record.status === 'done') {
      this.update(job);
      return;
    }
    if (this.scheduler.status(id) === 'done' && job.trainer) {
      void this.storeLastCheckpoint(job); // trained to the end; only its last checkpoint is still to store
      return;
    }
    this.scheduler.resume(id);
  }

  /** Stores the last checkpoint of a finished run that storage refused; done once it is stored. */
  private async storeLastCheckpoint(job: RunJob): Promise<void> {
    if (!(await job.checkpoint())) return; // refused again: posted, still paused
    job.record.status = 'done';
    this.update(job);
    await this.saveRecordsOrPost();
  }

  async delete(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (!job) {
      this.world.post({ type: 'run/deleted', id });
      return;
    }
    await this.scheduler.remove(id);
    job.dispose();
    this.jobs.delete(id);
    if (this.trajectory.runId === id) this.trajectory.runId = null;
    try {
      await this.world.storage.deleteCheckpoint(id, job.record.name);
      await this.saveRecords();
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      this.world.post({ type: 'storage/error', message: e.message, advice: e.advice });
    }
    this.world.post({ type: 'run/deleted', id });
  }

  /**
   * The runs stored in IndexedDB. A run that was running (or whose record is ahead of its checkpoint) comes
   * back paused at its checkpoint step, with the history cut there: resuming recomputes the lost steps, with the
   * same values (the trainer's exact resume). Runs already known are left as they are.
   */
  async restore(): Promise<RunSummary[]> {
    const stored = await this.world.storage.loadRuns();
    const added: RunJob[] = [];
    for (const raw of stored) {
      if (this.jobs.has(raw.id)) continue;
      const r = rewindToCheckpoint(raw);
      const job = new RunJob(this, r);
      this.jobs.set(r.id, job);
      added.push(job);
    }
    // Chains and groups as they were: sequential runs still queued start when the one before them ends.
    const byGroup = new Map<string, RunJob[]>();
    for (const j of added) {
      const g = j.record.group ?? `solo:${j.id}`;
      byGroup.set(g, [...(byGroup.get(g) ?? []), j]);
    }
    for (const [g, jobs] of byGroup) {
      this.scheduler.add(jobs, { interleave: !g.startsWith('s:'), chain: g, status: jobs.map((j) => j.record.status as JobStatus) });
    }
    if (added.length) await this.saveRecordsOrPost();
    return this.records().map(summaryOf);
  }

  async lora(id: string): Promise<LoraSet> {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`there is no run ${id}`);
    return job.lora();
  }

  // ---------------------------------------------------------------------------------------------- trajectory

  watch(runId: string | null): void {
    this.trajectory.runId = runId;
    if (!runId) return;
    const job = this.jobs.get(runId);
    if (!job || this.scheduler.status(runId) === 'running') return; // a running run captures every few steps
    void this.idleFrame(job).catch((e) => console.warn(`trajectory of ${runId}:`, e));
  }

  private async idleFrame(job: RunJob): Promise<void> {
    if (this.lost) return;
    // A method that samples before its step (Flow-GRPO) shows its groups from real steps only.
    if (methodOf(job.record.config.method).prepare) return;
    const { base } = await this.world.base();
    const dataset = await this.world.dataset();
    const lora = await job.lora();
    const engine = this.world.engine();
    const kept = await this.world.lock.run(() =>
      withAdapters(base.model, [lora], () => idleCapture(engine, base.model, lora, dataset.trainingData(), base.embeddings, job.record.config)),
    );
    if (kept) this.postFrame(kept, job.id, job.record.step);
  }

  postGroups(frame: GroupFrame): void {
    if (this.trajectory.runId === frame.runId) this.world.post({ type: 'trajectory/groups', frame });
  }

  postFrame(kept: KeptCapture, runId: string, step: number): void {
    void captureToFrame(kept, runId, step).then(
      (frame) => {
        if (this.trajectory.runId === runId) this.world.post({ type: 'trajectory/frame', frame });
      },
      (e) => console.warn(`trajectory frame of ${runId}:`, e),
    );
  }

  // ---------------------------------------------------------------------------------------------- the GPU

  /** device.lost: every run pauses at its stored checkpoint; nothing touches the GPU again. */
  async onGpuLost(reason: string): Promise<void> {
    this.lost = reason;
    await this.scheduler.pauseAll();
    for (const job of this.jobs.values()) {
      job.record = rewindToCheckpoint(job.record);
      if (job.record.status === 'running' || job.record.status === 'queued') job.record.status = 'paused';
      job.record.error = { message: `The GPU device was lost (${reason}).`, advice: `Press Recover at the top of the page (or reload it): the studio gets a new device and the run resumes from step ${job.record.checkpointStep}.` };
      this.update(job);
    }
  }

  /** Releases every trainer (a new base is loaded: the old model is gone). Records stay. */
  async disposeAll(): Promise<void> {
    await this.scheduler.pauseAll();
    for (const job of this.jobs.values()) job.dispose();
  }

  // ---------------------------------------------------------------------------------------------- transitions

  private async onTransition(id: string, status: JobStatus, error?: unknown): Promise<void> {
    const job = this.jobs.get(id);
    if (!job) return;
    const r = job.record;
    if (this.lost) {
      // No GPU: nothing to flush or checkpoint. onGpuLost rewinds and reports.
      r.status = status === 'error' || status === 'running' ? 'paused' : status;
      try {
        job.dispose();
      } catch {
        // the buffers went with the device
      }
      return;
    }
    if (status === 'running') {
      r.status = 'running';
      delete r.error;
      this.update(job);
      await this.saveRecordsOrPost();
      return;
    }
    if (status === 'error') {
      this.fail(job, error);
      await this.saveRecordsOrPost();
      return;
    }
    // paused, stopped, done: complete the history, then validate (done) and checkpoint.
    let stored = true;
    try {
      await job.flush();
      if (status === 'done' && job.trainer && job.trainer.validation.at(-1)?.step !== job.trainer.step) await job.validate();
      if (job.trainer && !job.storageFailed && job.trainer.step > r.checkpointStep) stored = await job.checkpoint();
    } catch (e) {
      this.fail(job, e);
      await this.saveRecordsOrPost();
      return;
    }
    job.storageFailed = false;
    // A finished run whose last checkpoint storage refused is not done: it stays paused (as the storage alert
    // says), and resuming it stores that checkpoint (resume, below).
    r.status = status === 'done' && !stored ? 'paused' : status;
    this.update(job);
    await this.saveRecordsOrPost();
  }

  private fail(job: RunJob, error: unknown): void {
    const r = job.record;
    const t = job.trainer;
    r.status = 'error';
    if (error instanceof NonFiniteLossError) {
      r.error = { message: error.message, advice: NAN_ADVICE };
    } else {
      const message = error instanceof Error ? error.message : String(error);
      r.error = { message: `Run "${r.name}" failed: ${message}`, advice: 'Resume to retry from the last checkpoint; if it fails again, start a new run (see the message for what to change).' };
    }
    if (t) {
      // Good steps only (the refused one never reached the history).
      r.history = [...t.history];
      r.validation = [...t.validation];
      r.step = t.history.at(-1)?.step ?? r.checkpointStep;
    }
    // The trainer refuses further steps after a NaN; resuming rebuilds it from the checkpoint.
    job.dispose();
    this.update(job);
  }
}

/** A record as it is after a reload: at its checkpoint, paused if it was in the middle of training. */
export function rewindToCheckpoint(raw: RunRecord): RunRecord {
  const r: RunRecord = structuredClone(raw);
  if (r.step > r.checkpointStep) {
    r.step = r.checkpointStep;
    r.history = r.history.filter((h) => h.step <= r.checkpointStep);
    r.validation = r.validation.filter((v) => v.step <= r.checkpointStep);
    if (r.status === 'done') r.status = 'paused';
  }
  if (r.status === 'running') r.status = 'paused';
  return r;
}
