// The project file: every run of the studio in one safetensors file, so a project moves between browsers.
//   tensors   run<i>/param/<name>     the run's LoRA tensors (checkpoint names: <module>.lora_A / .lora_B)
//             run<i>/adam.m/<j>       Adam first moments (same order as the checkpoint's parameters)
//             run<i>/adam.v/<j>       Adam second moments
//   __metadata__ (strings, as safetensors requires)
//             format    'soar-studio-project/1'
//             base      JSON BaseInfo of the base the runs were trained on
//             runs      JSON array, per run: { record: RunRecord (config, status, history, validation, ...),
//                       checkpoint: { step, rng, order, adam_steps, history, validation } | null }
// Runs without a checkpoint (never stepped) carry no tensors. Importing gives the runs new ids when theirs are
// taken; they come back paused at their checkpoint step (resume needs the same base and dataset).
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../codec/safetensors';
import type { Checkpoint } from '../train/trainer';
import type { RunRecord } from './persistence';
import type { BaseInfo } from './protocol';

export const PROJECT_FORMAT = 'soar-studio-project/1';

export interface ProjectRun {
  record: RunRecord;
  checkpoint: Checkpoint | null;
}

interface RunMeta {
  record: RunRecord;
  checkpoint: { step: number; rng: Checkpoint['rng']; order: Checkpoint['order']; adam_steps: number[]; history: Checkpoint['history']; validation: Checkpoint['validation']; tensors: Record<string, number[]> } | null;
}

export function projectToBytes(base: BaseInfo | null, runs: readonly ProjectRun[]): Uint8Array {
  const tensors = new Map<string, TensorToWrite>();
  const metas: RunMeta[] = runs.map((run, i) => {
    const ck = run.checkpoint;
    if (!ck) return { record: run.record, checkpoint: null };
    for (const [name, t] of Object.entries(ck.tensors)) tensors.set(`run${i}/param/${name}`, t);
    ck.adam.m.forEach((m, j) => tensors.set(`run${i}/adam.m/${j}`, { shape: [m.length], data: m }));
    ck.adam.v.forEach((v, j) => tensors.set(`run${i}/adam.v/${j}`, { shape: [v.length], data: v }));
    return {
      record: run.record,
      checkpoint: {
        step: ck.step,
        rng: ck.rng,
        order: ck.order,
        adam_steps: ck.adam.steps,
        history: ck.history,
        validation: ck.validation,
        tensors: Object.fromEntries(Object.entries(ck.tensors).map(([k, t]) => [k, t.shape])),
      },
    };
  });
  return writeSafetensors(tensors, { format: PROJECT_FORMAT, base: JSON.stringify(base), runs: JSON.stringify(metas) }, 'F32');
}

export function projectFromBytes(bytes: Uint8Array): { base: BaseInfo | null; runs: ProjectRun[] } {
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(bytes);
  } catch (e) {
    throw new Error(`not a SOAR Studio project file (${(e as Error).message})`);
  }
  const m = file.metadata;
  if (m.format !== PROJECT_FORMAT) {
    const hint = m.format?.startsWith('soar-studio-lora/') ? ': this is a LoRA file, import it as a LoRA' : '';
    throw new Error(`not a SOAR Studio project file (format ${JSON.stringify(m.format ?? null)}, expected ${PROJECT_FORMAT})${hint}`);
  }
  let metas: RunMeta[];
  let base: BaseInfo | null;
  try {
    metas = JSON.parse(m.runs ?? '[]') as RunMeta[];
    base = JSON.parse(m.base ?? 'null') as BaseInfo | null;
  } catch (e) {
    throw new Error(`the project file's metadata is damaged (${(e as Error).message})`);
  }
  const runs = metas.map((meta, i): ProjectRun => {
    const c = meta.checkpoint;
    if (!c) return { record: meta.record, checkpoint: null };
    const tensor = (key: string) => {
      const t = file.tensors.get(key);
      if (!t) throw new Error(`the project file lacks ${key}`);
      return t;
    };
    const tensors: Checkpoint['tensors'] = {};
    for (const name of Object.keys(c.tensors)) {
      const t = tensor(`run${i}/param/${name}`);
      tensors[name] = { shape: t.shape, data: t.data };
    }
    const adam = { steps: c.adam_steps, m: c.adam_steps.map((_, j) => tensor(`run${i}/adam.m/${j}`).data), v: c.adam_steps.map((_, j) => tensor(`run${i}/adam.v/${j}`).data) };
    return {
      record: meta.record,
      checkpoint: { config: meta.record.config, step: c.step, rng: c.rng, order: c.order, tensors, adam, history: c.history, validation: c.validation },
    };
  });
  return { base, runs };
}
