// The first screen's one-click comparison: the built-in base (preloaded), the built-in clean dataset, an SFT and
// a SOAR LoRA trained side by side with the demo's recipe (src/train/recipes.ts), then both sampled on the same
// prompts and seeds beside the base in the Compare panel. Every step is the ordinary studio machinery; this panel
// only chains them and shows where the comparison is.
import { useEffect, useState } from 'react';
import { useGpuStore } from '../store/gpu';
import { studio, useStudioStore, type RunView } from '../store/studio';
import { stepCost } from '../train/methods/catalog';
import { COMPARISON_RECIPE } from '../train/recipes';
import { defaultPrompts } from './ComparePanel';
import { runCounts, runsFor } from './RunConfigPanel';
import { loadPref, savePref } from './settings';
import { Section } from './Section';

/** The two runs of the latest one-click comparison, and whether their compare grid was asked for. */
export interface QuickComparison {
  sft: string;
  soar: string;
  sampled: boolean;
}

const isQuick = (v: unknown): v is QuickComparison =>
  typeof v === 'object' && v !== null && typeof (v as QuickComparison).sft === 'string' && typeof (v as QuickComparison).soar === 'string';

/** Dataset of the comparison: the built-in clean split (no held-out colour–shape pair in it). */
const BUILTIN_COUNT = 64;
export const COMPARE_SEED = 1234;

export function QuickStartPanel() {
  const [quick, setQuick] = useState<QuickComparison | null>(() => loadPref<QuickComparison | null>('quick-compare', null, (v): v is QuickComparison | null => v === null || isQuick(v)));
  useEffect(() => savePref('quick-compare', quick), [quick]);
  const gpuReady = useGpuStore((s) => s.phase === 'ready' && !s.lost);
  const base = useStudioStore((s) => s.base);
  const dataset = useStudioStore((s) => s.dataset);
  const runs = useStudioStore((s) => s.runs);
  const sft = quick ? runs[quick.sft] : undefined;
  const soar = quick ? runs[quick.soar] : undefined;
  const running = Boolean(sft && soar && (isActive(sft) || isActive(soar)));
  const finished = Boolean(sft && soar && sft.status === 'done' && soar.status === 'done');

  // Both runs done: sample them beside the base on the same prompts and seed, once.
  useEffect(() => {
    if (!quick || quick.sampled || !finished) return;
    studio.sample({ prompts: defaultPrompts(), seed: COMPARE_SEED, steps: 20, cfgScale: 4.5, runs: [quick.sft, quick.soar], captureTrajectory: true });
    setQuick({ ...quick, sampled: true });
  }, [quick, finished]);

  const blockers: string[] = [];
  if (!gpuReady) blockers.push('waiting for the GPU');
  if (base.status !== 'ready') blockers.push(base.status === 'error' ? 'the base model failed to load' : 'loading the base model');
  const start = () => {
    const s = studio.state();
    const builtinLoaded = s.dataset.status === 'ready' && (s.dataset.source ?? '').startsWith('built-in (clean');
    if (!builtinLoaded) studio.useBuiltin('clean', BUILTIN_COUNT);
    const [a, b] = runsFor('both', COMPARISON_RECIPE, runCounts(Object.values(s.runs)));
    studio.startRuns([a, b], true);
    setQuick({ sft: a.id, soar: b.id, sampled: false });
  };
  const cost = stepCost({ ...COMPARISON_RECIPE, method: 'soar' }).relativeToSft;
  const r = COMPARISON_RECIPE;
  const pretrained = base.info?.source === 'builtin';

  return (
    <Section id="quick" title="Compare SFT and SOAR" testId="quick-panel" aside={<span className="muted small">one click, everything local</span>}>
      <p className="lede">
        Train an SFT and a SOAR LoRA on the same data, seed and steps, side by side, then sample both beside the base on
        the same prompts and noise. Base: <strong>{base.info ? `${base.info.preset}${pretrained ? ' (pretrained)' : ' (random: pick a pretrained base)'}` : base.preset}</strong>;
        data: the built-in clean set ({BUILTIN_COUNT} images); {r.max_train_steps} steps of batch {r.train_batch_size}, LoRA rank {r.rank} on the attention and MLP layers; SOAR
        re-noises K = {r.trajectory_length} states per sample (a SOAR step costs {cost.toFixed(1)} SFT steps).
      </p>
      <div className="quick-row">
        <button type="button" className="btn btn-primary" disabled={blockers.length > 0 || running} onClick={start} data-testid="quick-start">
          {running ? 'Comparing…' : quick ? 'Run the comparison again' : 'Run the comparison'}
        </button>
        {blockers.length > 0 && <span className="muted">{blockers.join(' · ')}</span>}
        {dataset.status === 'loading' && running && <span className="muted">loading the built-in dataset…</span>}
      </div>
      {sft && soar && (
        <ol className="quick-steps" data-testid="quick-status" data-state={finished ? 'done' : running ? 'running' : 'stopped'}>
          <li>
            {runLine(sft)} · {runLine(soar)} — <a href="#charts">curves</a>, <a href="#trajectory">trajectories</a>
          </li>
          <li>
            {finished ? (
              <>
                Both done: the <a href="#compare">Compare</a> grid samples base, SFT and SOAR with seed {COMPARE_SEED}; the Files panel exports either LoRA.
              </>
            ) : running ? (
              'Then both are sampled beside the base in the Compare panel.'
            ) : (
              'A run stopped before the end: resume it in the Runs panel, or run the comparison again.'
            )}
          </li>
        </ol>
      )}
    </Section>
  );
}

function isActive(r: RunView): boolean {
  return r.status === 'queued' || r.status === 'running' || r.status === 'paused';
}

function runLine(r: RunView): string {
  return `${r.name}: step ${r.step}/${r.config.max_train_steps}${r.status === 'done' ? ' ✓' : r.status === 'running' ? '' : ` (${r.status})`}`;
}
