// A checkpoint's sampling round in progress (Flow-GRPO with several updates per round: src/train/round.ts),
// kept beside checkpoint.safetensors, whose format has no place for it: the LoRA that sampled the round and
// where the round began (step, RNG, data order). Written with every checkpoint, removed when the checkpoint is
// at a round's end; --resume reads it only when it names the checkpoint's step (a file from an older save would
// replay the wrong round).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readSafetensors, writeSafetensors } from '../codec/safetensors';
import { parseJson, show } from '../codec/json';
import type { RoundCheckpoint } from '../train/round';
import type { Checkpoint } from '../train/trainer';

export const ROUND_FORMAT = 'soar-studio-round/1';

export function saveRound(path: string, ck: Checkpoint): void {
  if (!ck.round) {
    rmSync(path, { force: true });
    return;
  }
  const { tensors, step, rng, order } = ck.round;
  const meta = { format: ROUND_FORMAT, checkpoint_step: String(ck.step), step: String(step), rng: JSON.stringify(rng), order: JSON.stringify(order) };
  writeFileSync(path, writeSafetensors(tensors, meta, 'F32'));
}

/** The round of the checkpoint at `checkpointStep`, or null when there is none for it. */
export function loadRound(path: string, checkpointStep: number): RoundCheckpoint | null {
  if (!existsSync(path)) return null;
  const fail = (m: string): never => {
    throw new Error(`${path}: ${m}; delete it to resume at a fresh sampling round (not exactly as without the stop)`);
  };
  const { tensors, metadata: m } = readSafetensors(new Uint8Array(readFileSync(path)));
  if (m.format !== ROUND_FORMAT) fail(`not a sampling round (format ${show(m.format ?? null)})`);
  if (m.checkpoint_step !== String(checkpointStep)) return null;
  const step = Number(m.step);
  if (!Number.isInteger(step) || step < 0 || step > checkpointStep) fail(`step ${show(m.step)} is not a step before the checkpoint's ${checkpointStep}`);
  const out: RoundCheckpoint['tensors'] = {};
  for (const [name, t] of tensors) out[name] = { shape: t.shape, data: t.data };
  const order = parseJson(m.order ?? '', 'round order', fail) as RoundCheckpoint['order'];
  if (!Number.isInteger(order?.epoch) || !Number.isInteger(order?.cursor)) fail(`order must be {epoch, cursor}, got ${show(order)}`);
  // The RNG state is checked where it is used (Rng.fromJSON), the tensors against the trainer's LoRA.
  return { step, rng: parseJson(m.rng ?? '', 'round rng', fail) as RoundCheckpoint['rng'], order, tensors: out };
}
