// The runs: one card per run with its progress, throughput, ETA, last checkpoint and controls. A run that failed
// says why and what to do (the worker's advice); its last checkpoint stays usable.
import { studio, useStudioStore, type RunView } from '../store/studio';
import { Progress } from './DatasetPanel';
import { formatDuration, formatValue } from './format';
import { runColors } from './run-colors';
import { methodLabel } from '../train/methods/catalog';
import { ProblemNotice, Section } from './Section';

const STATUS_LABEL: Record<RunView['status'], string> = {
  queued: 'queued',
  running: 'running',
  paused: 'paused',
  done: 'done',
  stopped: 'stopped',
  error: 'failed',
};

export function RunsPanel() {
  const runs = useStudioStore((s) => s.runs);
  const order = useStudioStore((s) => s.runOrder);
  const restore = useStudioStore((s) => s.restore);
  const watched = useStudioStore((s) => s.trajectory.watched);
  const colors = runColors(order, runs);
  const list = [...order].reverse().map((id) => runs[id]).filter(Boolean);
  const running = list.filter((r) => r.status === 'running').length;
  return (
    <Section
      id="runs"
      title="Runs"
      testId="runs-panel"
      aside={
        <span className="muted small" data-testid="runs-restore" data-state={restore}>
          {restore === 'pending' ? 'restoring saved runs…' : `${list.length} run${list.length === 1 ? '' : 's'}${running ? `, ${running} training` : ''}`}
        </span>
      }
    >
      {list.length === 0 ? (
        <p className="empty muted" data-testid="runs-empty">
          {restore === 'pending' ? 'Looking for runs saved in this browser…' : 'No runs yet. Load a dataset, pick a method and press Train.'}
        </p>
      ) : (
        <ul className="runs">
          {list.map((r) => (
            <RunCard key={r.id} run={r} color={colors[r.id]} watched={watched === r.id} />
          ))}
        </ul>
      )}
    </Section>
  );
}

function RunCard({ run, color, watched }: { run: RunView; color: string; watched: boolean }) {
  const total = run.config.max_train_steps;
  const frac = total > 0 ? run.step / total : 0;
  const last = run.history[run.history.length - 1];
  const active = run.status === 'running' || run.status === 'queued';
  const canResume = run.status === 'paused' || run.status === 'stopped' || run.status === 'error';
  return (
    <li className={`run run-${run.status}`} data-testid="run" data-run-id={run.id} data-method={run.method} data-status={run.status} data-step={run.step} data-checkpoint={run.checkpointStep} data-points={run.history.length}>
      <div className="run-head">
        <span className="swatch" style={{ background: color }} aria-hidden="true" />
        <strong className="run-name">{run.name}</strong>
        <span className={`tag tag-${run.method}`}>{methodLabel(run.method)}</span>
        <span className={`status status-${run.status}`} data-testid="run-status">
          {run.status === 'running' && <span className="pulse" aria-hidden="true" />}
          {STATUS_LABEL[run.status]}
        </span>
        <span className="run-actions">
          <label className="check small" title="Show this run's rollout trajectories below">
            <input type="radio" name="watch" checked={watched} onChange={() => studio.watch(run.id)} data-testid="run-watch" /> trajectories
          </label>
          {active && (
            <button type="button" className="btn btn-small" onClick={() => studio.pause(run.id)} disabled={run.status !== 'running'} data-testid="run-pause">
              Pause
            </button>
          )}
          {canResume && (run.step < total || run.checkpointStep < run.step) && (
            <button type="button" className="btn btn-small" onClick={() => studio.resume(run.id)} data-testid="run-resume">
              Resume
            </button>
          )}
          {(active || run.status === 'paused') && (
            <button type="button" className="btn btn-small btn-ghost" onClick={() => studio.stop(run.id)} data-testid="run-stop">
              Stop
            </button>
          )}
          {!active && (
            <button
              type="button"
              className="btn btn-small btn-ghost"
              onClick={() => {
                if (window.confirm(`Delete ${run.name}, its curves and its LoRA from this browser?`)) studio.remove(run.id);
              }}
              data-testid="run-delete"
            >
              Delete
            </button>
          )}
        </span>
      </div>
      {run.phase && run.status === 'running' && (
        // Before the step counter moves: what the worker is doing (the first step compiles every kernel).
        <p className="run-phase muted" data-testid="run-phase" data-kind={run.phase.kind}>
          {run.phase.message}…
        </p>
      )}
      <div className="run-progress">
        <Progress value={(run.status === 'queued' && run.step === 0) || run.phase ? null : frac} testId="run-progress" />
        <div className="run-stats">
          <span className="tabular" data-testid="run-steps">
            step {run.step.toLocaleString('en-US')} / {total.toLocaleString('en-US')}
          </span>
          <span className="tabular" data-testid="run-speed">
            {run.stepsPerSecond !== null && run.status === 'running' ? `${run.stepsPerSecond.toFixed(run.stepsPerSecond < 10 ? 2 : 0)} steps/s` : '– steps/s'}
          </span>
          <span className="tabular" data-testid="run-eta">
            ETA {run.etaSeconds !== null && run.status === 'running' ? `${formatDuration(run.etaSeconds)}${run.etaScope === 'together' ? ' (interleaved runs together)' : ''}` : '–'}
          </span>
          <span className="tabular">loss {formatValue(last?.loss)}</span>
          <span className="tabular muted" data-testid="run-checkpoint">
            {run.checkpointStep > 0 ? `saved at step ${run.checkpointStep}` : 'not saved yet'}
          </span>
          {run.startFrom && (
            <span className="small run-start-from" data-testid="run-start-from" data-from={run.startFrom.runId}>
              started from {run.startFrom.name} ({methodLabel(run.startFrom.method)}, step {run.startFrom.step})
            </span>
          )}
          <span className="muted small run-config">
            batch {run.config.train_batch_size} · lr {run.config.learning_rate} · rank {run.config.rank}
            {run.method === 'soar' ? ` · λ ${run.config.lambda_aux} · K ${run.config.trajectory_length}` : ''} · seed {run.config.seed}
          </span>
        </div>
      </div>
      {run.status === 'paused' && !run.error && run.step === run.checkpointStep && run.step > 0 && (
        <p className="hint run-hint" data-testid="run-paused-hint">
          Paused at its checkpoint (step {run.step}): Resume continues exactly from there, with the same data order and noise.
        </p>
      )}
      {run.status === 'paused' && run.error && (
        <ProblemNotice testId="run-error" kind="warn" title={`${run.name} was paused.`} problem={run.error} />
      )}
      {run.status === 'error' && run.error && (
        <ProblemNotice testId="run-error" title={`${run.name} stopped with an error.`} problem={run.error} />
      )}
    </li>
  );
}
