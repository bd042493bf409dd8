// Compare: the same prompts and the same seeds sampled with the base alone and with each chosen run's LoRA, side
// by side; evaluator scores per column when the worker has them, and a scrubber over the denoising trajectory.
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { heldOutPrompts } from '../data/builtin/heldout';
import { studio, useStudioStore, type RunView } from '../store/studio';
import type { CompareColumn, DatasetSummary, RgbaImage } from '../worker/protocol';
import { Progress } from './DatasetPanel';
import { METHOD_IDS, methodLabel } from '../train/methods/catalog';
import { RgbaCanvas } from './RgbaCanvas';
import { ProblemNotice, Section } from './Section';

/** One novel prompt per compositional task: combinations the built-in `clean` split never shows. */
export function defaultPrompts(): string[] {
  return heldOutPrompts({ novelPerTask: 1, inDistPerTask: 0 }).map((p) => p.text);
}

/** A user's dataset: what its own captions say (distinct, the first four). Null for the built-in data. */
export function datasetPrompts(summary: DatasetSummary | null): string[] | null {
  if (!summary || summary.format === 'builtin') return null;
  const captions = [...new Set(summary.preview.map((p) => p.caption).filter(Boolean))];
  return captions.length ? captions.slice(0, 4) : null;
}

/** The runs compared by default: the newest run of each method that has trained at least a step. */
export function defaultRuns(order: string[], runs: Record<string, RunView>): string[] {
  const pick: string[] = [];
  for (const m of METHOD_IDS) {
    const id = [...order].reverse().find((i) => runs[i]?.method === m && usable(runs[i]));
    if (id) pick.push(id);
  }
  return pick;
}

const usable = (r: RunView) => r.step > 0 || r.checkpointStep > 0;

export function ComparePanel() {
  const runs = useStudioStore((s) => s.runs);
  const order = useStudioStore((s) => s.runOrder);
  const compare = useStudioStore((s) => s.compare);
  const baseReady = useStudioStore((s) => s.base.status === 'ready');
  const dataset = useStudioStore((s) => s.dataset.summary);
  const basePreset = useStudioStore((s) => s.base.preset);
  const ownPrompts = datasetPrompts(dataset);
  const fitting = () => (ownPrompts ?? defaultPrompts()).join('\n');
  const [promptText, setPromptText] = useState(fitting);
  const [edited, setEdited] = useState(false);
  // The prompts follow the loaded dataset until the user writes their own.
  useEffect(() => {
    if (!edited) setPromptText(fitting());
  }, [dataset?.name, dataset?.format]);
  const [seed, setSeed] = useState('1234');
  const [steps, setSteps] = useState(20);
  const [cfg, setCfg] = useState('4.5');
  const [capture, setCapture] = useState(true);
  const [chosen, setChosen] = useState<string[] | null>(null); // null: follow the default choice
  const imports = useStudioStore((s) => s.imports);
  const candidates = [
    ...order
      .map((id) => runs[id])
      .filter((r) => r && usable(r))
      .map((r) => ({ id: r.id, name: r.name, note: `${methodLabel(r.method)}, step ${r.step}` })),
    ...Object.values(imports).map((i) => ({ id: i.id, name: i.name, note: 'imported LoRA' })),
  ];
  const selected = (chosen ?? defaultRuns(order, runs)).filter((id) => runs[id] || imports[id]);

  const prompts = promptText
    .split('\n')
    .map((p) => p.trim())
    .filter(Boolean);
  const seedN = Number(seed);
  const cfgN = Number(cfg);
  const problems: string[] = [];
  if (prompts.length === 0) problems.push('write at least one prompt');
  if (prompts.length > 16) problems.push('at most 16 prompts at once');
  if (!Number.isInteger(seedN) || seedN < 0) problems.push('the seed must be a whole number ≥ 0');
  if (!Number.isFinite(cfgN) || cfgN < 0 || cfgN > 50) problems.push('CFG must be between 0 and 50');
  if (!baseReady) problems.push('waiting for the base model');
  const busy = compare.status === 'pending';

  const sample = () =>
    studio.sample({ prompts, seed: seedN, steps, cfgScale: cfgN, runs: selected, captureTrajectory: capture });

  return (
    <Section id="compare" title="Compare" testId="compare-panel" aside={<span className="muted small">base vs base + LoRA, same prompts and seeds</span>}>
      <div className="compare-form">
        <label className="field field-prompts">
          <span className="field-label">Prompts, one per line</span>
          <textarea
            rows={4}
            value={promptText}
            onChange={(e) => {
              setPromptText(e.currentTarget.value);
              setEdited(true);
            }}
            spellCheck={false}
            data-testid="compare-prompts"
          />
          <span className="field-hint">
            {ownPrompts ? `Defaults: captions of ${dataset!.name}.` : 'Defaults: held-out colour–shape combinations the built-in training split never shows.'}{' '}
            <button
              type="button"
              className="link"
              onClick={() => {
                setPromptText(fitting());
                setEdited(false);
              }}
            >
              Reset
            </button>
          </span>
        </label>
        <div className="compare-settings">
          <label className="field">
            <span className="field-label">Seed</span>
            <input type="text" inputMode="numeric" value={seed} onChange={(e) => setSeed(e.currentTarget.value)} data-testid="compare-seed" />
          </label>
          <label className="field">
            <span className="field-label">CFG</span>
            <input type="text" inputMode="decimal" value={cfg} onChange={(e) => setCfg(e.currentTarget.value)} data-testid="compare-cfg" />
          </label>
          <label className="field field-slider">
            <span className="field-label">
              Steps <span className="tabular">{steps}</span>
            </span>
            <input type="range" min={1} max={60} value={steps} onChange={(e) => setSteps(Number(e.currentTarget.value))} data-testid="compare-steps" />
          </label>
          <label className="check">
            <input type="checkbox" checked={capture} onChange={(e) => setCapture(e.currentTarget.checked)} /> capture the denoising trajectory
          </label>
        </div>
        <div className="compare-runs">
          <span className="field-label">Columns</span>
          <label className="check">
            <input type="checkbox" checked disabled /> base
          </label>
          {candidates.length === 0 && <span className="muted small">no trained runs yet: only the base</span>}
          {candidates.map((r) => (
            <label key={r.id} className="check">
              <input
                type="checkbox"
                checked={selected.includes(r.id)}
                onChange={(e) => setChosen(e.currentTarget.checked ? [...selected, r.id] : selected.filter((x) => x !== r.id))}
                data-testid="compare-run"
                data-run-id={r.id}
              />{' '}
              {r.name} <span className="muted small">({r.note})</span>
            </label>
          ))}
        </div>
      </div>
      <div className="train-row">
        <button type="button" className="btn btn-primary" disabled={busy || problems.length > 0} onClick={sample} data-testid="compare-sample">
          {busy ? 'Sampling…' : 'Sample now'}
        </button>
        {problems.length > 0 ? <span className="muted">{problems.join(' · ')}</span> : <span className="muted">{prompts.length} prompt{prompts.length === 1 ? '' : 's'} × {1 + selected.length} columns, {steps} steps</span>}
      </div>
      {busy && (
        <div className="ingest-progress" data-testid="compare-progress">
          <div className="progress-label">
            <span>
              <span className="spinner" aria-hidden="true" /> Sampling in the worker (training runs pause between steps meanwhile)
            </span>
            {compare.progress && (
              <span className="muted tabular">
                {compare.progress.done} / {compare.progress.total}
              </span>
            )}
          </div>
          <Progress value={compare.progress && compare.progress.total ? compare.progress.done / compare.progress.total : null} />
        </div>
      )}
      {compare.error && <ProblemNotice testId="compare-error" title="Sampling failed." problem={{ message: compare.error, advice: 'Check the settings and try again; if the GPU was lost, reload the page.' }} onDismiss={studio.dismissCompareError} />}
      {ownPrompts && basePreset === 'studio-s' && (
        // The built-in base was pretrained on another domain: say what to expect of it on this one.
        <p className="notice notice-warn domain-note" data-testid="compare-domain-note">
          The built-in base knows flat coloured shapes at 32×32 px, not {dataset!.name}: its samples will not look like your images.
          A LoRA moves it toward them over many more steps than a quick run; a base pretrained on your kind of images is the way to
          good samples.
        </p>
      )}
      {compare.result && <CompareGrid columns={compare.result.columns} prompts={compare.result.prompts} seed={compare.result.request?.seed ?? null} />}
    </Section>
  );
}

