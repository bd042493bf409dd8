// The training scheduler: runs jobs (one optimizer step per call) one at a time on the worker's single GPU queue,
// round-robin over every running job, and yields to the event loop after each step so that pause, stop and every
// other message are handled between steps. Sequential runs form a chain: the next one waits ('queued') until the
// one before it is done, stopped or failed; interleaved runs are all 'running' at once and take turns.
//
// It knows nothing about training: the runs layer (runs.ts) does the work in `step()` and the side effects
// (checkpoints, messages) in `onTransition`, which the scheduler awaits before it moves on.

export type JobStatus = 'queued' | 'running' | 'paused' | 'done' | 'stopped' | 'error';

export interface Job {
  readonly id: string;
  /** One unit of work; resolves true when there is more to do, false when the job is finished. Throws = error. */
  step(): Promise<boolean>;
}

export type TransitionHandler = (id: string, status: JobStatus, error?: unknown) => Promise<void> | void;

interface Entry {
  job: Job;
  status: JobStatus;
  /** Sequential chain this job belongs to (null: none). */
  chain: string | null;
  /** A pause/stop/removal asked for while the job was in the middle of a step. */
  request: 'paused' | 'stopped' | 'removed' | null;
  waiters: Array<() => void>;
}

/** setTimeout(0): lets queued messages run between steps (a resolved promise would not: microtasks come first). */
export const macrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

export class Scheduler {
  private readonly entries: Entry[] = [];
  private current: Entry | null = null;
  private lastPicked: Entry | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly onTransition: TransitionHandler,
    private readonly yieldToEvents: () => Promise<void> = macrotask,
  ) {}

  /**
   * Adds jobs. `interleave`: all start running and take turns. Otherwise they form a chain: the first runs, the
   * others are queued behind it. `status` overrides the initial status (restored runs are added 'paused').
   */
  add(jobs: readonly Job[], opts: { interleave: boolean; chain?: string; status?: JobStatus[] }): void {
    const chain = opts.interleave ? null : (opts.chain ?? `chain-${Math.random().toString(36).slice(2, 10)}`);
    jobs.forEach((job, i) => {
      if (this.find(job.id)) throw new Error(`scheduler: a job ${job.id} already exists`);
      const status = opts.status?.[i] ?? (opts.interleave || i === 0 ? 'running' : 'queued');
      this.entries.push({ job, status, chain, request: null, waiters: [] });
    });
    this.kick();
  }

  has(id: string): boolean {
    return !!this.find(id);
  }

  status(id: string): JobStatus | undefined {
    return this.find(id)?.status;
  }

  /** Ids in insertion order with their status. */
  list(): Array<{ id: string; status: JobStatus; chain: string | null }> {
    return this.entries.map((e) => ({ id: e.job.id, status: e.status, chain: e.chain }));
  }

  /** True while a job's step is in progress. */
  isStepping(id: string): boolean {
    return this.current?.job.id === id;
  }

  /** Pauses a running or queued job; resolves once it is paused (after its current step, if it is in one). */
  async pause(id: string): Promise<void> {
    await this.halt(id, 'paused');
  }

  /** Stops a job for good (it can still be resumed by `resume`); resolves once it is stopped. */
  async stop(id: string): Promise<void> {
    await this.halt(id, 'stopped');
  }

  /** Pauses every running or queued job (the GPU was lost). */
  async pauseAll(): Promise<void> {
    await Promise.all(this.entries.filter((e) => e.status === 'running' || e.status === 'queued').map((e) => this.halt(e.job.id, 'paused')));
  }

  /** Marks a job running again (paused, stopped, queued or failed); done jobs stay done. */
  resume(id: string): boolean {
    const e = this.find(id);
    if (!e || e.status === 'done') return false;
    if (e.request && e.request !== 'removed') e.request = null; // a pause asked for mid-step is taken back
    if (e.status !== 'running') {
      e.status = 'running';
      void this.emit(e, 'running');
    }
    this.kick();
    return true;
  }

  /** Removes a job (after its current step); the next job of its chain starts. */
  async remove(id: string): Promise<void> {
    const e = this.find(id);
    if (!e) return;
    if (this.current === e) {
      e.request = 'removed';
      await new Promise<void>((resolve) => e.waiters.push(resolve));
      return;
    }
    this.drop(e);
  }

  /** Resolves when no job is running (the loop has exited). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  // ------------------------------------------------------------------------------------------------ internals

  private find(id: string): Entry | undefined {
    return this.entries.find((e) => e.job.id === id);
  }

  private async halt(id: string, to: 'paused' | 'stopped'): Promise<void> {
    const e = this.find(id);
    if (!e) return;
    if (this.current === e) {
      if (e.request !== 'removed') e.request = to;
      await new Promise<void>((resolve) => e.waiters.push(resolve));
      return;
    }
    const stoppable = to === 'stopped' ? e.status !== 'done' && e.status !== 'stopped' : e.status === 'running' || e.status === 'queued';
    if (!stoppable) return;
    e.status = to;
    await this.emit(e, to);
    if (to === 'stopped') this.promote(e);
  }

  private drop(e: Entry): void {
    this.entries.splice(this.entries.indexOf(e), 1);
    if (this.lastPicked === e) this.lastPicked = null;
    if (e.status === 'running') this.promote(e);
  }

  /** The next queued job of `e`'s chain starts (when `e` left the chain's head). */
  private promote(e: Entry): void {
    if (!e.chain) return;
    const sameChain = this.entries.filter((x) => x.chain === e.chain && x !== e);
    if (sameChain.some((x) => x.status === 'running')) return;
    const next = sameChain.find((x) => x.status === 'queued' && this.entries.indexOf(x) > this.entries.indexOf(e)) ?? sameChain.find((x) => x.status === 'queued');
    if (next) {
      next.status = 'running';
      void this.emit(next, 'running');
      this.kick();
    }
  }

  private async emit(e: Entry, status: JobStatus, error?: unknown): Promise<void> {
    try {
      await this.onTransition(e.job.id, status, error);
    } catch (err) {
      // The handler reports its own failures to the UI; this only keeps the loop alive.
      console.error(`scheduler: transition of ${e.job.id} to ${status} failed`, err);
    }
  }

  /** Round-robin: the first running job after the one picked last. */
  private pick(): Entry | null {
    const n = this.entries.length;
    if (n === 0) return null;
    const start = this.lastPicked ? this.entries.indexOf(this.lastPicked) + 1 : 0;
    for (let k = 0; k < n; k++) {
      const e = this.entries[(start + k) % n];
      if (e.status === 'running') return e;
    }
    return null;
  }

  private kick(): void {
    if (this.loop) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      const e = this.pick();
      if (!e) return;
      this.current = e;
      this.lastPicked = e;
      let more = true;
      let failed = false;
      let error: unknown;
      try {
        more = await e.job.step();
      } catch (err) {
        failed = true;
        error = err;
      }
      const request = e.request;
      e.request = null;
      if (request === 'removed') {
        this.current = null;
        e.status = failed ? 'error' : e.status;
        this.drop(e);
      } else {
        // The status changes before anything is awaited, so a message handled meanwhile sees the new one.
        const next: JobStatus | null = failed ? 'error' : !more ? 'done' : request;
        if (next) e.status = next;
        this.current = null;
        if (next) await this.emit(e, next, error);
        if (next && next !== 'paused') this.promote(e);
      }
      e.waiters.splice(0).forEach((w) => w());
      await this.yieldToEvents();
    }
  }
}
