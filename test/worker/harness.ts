// A Studio as the worker runs it, wired to a message list instead of postMessage: messages in (send), messages
// out as the UI sees them (of, last, until), and the latest state of a run. Shared by the worker tests in Node
// (Dawn, fake-indexeddb).
import { createJsImageDecoder } from '../../src/data/ingest';
import type { Engine } from '../../src/tensor/engine';
import { jpegJsEncoder } from '../../src/worker/images';
import type { KeyValueStore } from '../../src/worker/kv';
import type { RunSummary, UiToWorker, WorkerToUi } from '../../src/worker/protocol';
import { Studio } from '../../src/worker/studio';

/** The worker's message of one type. */
export type Of<T extends WorkerToUi['type']> = Extract<WorkerToUi, { type: T }>;

export class Harness {
  readonly messages: WorkerToUi[] = [];
  readonly studio: Studio;

  constructor(engine: Engine, kv: KeyValueStore, extra: Partial<ConstructorParameters<typeof Studio>[0]> = {}) {
    this.studio = new Studio({
      post: (m) => this.messages.push(structuredClone(m)), // as postMessage would
      kv,
      fetch: null,
      decoder: () => createJsImageDecoder(),
      imageEncoder: jpegJsEncoder(),
      ...extra,
    });
    this.studio.attachEngine(engine);
  }

  send(m: UiToWorker): Promise<void> {
    return this.studio.handle(m);
  }

  of<T extends WorkerToUi['type']>(type: T): Array<Of<T>> {
    return this.messages.filter((m): m is Of<T> => m.type === type);
  }

  last<T extends WorkerToUi['type']>(type: T): Of<T> | undefined {
    return this.of(type).at(-1);
  }

  /** Polls `check` until it returns something, or fails after `ms` naming `what` and the last messages. */
  async until<T>(what: string, check: () => T | undefined | false | null, ms = 120_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last messages: ${this.messages.slice(-5).map((m) => m.type).join(', ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The latest summary of run `id` the worker posted. */
  run(id: string): RunSummary | undefined {
    return this.of('run/update').filter((m) => m.run.id === id).at(-1)?.run;
  }

  /** The losses of run `id`'s steps, in the order posted. */
  metrics(id: string): number[] {
    return this.of('run/metrics').filter((m) => m.runId === id).map((m) => m.metrics.loss);
  }
}
