// The project file: every run of the studio in one safetensors file, so a project moves between browsers.
//   tensors   run<i>/param/<name>     the run's LoRA tensors (checkpoint names: <module>.lora_A / .lora_B)
//             run<i>/adam.m/<j>       Adam first moments (same order as the checkpoint's parameters)
//             run<i>/adam.v/<j>       Adam second moments
//             run<i>/round/<name>     a checkpoint in the middle of a sampling round (Flow-GRPO): the LoRA that
//                                     sampled the round (src/train/round.ts)
//             run<i>/start/<name>     the LoRA a run started from (record.startLora, its tensors as shapes)
//   __metadata__ (strings, as safetensors requires)
//             format    'soar-studio-project/1'
//             base      JSON BaseInfo of the base the runs were trained on
//             runs      JSON array, per run: { record: RunRecord (config, status, history, validation, ...),
//                       checkpoint: { step, rng, order, adam_steps, history, validation, round? } | null }
//                       round: { step, rng, order, tensors: shapes } where the round began
// Runs without a checkpoint (never stepped) carry no tensors. Importing gives the runs new ids when theirs are
// taken; they come back paused at their checkpoint step (resume needs the same base and dataset).
import { readSafetensors, writeSafetensors, type LoadedTensor, type TensorToWrite } from '../codec/safetensors';
import { JsonObject, parseJson, show, type Fail } from '../codec/json';
import { checkCheckpointTensors, nonFiniteIndex, readCheckpointState, readHistory, readRoundStart, readRoundTensors, readTrainConfig, readValidation } from '../io/checkpoint-check';
import { METHOD_IDS } from '../train/methods/catalog';
import type { RoundCheckpoint } from '../train/round';
import type { Checkpoint } from '../train/trainer';
import type { RunRecord } from './persistence';
import type { BaseInfo, RunSummary } from './protocol';

export const PROJECT_FORMAT = 'soar-studio-project/1';

export interface ProjectRun {
  record: RunRecord;
  checkpoint: Checkpoint | null;
}

interface RunMeta {
  record: RunRecord;
  checkpoint: {
    step: number;
    rng: Checkpoint['rng'];
    order: Checkpoint['order'];
    adam_steps: number[];
    history: Checkpoint['history'];
    validation: Checkpoint['validation'];
    tensors: Record<string, number[]>;
    round?: Omit<RoundCheckpoint, 'tensors'> & { tensors: Record<string, number[]> };
  } | null;
}

const shapesOf = (tensors: Checkpoint['tensors']) => Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape]));

export function projectToBytes(base: BaseInfo | null, runs: readonly ProjectRun[]): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  const metas: RunMeta[] = runs.map((run, i) => {
    const start = run.record.startLora;
    if (start) for (const [name, t] of Object.entries(start.tensors)) tensors.set(`run${i}/start/${name}`, t);
    // The tensors travel as safetensors entries; the JSON keeps their shapes.
    const record = start ? ({ ...run.record, startLora: { ...start, tensors: shapesOf(start.tensors) } } as unknown as RunRecord) : run.record;
    const ck = run.checkpoint;
    if (!ck) return { record, checkpoint: null };
    for (const [name, t] of Object.entries(ck.tensors)) tensors.set(`run${i}/param/${name}`, t);
    ck.adam.m.forEach((m, j) => tensors.set(`run${i}/adam.m/${j}`, { shape: [m.length], data: m }));
    ck.adam.v.forEach((v, j) => tensors.set(`run${i}/adam.v/${j}`, { shape: [v.length], data: v }));
    if (ck.round) for (const [name, t] of Object.entries(ck.round.tensors)) tensors.set(`run${i}/round/${name}`, t);
    return {
      record,
      checkpoint: {
        step: ck.step,
        rng: ck.rng,
        order: ck.order,
        adam_steps: ck.adam.steps,
        history: ck.history,
        validation: ck.validation,
        tensors: shapesOf(ck.tensors),
        ...(ck.round ? { round: { step: ck.round.step, rng: ck.round.rng, order: ck.round.order, tensors: shapesOf(ck.round.tensors) } } : {}),
      },
    };
  });
  return writeSafetensors(tensors, { format: PROJECT_FORMAT, base: JSON.stringify(base), runs: JSON.stringify(metas) }, 'F32');
}

const STATUSES: readonly RunSummary['status'][] = ['queued', 'running', 'paused', 'done', 'stopped', 'error'];

/**
 * Reads a project file. Every run is checked here, record, config and checkpoint (a run refused at resume would
 * already have replaced what the user had); anything wrong refuses the whole file, naming the run and field.
 */
export function projectFromBytes(bytes: Uint8Array): { base: BaseInfo | null; runs: ProjectRun[] } {
  const fail: Fail = (m) => {
    throw new Error(`the project file is damaged: ${m}. Export the project again from the studio that made it`);
  };
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    throw new Error(`not a SOAR Studio project file (${(e as Error).message})`);
  }
  const m = file.metadata;
  if (m.format !== PROJECT_FORMAT) {
    const hint = m.format?.startsWith('soar-studio-lora/') ? ': this is a LoRA file, import it as a LoRA' : '';
    throw new Error(`not a SOAR Studio project file (format ${show(m.format ?? null)}, expected ${PROJECT_FORMAT})${hint}`);
  }
  const metas = parseJson(m.runs ?? '[]', 'metadata runs', fail);
  if (!Array.isArray(metas)) fail(`metadata runs must be a list, got ${show(metas)}`);
  const base = readBase(parseJson(m.base ?? 'null', 'metadata base', fail), fail);
  const runs = (metas as unknown[]).map((raw, i) => readRun(JsonObject.of(raw, `run ${i}`, fail), i, file.tensors, fail));
  return { base, runs };
}