function CompareGrid({ columns, prompts, seed }: { columns: CompareColumn[]; prompts: string[]; seed: number | null }) {
  const levels = useMemo(() => Math.max(0, ...columns.flatMap((c) => (c.trajectories ?? []).map((t) => t.length))), [columns]);
  const [pos, setPos] = useState<number | null>(null); // null: the final images
  const at = pos === null || pos >= levels ? null : pos;
  const imageOf = (c: CompareColumn, p: number): RgbaImage | undefined => (at === null ? c.images[p] : (c.trajectories?.[p]?.[Math.min(at, (c.trajectories[p]?.length ?? 1) - 1)] ?? c.images[p]));
  return (
    <div className="compare-result" data-testid="compare-result" data-columns={columns.length} data-seed={seed ?? ''}>
      {levels > 0 && (
        <label className="scrubber">
          <span className="field-label">Denoising</span>
          <input type="range" min={0} max={levels} value={pos ?? levels} onChange={(e) => setPos(Number(e.currentTarget.value))} data-testid="compare-scrubber" />
          <span className="tabular muted">{at === null ? 'final' : `state ${at + 1} / ${levels}`}</span>
        </label>
      )}
      <div className="compare-grid" style={{ gridTemplateColumns: `minmax(140px, 1.2fr) repeat(${columns.length}, minmax(0, 1fr))` }}>
        <div className="cg-head" />
        {columns.map((c, i) => (
          <div key={i} className="cg-head" data-testid="compare-column" data-label={c.label} data-run-id={c.runId ?? 'base'} data-seed={seed ?? ''}>
            <strong>{c.label}</strong>
            {c.scores ? (
              <span className="score" data-testid="compare-score" title={Object.entries(c.scores.perTask).map(([k, v]) => `${k}: ${(v * 100).toFixed(0)}%`).join('\n')}>
                score {(c.scores.overall * 100).toFixed(0)}%
              </span>
            ) : (
              <span className="muted small" title="The GenEval-style evaluator reads only the built-in dataset's captions (colours, shapes, counts, positions)">
                no evaluator for these prompts
              </span>
            )}
          </div>
        ))}
        {prompts.map((p, pi) => (
          <Row key={pi} prompt={p}>
            {columns.map((c, ci) => {
              const img = imageOf(c, pi);
              return <div key={ci} className="cg-cell">{img ? <RgbaCanvas image={img} size={128} testId="compare-image" title={`${c.label}: ${p}`} /> : <span className="muted">–</span>}</div>;
            })}
          </Row>
        ))}
      </div>
    </div>
  );
}

function Row({ prompt, children }: { prompt: string; children: ReactNode }) {
  return (
    <>
      <div className="cg-prompt">{prompt}</div>
      {children}
    </>
  );
}
