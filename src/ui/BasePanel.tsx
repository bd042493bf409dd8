// The base model: which preset the worker loaded, and whether it is the shipped pretrained base or a random
// (untrained) one — samples from a random base are noise, so that is said plainly.
import { studio, useStudioStore } from '../store/studio';
import { formatCount } from './format';
import { savePref } from './settings';
import { ProblemNotice, Section, useTrainingView } from './Section';

export const BASE_PRESETS: Array<{ id: string; label: string; note: string }> = [
  { id: 'tiny', label: 'tiny', note: '8×8 px, 2 layers: trains in seconds, even on a software adapter' },
  { id: 'studio-s', label: 'studio-s', note: '32×32 px, 4 layers, pretrained on the built-in data: the studio base' },
];

export function BasePanel() {
  const base = useStudioStore((s) => s.base);
  const training = useTrainingView();
  const busy = base.status === 'loading';
  const info = base.info;
  const badge =
    base.status === 'ready' && info ? (
      info.source === 'random' ? (
        <span className="badge badge-warn" data-testid="base-random">random (untrained)</span>
      ) : (
        <span className="badge badge-ok">pretrained</span>
      )
    ) : base.status === 'loading' ? (
      <span className="badge">loading</span>
    ) : base.status === 'error' ? (
      <span className="badge badge-error">failed</span>
    ) : (
      <span className="badge">waiting</span>
    );
  return (
    <Section id="base" title="Base model" aside={badge} testId="base-panel" collapsed={training && info ? `${info.id} (${info.preset}, ${info.resolution}×${info.resolution} px)` : null}>
      <div className="base-row" data-status={base.status} data-testid="base-status">
        <div className="segmented" role="radiogroup" aria-label="Base model preset">
          {BASE_PRESETS.map((p) => (
            <button
              key={p.id}
              type="button"
              role="radio"
              aria-checked={base.preset === p.id}
              className={base.preset === p.id ? 'seg seg-on' : 'seg'}
              disabled={busy}
              title={p.note}
              onClick={() => {
                if (base.preset === p.id && base.status !== 'error') return;
                savePref('base-preset', p.id);
                studio.loadBase(p.id);
              }}
              data-testid={`base-preset-${p.id}`}
            >
              {p.label}
            </button>
          ))}
        </div>
        {busy && (
          <span className="muted" data-testid="base-loading">
            <span className="spinner" aria-hidden="true" /> Loading the {base.preset} base model in the worker…
          </span>
        )}
        {base.status === 'idle' && <span className="muted">Waiting for the worker…</span>}
        {base.status === 'ready' && info && (
          <dl className="inline-facts" data-testid="base-info" data-source={info.source} data-preset={info.preset}>
            <div>
              <dt>preset</dt>
              <dd>{info.preset}</dd>
            </div>
            <div>
              <dt>weights</dt>
              <dd data-testid="base-source">{info.source === 'random' ? 'random (untrained)' : 'built-in, pretrained'}</dd>
            </div>
            <div>
              <dt>resolution</dt>
              <dd>
                {info.resolution}×{info.resolution}
              </dd>
            </div>
            <div>
              <dt>parameters</dt>
              <dd title={info.parameters.toLocaleString('en-US')}>{formatCount(info.parameters)}</dd>
            </div>
            <div>
              <dt>text encoder</dt>
              <dd data-testid="base-text-encoder">{info.textEncoder}</dd>
            </div>
          </dl>
        )}
      </div>
      {base.status === 'ready' && info?.source === 'random' && (
        <p className="hint" data-testid="base-random-note">
          No pretrained weights ship for <code>{info.preset}</code> yet, so this base is randomly initialised: training
          and every other step work, but its samples are noise until it is trained. Compare SFT and SOAR against each
          other, not against this base.
        </p>
      )}
      {base.status === 'error' && base.error && (
        <ProblemNotice
          testId="base-error"
          title={`The ${base.preset} base model could not be loaded.`}
          problem={base.error}
          action={{ label: 'Try again', onClick: () => studio.loadBase(base.preset) }}
        />
      )}
    </Section>
  );
}
