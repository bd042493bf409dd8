// A training checkpoint as files: one safetensors file holding the trainable tensors and the Adam moments, with
// the rest (config, step, RNG, data order, metric history) as JSON in its metadata. The browser stores the
// Checkpoint object itself in IndexedDB; the CLI writes this file.
//
// A checkpoint taken in the middle of a sampling round (Flow-GRPO with several updates per round,
// src/train/round.ts) also holds the LoRA that sampled the round as round/<name> tensors and where the round
// began as metadata round = { step, rng, order }. Both are written only with a round: a checkpoint without one is
// the same file as before rounds.
import type { Checkpoint } from '../train/trainer';
import { readSafetensors, SafetensorsError, writeSafetensors, type SafetensorsFile, type TensorToWrite } from '../codec/safetensors';
import { parseJson, show, type Fail } from '../codec/json';
import { checkCheckpointTensors, readCheckpointState, readRoundStart, readRoundTensors, readTrainConfig } from './checkpoint-check';

export const CHECKPOINT_FORMAT = 'soar-studio-checkpoint/1';

export function checkpointToBytes(ck: Checkpoint): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of Object.entries(ck.tensors)) tensors.set(`param/${name}`, t);
  ck.adam.m.forEach((m, i) => tensors.set(`adam.m/${i}`, { shape: [m.length], data: m }));
  ck.adam.v.forEach((v, i) => tensors.set(`adam.v/${i}`, { shape: [v.length], data: v }));
  ck.adam.ema?.forEach((a, i) => tensors.set(`adam.ema/${i}`, { shape: [a.length], data: a }));
  if (ck.round) for (const [name, t] of Object.entries(ck.round.tensors)) tensors.set(`round/${name}`, t);
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(ck.config),
    step: String(ck.step),
    rng: JSON.stringify(ck.rng),
    order: JSON.stringify(ck.order),
    adam_steps: JSON.stringify(ck.adam.steps),
    history: JSON.stringify(ck.history),
    validation: JSON.stringify(ck.validation),
  };
  if (ck.round) meta.round = JSON.stringify({ step: ck.round.step, rng: ck.round.rng, order: ck.round.order });
  return writeSafetensors(tensors, meta, 'F32');
}

/** Reads a checkpoint file; anything damaged, foreign or of the wrong type is refused naming the field. */
export function checkpointFromBytes(bytes: Uint8Array): Checkpoint {
  const fail: Fail = (m) => {
    throw new Error(`checkpoint file: ${m}; the file is damaged or not a checkpoint of this version: use one SOAR Studio wrote`);
  };
  let file: SafetensorsFile;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) return fail(`not a safetensors file (${e.message})`);
    throw e;
  }
  const m = file.metadata;
  if (m.format !== CHECKPOINT_FORMAT) throw new Error(`not a SOAR Studio checkpoint (format ${show(m.format ?? null)}, expected ${CHECKPOINT_FORMAT})`);
  const tensors: Checkpoint['tensors'] = {};
  const moments = { m: [] as Float32Array[], v: [] as Float32Array[], ema: [] as Float32Array[] };
  const adamKeys: string[] = [];
  const roundTensors: Array<[string, { shape: number[]; data: Float32Array }]> = [];
  for (const [key, t] of file.tensors) {
    const adam = /^adam\.(m|v|ema)\/(\d{1,9})$/.exec(key);
    if (key.startsWith('param/')) tensors[key.slice(6)] = { shape: t.shape, data: t.data };
    else if (key.startsWith('round/')) roundTensors.push([key.slice(6), { shape: t.shape, data: t.data }]);
    else if (adam) {
      moments[adam[1] as 'm' | 'v' | 'ema'][Number(adam[2])] = t.data;
      adamKeys.push(key);
    } else fail(`unexpected tensor ${show(key)}`);
  }
  const json = (k: string): unknown => (m[k] === undefined ? fail(`metadata ${k} is missing`) : parseJson(m[k], `metadata ${k}`, fail));
  if (!/^\d{1,15}$/.test(m.step ?? '')) fail(`metadata step must be a whole number, got ${show(m.step)}`);
  const state = readCheckpointState(
    { step: Number(m.step), rng: json('rng'), order: json('order'), adam_steps: json('adam_steps'), history: json('history'), validation: json('validation') },
    'metadata',
    fail,
  );
  const config = readTrainConfig(json('config'), 'metadata config', fail);
  // Indices must be exactly 0..n-1 (a key such as adam.m/999999999 would otherwise make a sparse list).
  const n = state.adamSteps.length;
  const withEma = moments.ema.length > 0;
  if (adamKeys.length !== (withEma ? 3 : 2) * n || moments.m.length !== n || moments.v.length !== n || (withEma && moments.ema.length !== n)) {
    fail(`the Adam moments are not adam.m/0..${n - 1} and adam.v/0..${n - 1}${withEma ? ` (with adam.ema/0..${n - 1})` : ''}`);
  }
  const adam = { steps: state.adamSteps, m: moments.m, v: moments.v, ...(withEma ? { ema: moments.ema } : {}) };
  checkCheckpointTensors(tensors, adam, 'the checkpoint', fail);
  // A round in progress: where it began and the LoRA that sampled it, both or neither.
  let round: Checkpoint['round'];
  if (m.round !== undefined) {
    const start = readRoundStart(json('round'), 'metadata round', state.step, fail);
    if (roundTensors.length === 0) fail('metadata round names a sampling round but the file has no round/ tensors');
    round = { ...start, tensors: readRoundTensors(roundTensors, tensors, (name) => `round/${name}`, fail) };
  } else if (roundTensors.length > 0) fail(`tensor ${show(`round/${roundTensors[0][0]}`)} belongs to a sampling round but metadata round is missing`);
  return { config, step: state.step, rng: state.rng, order: state.order, tensors, adam, history: state.history, validation: state.validation, ...(round ? { round } : {}) };
}
