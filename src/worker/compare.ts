// Side-by-side samples: the same prompts and the same initial noise through the base and through the base with
// each chosen LoRA. Noise: Rng(seed), one randn draw per prompt in prompt order, drawn afresh for every column
// from a new Rng(seed), so every column starts from bit-identical z1 (and prompt i's noise does not depend on
// how many prompts follow it). CFG uses the empty caption as the unconditional branch.
import type { LoadedBase } from '../io/base-runtime';
import type { LoraSet } from '../model/lora';
import type { Engine } from '../tensor/engine';
import { Rng } from '../tensor/ops/rng';
import { concat } from '../tensor/ops/shape';
import type { Tensor } from '../tensor/tensor';
import { modelVelocity, sample } from '../sample/sampler';
import { batchImage } from './images';
import { withAdapters, type Mutex } from './lock';
import type { CompareColumn, CompareRequest, RgbaImage } from './protocol';
import { uploadEmbeddings } from '../encode/cache';

export const MAX_COMPARE_PROMPTS = 16;
export const MAX_COMPARE_STEPS = 200;

/** Scores a column's images (CHW in [-1, 1], one per prompt); null when the prompts are not ones it can judge. */
export type Scorer = (prompts: readonly string[], images: readonly Float32Array[]) => CompareColumn['scores'];

export interface ColumnSpec {
  label: string;
  runId: string | null;
  /** The adapters of the column's model (none: the base; a run that started from another: that one's, then its own). */
  loras: LoraSet[];
}

export interface CompareDeps {
  engine: Engine;
  base: LoadedBase;
  lock: Mutex;
  scorer?: Scorer | null;
  onProgress?: (done: number, total: number) => void;
}

export function checkCompareRequest(req: CompareRequest): string | null {
  if (!Array.isArray(req.prompts) || req.prompts.length === 0) return 'add at least one prompt';
  if (req.prompts.length > MAX_COMPARE_PROMPTS) return `at most ${MAX_COMPARE_PROMPTS} prompts at a time (got ${req.prompts.length})`;
  if (!Number.isInteger(req.steps) || req.steps < 1 || req.steps > MAX_COMPARE_STEPS) return `steps must be a whole number from 1 to ${MAX_COMPARE_STEPS} (got ${req.steps})`;
  if (!Number.isFinite(req.cfgScale) || req.cfgScale < 0 || req.cfgScale > 50) return `the CFG scale must be between 0 and 50 (got ${req.cfgScale})`;
  if (!Number.isSafeInteger(req.seed) || req.seed < 0) return `the seed must be a non-negative whole number (got ${req.seed})`;
  return null;
}

export async function compareSample(deps: CompareDeps, req: CompareRequest, columns: readonly ColumnSpec[]): Promise<CompareColumn[]> {
  const problem = checkCompareRequest(req);
  if (problem) throw new RangeError(problem);
  const { engine, base } = deps;
  const model = base.model;
  const P = req.prompts.length;
  const C = model.config.in_channels;
  const R = base.manifest.meta.resolution;
  const cond = await base.embeddings.stacked(req.prompts);
  const unc = await base.embeddings.stacked(new Array(P).fill(''));
  const out: CompareColumn[] = [];
  deps.onProgress?.(0, columns.length);
  for (const col of columns) {
    const result = await deps.lock.run(() =>
      withAdapters(model, col.loras, async () => {
        const r = engine.scope(() => {
          const rng = new Rng(req.seed);
          const z1 = concat(req.prompts.map(() => rng.randn(engine, [1, C, R, R], 'z1')), 0);
          return sample(engine, modelVelocity(model), z1, uploadEmbeddings(engine, cond), uploadEmbeddings(engine, unc), {
            steps: req.steps,
            cfgScale: req.cfgScale,
            shift: base.manifest.meta.shift,
            stepType: 'euler',
            noiseScale: 0,
            captureTrajectory: req.captureTrajectory,
          }, null);
        });
        const owned: Tensor[] = [r.image, ...(r.trajectory ? [...r.trajectory.states, ...r.trajectory.predictions] : [])];
        try {
          const image = await r.image.toArray();
          const states = r.trajectory ? await Promise.all(r.trajectory.states.map((s) => s.toArray())) : null;
          return { image, states };
        } finally {
          for (const t of new Set(owned)) t.release();
        }
      }),
    );
    const shape = [P, C, R, R];
    const per = C * R * R;
    const images: RgbaImage[] = req.prompts.map((_, i) => batchImage(result.image, shape, i));
    const trajectories = result.states ? req.prompts.map((_, i) => result.states!.map((s) => batchImage(s, shape, i))) : null;
    const chw = req.prompts.map((_, i) => result.image.slice(i * per, (i + 1) * per));
    out.push({ label: col.label, runId: col.runId, images, trajectories, scores: deps.scorer ? deps.scorer(req.prompts, chw) : null });
    deps.onProgress?.(out.length, columns.length);
  }
  return out;
}
