// A training checkpoint as files: one safetensors file holding the trainable tensors and the Adam moments, with
// the rest (config, step, RNG, data order, metric history) as JSON in its metadata. The browser stores the
// Checkpoint object itself in IndexedDB; the CLI writes this file.
import type { Checkpoint } from '../train/trainer';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../codec/safetensors';

export const CHECKPOINT_FORMAT = 'soar-studio-checkpoint/1';

export function checkpointToBytes(ck: Checkpoint): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of Object.entries(ck.tensors)) tensors.set(`param/${name}`, t);
  ck.adam.m.forEach((m, i) => tensors.set(`adam.m/${i}`, { shape: [m.length], data: m }));
  ck.adam.v.forEach((v, i) => tensors.set(`adam.v/${i}`, { shape: [v.length], data: v }));
  const meta = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(ck.config),
    step: String(ck.step),
    rng: JSON.stringify(ck.rng),
    order: JSON.stringify(ck.order),
    adam_steps: JSON.stringify(ck.adam.steps),
    history: JSON.stringify(ck.history),
    validation: JSON.stringify(ck.validation),
  };
  return writeSafetensors(tensors, meta, 'F32');
}

export function checkpointFromBytes(bytes: Uint8Array): Checkpoint {
  const file = readSafetensors(bytes);
  const m = file.metadata;
  if (m.format !== CHECKPOINT_FORMAT) throw new Error(`not a SOAR Studio checkpoint (format ${JSON.stringify(m.format)})`);
  const tensors: Checkpoint['tensors'] = {};
  const adamM: Float32Array[] = [];
  const adamV: Float32Array[] = [];
  for (const [key, t] of file.tensors) {
    if (key.startsWith('param/')) tensors[key.slice(6)] = { shape: t.shape, data: t.data };
    else if (key.startsWith('adam.m/')) adamM[Number(key.slice(7))] = t.data;
    else if (key.startsWith('adam.v/')) adamV[Number(key.slice(7))] = t.data;
  }
  const parse = <T>(k: string): T => {
    try {
      return JSON.parse(m[k]) as T;
    } catch {
      throw new Error(`checkpoint metadata ${k} is missing or not JSON`);
    }
  };
  return {
    config: parse('config'),
    step: Number(m.step),
    rng: parse('rng'),
    order: parse('order'),
    tensors,
    adam: { steps: parse('adam_steps'), m: adamM, v: adamV },
    history: parse('history'),
    validation: parse('validation'),
  };
}
