// One user of the base model at a time. The model is shared by every run (each with its own LoRA), the
// compare sampler and the trajectory capture, and `model.adapters` says which LoRA a forward applies; a task
// sets it when it takes the lock and restores it before letting go, so an await inside one task (an embedding,
// a readback) can never let another task's forwards run with the wrong adapter.
import type { LoraSet } from '../model/lora';
import type { MMDiT } from '../model/mmdit';

export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `fn` after every task queued before it; the lock is released when `fn` settles. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** Runs `fn` with exactly `adapters` active on `model` and puts the previous list back afterwards. */
export async function withAdapters<T>(model: MMDiT, adapters: LoraSet[], fn: () => Promise<T> | T): Promise<T> {
  const saved = model.adapters;
  model.adapters = adapters;
  try {
    return await fn();
  } finally {
    model.adapters = saved;
  }
}
