// The scheduler with plain counting jobs: round-robin interleaving, sequential chains, pause/resume/stop between
// steps (also when asked in the middle of one), failures, removal; every transition reaches the handler in order.
import { describe, expect, it } from 'vitest';
import { Scheduler, type Job, type JobStatus } from '../../src/worker/scheduler';

interface Log {
  steps: string[];
  transitions: string[];
}

/** A job of `n` steps that logs each step; `hold` lets a test catch it in the middle of a step. */
function job(id: string, n: number, log: Log, opts: { failAt?: number; hold?: () => Promise<void> } = {}): Job & { done: number } {
  return {
    id,
    done: 0,
    async step() {
      if (opts.hold) await opts.hold();
      if (this.done + 1 === opts.failAt) throw new Error(`${id} failed`);
      this.done++;
      log.steps.push(`${id}${this.done}`);
      return this.done < n;
    },
  };
}

function setup() {
  const log: Log = { steps: [], transitions: [] };
  const s = new Scheduler((id: string, status: JobStatus, error?: unknown) => {
    log.transitions.push(`${id}:${status}${error ? `(${(error as Error).message})` : ''}`);
  });
  return { log, s };
}

describe('Scheduler', () => {
  it('interleaves running jobs round-robin, one step each, until each is done', async () => {
    const { log, s } = setup();
    s.add([job('a', 3, log), job('b', 2, log)], { interleave: true });
    await s.idle();
    expect(log.steps).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
    expect(log.transitions).toEqual(['b:done', 'a:done']);
    expect(s.status('a')).toBe('done');
  });

  it('runs a sequential chain one after the other; the next starts when the one before is done', async () => {
    const { log, s } = setup();
    s.add([job('a', 2, log), job('b', 2, log)], { interleave: false });
    expect(s.status('b')).toBe('queued');
    await s.idle();
    expect(log.steps).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(log.transitions).toEqual(['a:done', 'b:running', 'b:done']);
  });

  it('pauses between steps: a pause asked in the middle of a step takes effect after it, and resume continues', async () => {
    const { log, s } = setup();
    let release!: () => void;
    let entered!: () => void;
    const inStep = new Promise<void>((r) => (entered = r));
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const a = job('a', 4, log, {
      hold: async () => {
        if (!first) return;
        first = false;
        entered();
        await gate;
      },
    });
    s.add([a, job('b', 3, log)], { interleave: true });
    await inStep;
    expect(s.isStepping('a')).toBe(true);
    const paused = s.pause('a');
    release();
    await paused;
    expect(s.status('a')).toBe('paused');
    expect(log.transitions).toEqual(['a:paused']);
    await s.idle(); // b alone
    expect(log.steps).toEqual(['a1', 'b1', 'b2', 'b3']);
    s.resume('a');
    await s.idle();
    expect(log.steps.slice(4)).toEqual(['a2', 'a3', 'a4']);
    expect(log.transitions).toEqual(['a:paused', 'b:done', 'a:running', 'a:done']);
  });

  it('handles a pause sent while another job steps, before the paused job steps again', async () => {
    const { log, s } = setup();
    // With a macrotask between steps, a pause sent after a step is seen before the next one.
    const a = job('a', 10, log);
    s.add([a], { interleave: true });
    await new Promise((r) => setTimeout(r, 0));
    await s.pause('a');
    const at = a.done;
    await new Promise((r) => setTimeout(r, 10));
    expect(a.done).toBe(at);
    expect(at).toBeLessThan(10);
    expect(s.status('a')).toBe('paused');
  });

  it('stop ends a job and starts the next of its chain; a paused chain head keeps the next queued', async () => {
    const { log, s } = setup();
    s.add([job('a', 5, log), job('b', 1, log), job('c', 1, log)], { interleave: false, status: ['paused', 'queued', 'queued'] });
    await s.idle();
    expect(log.steps).toEqual([]);
    await s.stop('a');
    await s.idle();
    expect(log.steps).toEqual(['b1', 'c1']);
    expect(log.transitions).toEqual(['a:stopped', 'b:running', 'b:done', 'c:running', 'c:done']);
  });

  it('a failing step marks the job error (with the error) and the rest go on', async () => {
    const { log, s } = setup();
    s.add([job('a', 3, log, { failAt: 2 }), job('b', 2, log)], { interleave: true });
    await s.idle();
    expect(log.steps).toEqual(['a1', 'b1', 'b2']);
    expect(log.transitions).toEqual(['a:error(a failed)', 'b:done']);
    expect(s.status('a')).toBe('error');
    // An errored job can be resumed (a retry from its checkpoint in the runs layer).
    expect(s.resume('a')).toBe(true);
    expect(s.status('a')).toBe('running');
  });

  it('remove drops a job (after its step) and promotes the next of the chain; pauseAll pauses everything', async () => {
    const { log, s } = setup();
    s.add([job('a', 100, log), job('b', 1, log)], { interleave: false });
    await new Promise((r) => setTimeout(r, 0));
    await s.remove('a');
    expect(s.has('a')).toBe(false);
    await s.idle();
    expect(log.steps.at(-1)).toBe('b1');
    s.add([job('x', 100, log), job('y', 100, log)], { interleave: true });
    await s.pauseAll();
    expect([s.status('x'), s.status('y')]).toEqual(['paused', 'paused']);
    await s.idle();
    expect(() => s.add([job('x', 1, log)], { interleave: true })).toThrow(/already exists/);
  });
});
