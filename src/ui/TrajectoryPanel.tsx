// The rollout of one training sample of the watched run, as the worker captured it at its latest step: the ideal
// path (z0, z_sigma0), the model's rollout state ẑ1, and for each re-noised auxiliary state z' its sigma, the
// correction target and the x̂0 the model implies there.
import { studio, useStudioStore } from '../store/studio';
import type { GroupFrame, RgbaImage } from '../worker/protocol';
import { methodLabel } from '../train/methods/catalog';
import { RgbaCanvas } from './RgbaCanvas';
import { Section } from './Section';

const SIZE = 104;

function Tile({ image, label, sub, testId }: { image: RgbaImage; label: string; sub?: string; testId: string }) {
  return (
    <figure className="tile">
      <RgbaCanvas image={image} size={SIZE} testId={testId} title={label} />
      <figcaption>
        {label}
        {sub && <span className="muted small"> {sub}</span>}
      </figcaption>
    </figure>
  );
}

/** Flow-GRPO's groups: per prompt, the images the policy drew, each with its reward and advantage. */
function GroupsView({ frame, name }: { frame: GroupFrame; name: string }) {
  return (
    <div className="trajectory" data-testid="grpo-groups" data-step={frame.step}>
      <p className="muted small traj-caption">
        {name}, step {frame.step}: each prompt's group as the SDE sampler drew it, with its reward r and advantage A (reward minus the group's mean,
        over the spread). Samples with A = 0 are not trained.
      </p>
      {frame.groups.map((g, i) => (
        <div key={i} className="group-row" data-testid="grpo-group">
          <p className="small">
            <q>{g.prompt}</q>
          </p>
          <div className="traj-row">
            {g.samples.map((s, j) => (
              <Tile key={j} image={s.image} label={`r ${s.reward.toFixed(2)}`} sub={`A ${s.advantage >= 0 ? '+' : ''}${s.advantage.toFixed(2)}`} testId="grpo-sample" />
            ))}
          </div>
        </div>
      ))}
    </div>
  );
}

export function TrajectoryPanel() {
  const runs = useStudioStore((s) => s.runs);
  const order = useStudioStore((s) => s.runOrder);
  const { watched, frame, groups } = useStudioStore((s) => s.trajectory);
  const run = watched ? runs[watched] : null;

  const picker = (
    <label className="inline-select">
      <span className="muted small">Run</span>
      <select value={watched ?? ''} onChange={(e) => studio.watch(e.currentTarget.value || null)} data-testid="trajectory-run">
        <option value="">none</option>
        {order
          .map((id) => runs[id])
          .filter(Boolean)
          .map((r) => (
            <option key={r.id} value={r.id}>
              {r.name} ({methodLabel(r.method)})
            </option>
          ))}
      </select>
    </label>
  );

  let body;
  if (run?.method === 'grpo') {
    body =
      groups && groups.runId === run.id ? (
        <GroupsView frame={groups} name={run.name} />
      ) : (
        <p className="empty muted" data-testid="trajectory-waiting">
          {run.status === 'running' || run.status === 'queued' ? (
            <>
              <span className="spinner" aria-hidden="true" /> Waiting for the next captured step of {run.name} (one every few steps)…
            </>
          ) : (
            `${run.name} shows its sampled groups while it trains: resume it to see them.`
          )}
        </p>
      );
  } else if (!run) {
    body = <p className="empty muted">Pick a run to watch its rollout trajectories as it trains (Train picks the SOAR run by itself).</p>;
  } else if (!frame || frame.runId !== run.id) {
    body = (
      <p className="empty muted" data-testid="trajectory-waiting">
        <span className="spinner" aria-hidden="true" />{' '}
        {run.status === 'running' || run.status === 'queued'
          ? `Waiting for the next captured step of ${run.name} (one every few steps)…`
          : `Computing a frame of ${run.name} at step ${run.step} (one step of its first batch, without an update)…`}
      </p>
    );
  } else {
    body = (
      <div className="trajectory" data-testid="trajectory" data-step={frame.step} data-aux={frame.aux.length}>
        <p className="muted small traj-caption">
          {run.name}, step {frame.step}: one sample of the batch. σ = 1 is noise; the rollout takes one CFG Euler step from σ₀ to σ₁, then
          re-noises toward the same noise at σ′ ∈ [σ₁, 1).
        </p>
        <div className="traj-row">
          <Tile image={frame.z0} label="z₀" sub="data" testId="traj-z0" />
          <span className="arrow" aria-hidden="true">→</span>
          <Tile image={frame.zSigma0} label="z_σ₀" sub={`σ₀ = ${frame.sigma0.toFixed(3)}`} testId="traj-zsigma0" />
          {frame.rollout && (
            <>
              <span className="arrow" aria-hidden="true">→</span>
              <Tile image={frame.rollout} label="rollout ẑ₁" sub={frame.sigma1 !== null ? `σ₁ = ${frame.sigma1.toFixed(3)}` : undefined} testId="traj-rollout" />
            </>
          )}
        </div>
        {frame.aux.length > 0 ? (
          <table className="aux-table">
            <thead>
              <tr>
                <th>σ′</th>
                <th>re-noised z′</th>
                <th>correction target</th>
                <th>predicted x̂₀</th>
              </tr>
            </thead>
            <tbody>
              {frame.aux.map((a, i) => (
                <tr key={i} data-testid="traj-aux">
                  <td className="tabular">{a.sigma.toFixed(3)}</td>
                  <td>
                    <RgbaCanvas image={a.state} size={80} testId="traj-aux-state" />
                  </td>
                  <td>
                    <RgbaCanvas image={a.target} size={80} testId="traj-aux-target" />
                  </td>
                  <td>
                    <RgbaCanvas image={a.predictedX0} size={80} testId="traj-aux-x0" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted small">{run.method === 'sft' ? 'SFT trains on the ideal path only: no rollout, no auxiliary states.' : 'No auxiliary states at this step.'}</p>
        )}
      </div>
    );
  }

  return (
    <Section id="trajectory" title="Rollout trajectories" aside={picker} testId="trajectory-panel">
      {body}
    </Section>
  );
}