function readBase(v: unknown, fail: Fail): BaseInfo | null {
  if (v === null) return null;
  const o = JsonObject.of(v, 'base', fail);
  o.str('id');
  o.str('preset');
  return o.value as unknown as BaseInfo;
}

function readRecord(o: JsonObject, i: number, files: Map<string, LoadedTensor>, fail: Fail): RunRecord {
  o.str('id');
  o.str('name');
  o.oneOf('method', METHOD_IDS);
  readTrainConfig(o.value.config, `${o.path}.config`, fail);
  o.oneOf('status', STATUSES);
  o.int('step');
  o.int('checkpointStep');
  readHistory(o, 'history');
  readValidation(o, 'validation');
  if (o.has('error')) {
    const e = o.obj('error');
    e.str('message');
    e.str('advice');
  }
  o.num('createdAt');
  o.str('baseId');
  o.str('datasetKey');
  if (o.has('group') && o.value.group !== null) o.str('group');
  const record = o.value as unknown as RunRecord;
  if (o.has('startFrom')) {
    const f = o.obj('startFrom');
    f.str('runId');
    f.str('name');
    f.oneOf('method', METHOD_IDS);
    f.int('step');
    const l = o.obj('startLora');
    const shapes = l.obj('tensors');
    const tensors: Checkpoint['tensors'] = {};
    for (const name of Object.keys(shapes.value)) {
      const shape = shapes.intList(name);
      const t = files.get(`run${i}/start/${name}`) ?? fail(`the file lacks tensor ${show(`run${i}/start/${name}`)}`);
      if (shape.length !== t.shape.length || shape.some((d, k) => d !== t.shape[k])) fail(`${shapes.path}.${show(name)} is [${shape.join(', ')}], its tensor [${t.shape.join(', ')}]`);
      const bad = nonFiniteIndex(t.data);
      if (bad >= 0) fail(`tensor ${show(`run${i}/start/${name}`)} has NaN or infinite values (the first at index ${bad})`);
      tensors[name] = { shape: t.shape, data: t.data };
    }
    record.startLora = { rank: l.int('rank', 1), alpha: l.num('alpha'), targets: l.strList('targets'), tensors };
  }
  return record;
}

function readRun(meta: JsonObject, i: number, files: Map<string, LoadedTensor>, fail: Fail): ProjectRun {
  const record = readRecord(meta.obj('record'), i, files, fail);
  if (meta.value.checkpoint === null || !meta.has('checkpoint')) return { record, checkpoint: null };
  const c = meta.obj('checkpoint');
  const state = readCheckpointState(c.value, c.path, fail);
  const tensor = (key: string) => files.get(key) ?? fail(`the file lacks tensor ${show(key)}`);
  const tensors: Checkpoint['tensors'] = {};
  const shapes = c.obj('tensors');
  for (const name of Object.keys(shapes.value)) {
    const shape = shapes.intList(name);
    const t = tensor(`run${i}/param/${name}`);
    if (shape.length !== t.shape.length || shape.some((d, k) => d !== t.shape[k])) fail(`${shapes.path}.${show(name)} is [${shape.join(', ')}], its tensor [${t.shape.join(', ')}]`);
    tensors[name] = { shape: t.shape, data: t.data };
  }
  const steps = state.adamSteps;
  const adam = { steps, m: steps.map((_, j) => tensor(`run${i}/adam.m/${j}`).data), v: steps.map((_, j) => tensor(`run${i}/adam.v/${j}`).data) };
  checkCheckpointTensors(tensors, adam, c.path, fail);
  const { step, rng, order, history, validation } = state;
  const round = c.has('round') ? readRound(c.obj('round'), i, tensors, step, files, fail) : null;
  return { record, checkpoint: { config: record.config, step, rng, order, tensors, adam, history, validation, ...(round ? { round } : {}) } };
}

/** A checkpoint's round in progress: where it began (before the checkpoint) and a LoRA of the checkpoint's shapes. */
function readRound(o: JsonObject, i: number, params: Checkpoint['tensors'], step: number, files: Map<string, LoadedTensor>, fail: Fail): RoundCheckpoint {
  const start = readRoundStart(o.value, o.path, step, fail);
  const shapes = o.obj('tensors');
  const names = Object.keys(shapes.value);
  if (names.length !== Object.keys(params).length || names.some((n) => !Object.hasOwn(params, n))) fail(`${shapes.path} must name the checkpoint's tensors`);
  const key = (name: string) => `run${i}/round/${name}`;
  const entries = names.map((name): [string, LoadedTensor] => [name, files.get(key(name)) ?? fail(`the file lacks tensor ${show(key(name))}`)]);
  return { ...start, tensors: readRoundTensors(entries, params, key, fail) };
}
