// "SOAR, then Flow-GRPO": the run form's choice of what a Flow-GRPO run starts from, the base or a finished SFT or
// SOAR run's LoRA (kept on under the one Flow-GRPO trains, and the KL's reference). The worker copies that LoRA
// into the new run when it starts (runs.ts), so the choice holds after a reload.
import type { RunView } from '../store/studio';
import { methodLabel } from '../train/methods/catalog';

/** Runs a Flow-GRPO run can start from: finished (done or stopped with a checkpoint) SFT and SOAR runs, newest first. */
export function startableRuns(runs: Record<string, RunView>, order: readonly string[]): RunView[] {
  return [...order]
    .reverse()
    .map((id) => runs[id])
    .filter((r): r is RunView => Boolean(r) && (r.method === 'sft' || r.method === 'soar') && (r.status === 'done' || r.status === 'stopped') && r.checkpointStep > 0);
}

export function StartFromField({ runs, value, onChange }: { runs: RunView[]; value: string | null; onChange: (id: string | null) => void }) {
  // A choice that is gone (deleted, or resumed and no longer finished) reads as the base.
  const current = runs.some((r) => r.id === value) ? value : null;
  return (
    <label className="field field-start" data-field="start_from">
      <span className="field-label" title="The LoRA this run trains on top of">
        Start from
      </span>
      <select value={current ?? ''} onChange={(e) => onChange(e.currentTarget.value || null)} data-testid="cfg-start_from">
        <option value="">the base</option>
        {runs.map((r) => (
          <option key={r.id} value={r.id}>
            {`${r.name} (${methodLabel(r.method)}, step ${r.checkpointStep})`}
          </option>
        ))}
      </select>
      <span className="field-hint">{runs.length ? 'a finished run: its LoRA stays on under this one' : 'finish an SFT or SOAR run to start from it'}</span>
    </label>
  );
}
