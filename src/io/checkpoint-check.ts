// Validation of a training checkpoint read from a file (a checkpoint file, or a run in a project file): every
// field a resume reads, with its type and range, and the tensors against the Adam moments. A damaged or foreign
// file is refused when it is opened, naming the field, instead of failing later at resume (or resuming with NaN).
import { JsonObject, show, type Fail } from '../codec/json';
import { validateTrainConfig, type TrainConfig } from '../train/config';
import type { RoundCheckpoint, RoundStart } from '../train/round';
import type { Checkpoint, StepMetrics } from '../train/trainer';

/** A TrainConfig from JSON: the trainer's own validation, after the one field it reads without checking. */
export function readTrainConfig(v: unknown, path: string, fail: Fail): TrainConfig {
  const o = JsonObject.of(v, path, fail);
  if (o.value.train_mode === 'lora' || o.has('lora_targets')) o.strList('lora_targets'); // validateTrainConfig reads .length
  const problems = validateTrainConfig(o.value as unknown as TrainConfig);
  if (problems.length) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    fail(`${path} is not a valid training config: ${problems.slice(0, 3).join('; ')}${more}`);
  }
  return o.value as unknown as TrainConfig;
}

/** What every step of every method records (the loop's own metrics). */
const LOOP_METRICS = ['loss', 'grad_norm', 'lr', 'ms_per_step'] as const;

/** A history entry: the loop's metrics, and any method's metrics as numbers or null (a method's keys vary). */
export function readHistory(o: JsonObject, k: string): StepMetrics[] {
  return o.objects(k).map((h) => {
    h.int('step');
    for (const m of LOOP_METRICS) h.numOrNull(m);
    h.bool('skipped');
    for (const m of Object.keys(h.value)) if (m !== 'step' && m !== 'skipped') h.numOrNull(m);
    return h.value as unknown as StepMetrics;
  });
}

export function readValidation(o: JsonObject, k: string): Checkpoint['validation'] {
  return o.objects(k).map((v) => ({ step: v.int('step'), loss: v.numOrNull('loss') as number }));
}

/** What a checkpoint holds besides its config and tensors, as JSON: { step, rng, order, adam_steps, history, validation }. */
export interface CheckpointState {
  step: number;
  rng: Checkpoint['rng'];
  order: Checkpoint['order'];
  adamSteps: number[];
  history: StepMetrics[];
  validation: Checkpoint['validation'];
}

export function readCheckpointState(v: unknown, path: string, fail: Fail): CheckpointState {
  const o = JsonObject.of(v, path, fail);
  const rng = o.obj('rng');
  const seed = rng.intList('seed', 0, 0xffffffff);
  if (seed.length !== 2) fail(`${path}.rng.seed must be two 32-bit integers, got ${show(seed)}`);
  const counter = rng.str('counter');
  if (!/^\d{1,20}$/.test(counter)) fail(`${path}.rng.counter must be a decimal integer, got ${show(counter)}`);
  const order = o.obj('order');
  return {
    step: o.int('step'),
    rng: { seed: [seed[0], seed[1]], counter },
    order: { epoch: order.int('epoch'), cursor: order.int('cursor') },
    adamSteps: o.intList('adam_steps'),
    history: readHistory(o, 'history'),
    validation: readValidation(o, 'validation'),
  };
}

/** The index of the first NaN or ±Infinity, or -1 (one pass, no allocation). */
export function nonFiniteIndex(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/** One Adam moment pair per tensor, sizes that add up, every value finite. */
export function checkCheckpointTensors(tensors: Checkpoint['tensors'], adam: Checkpoint['adam'], path: string, fail: Fail): void {
  const sizes = Object.values(tensors).map((t) => t.data.length);
  const n = sizes.length;
  if (adam.steps.length !== n || adam.m.length !== n || adam.v.length !== n || (adam.ema && adam.ema.length !== n)) {
    fail(`${path} has ${n} tensors but Adam state for ${adam.steps.length} (${adam.m.length} first and ${adam.v.length} second moments)`);
  }
  let moments = 0;
  for (let j = 0; j < n; j++) {
    if (!adam.m[j] || !adam.v[j]) fail(`${path} lacks the Adam moments of parameter ${j}`);
    if (adam.m[j].length !== adam.v[j].length) fail(`${path}: Adam moments ${j} have ${adam.m[j].length} and ${adam.v[j].length} values`);
    if (adam.ema && adam.ema[j]?.length !== adam.m[j].length) fail(`${path}: the moving average of parameter ${j} does not match its moments`);
    moments += adam.m[j].length;
  }
  const values = sizes.reduce((a, b) => a + b, 0);
  if (moments !== values) fail(`${path}: the Adam moments hold ${moments} values, the tensors ${values}`);
  const arrays: Array<[string, Float32Array]> = [
    ...Object.entries(tensors).map(([k, t]): [string, Float32Array] => [k, t.data]),
    ...adam.m.map((d, j): [string, Float32Array] => [`adam.m/${j}`, d]),
    ...adam.v.map((d, j): [string, Float32Array] => [`adam.v/${j}`, d]),
    ...(adam.ema ?? []).map((d, j): [string, Float32Array] => [`adam.ema/${j}`, d]),
  ];
  for (const [name, data] of arrays) {
    const i = nonFiniteIndex(data);
    if (i >= 0) fail(`${path}: tensor ${show(name)} has NaN or infinite values (the first at index ${i})`);
  }
}

/**
 * Where a checkpoint's sampling round in progress began (src/train/round.ts), as JSON { step, rng, order }: the
 * RNG and data order read as a checkpoint's, with a step not after the checkpoint's own.
 */
export function readRoundStart(v: unknown, path: string, checkpointStep: number, fail: Fail): RoundStart {
  const o = JsonObject.of(v, path, fail);
  const state = readCheckpointState({ step: o.value.step, rng: o.value.rng, order: o.value.order, adam_steps: [], history: [], validation: [] }, path, fail);
  if (state.step > checkpointStep) fail(`${path}.step ${state.step} is after the checkpoint's step ${checkpointStep}`);
  return { step: state.step, rng: state.rng, order: state.order };
}

/**
 * The LoRA that sampled a checkpoint's round, by parameter name: exactly the checkpoint's tensors by name and
 * size, every value finite. `key` names a tensor as the file stores it.
 */
export function readRoundTensors(
  entries: Iterable<[string, { shape: number[]; data: Float32Array }]>,
  params: Checkpoint['tensors'],
  key: (name: string) => string,
  fail: Fail,
): RoundCheckpoint['tensors'] {
  const round = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of entries) {
    if (!Object.hasOwn(params, name)) fail(`tensor ${show(key(name))} is not one of the checkpoint's tensors`);
    const size = params[name].data.length;
    if (t.data.length !== size) fail(`tensor ${show(key(name))} has ${t.data.length} values, the checkpoint's ${size}`);
    const bad = nonFiniteIndex(t.data);
    if (bad >= 0) fail(`tensor ${show(key(name))} has NaN or infinite values (the first at index ${bad})`);
    round.set(name, { shape: t.shape, data: t.data });
  }
  for (const name of Object.keys(params)) if (!round.has(name)) fail(`the sampling round lacks tensor ${show(key(name))}`);
  return Object.fromEntries(round);
}
