// The GPU panel: which adapter the worker got (or why there is none), its limits and features, and whether a
// compute kernel really produced the CPU's numbers on it. Reads the store only; the worker does the GPU work.
import type { AdapterSummary } from '../gpu/device';
import { useGpuStore, type GpuState } from '../store/gpu';
import { formatMs } from './format';
import { LimitsTable } from './LimitsTable';

export function GpuPanel() {
  const state = useGpuStore();
  return (
    <section className={`panel gpu-panel gpu-${state.phase}`} aria-labelledby="gpu-title" data-testid="gpu-panel" data-phase={state.phase}>
      <div className="panel-head">
        <h2 id="gpu-title">GPU</h2>
        <PhaseBadge state={state} />
        {state.adapter && (
          <span className="adapter-name" data-testid="adapter-name" title={state.adapter.description}>
            {adapterName(state.adapter.summary)}
          </span>
        )}
        {state.adapter && <SelfTest selftest={state.selftest} failed={state.errors.some((e) => e.stage === 'selftest')} />}
      </div>
      {state.phase === 'searching' && <p className="muted" data-testid="gpu-searching">Looking for a WebGPU adapter…</p>}
      {state.unavailable && <Unavailable {...state.unavailable} />}
      {state.adapter?.summary.isSoftware && <SoftwareWarning />}
      {state.kernels && <Kernels kernels={state.kernels} />}
      {state.lost && (
        <div className="notice notice-error" role="alert" data-testid="gpu-lost">
          <strong>The GPU device was lost ({state.lost.reason}).</strong> {state.lost.message} Reload the page to start again.
        </div>
      )}
      {state.errors.map((e, i) => (
        <div key={i} className="notice notice-error" role="alert" data-testid="gpu-error">
          <strong>{e.stage === 'selftest' ? 'The compute self-test could not run.' : e.stage === 'worker' ? 'The studio worker is not running.' : 'GPU error.'}</strong> {e.message}
          {e.stage === 'worker' && <p><strong>What to do: </strong>reload the page; if it happens again, use a current Chrome or Edge (the studio needs module workers and WebGPU).</p>}
        </div>
      ))}
      {state.adapter && (
        // Compact once ready: the details stay one click away (and in the DOM, for tests and screen readers).
        <details className="gpu-more" data-testid="gpu-details">
          <summary>Adapter details, limits and features</summary>
          <Details summary={state.adapter.summary} />
        </details>
      )}
    </section>
  );
}

/** Which kernel variants the worker measured fastest on this adapter (or is measuring now). */
function Kernels({ kernels }: { kernels: NonNullable<GpuState['kernels']> }) {
  if (kernels.phase === 'measuring') {
    return <p className="muted" data-testid="gpu-kernels" data-phase="measuring">Choosing the fastest kernels for this adapter (a few seconds, once)…</p>;
  }
  if (kernels.phase === 'failed') {
    return (
      <p className="muted" data-testid="gpu-kernels" data-phase="failed">
        Kernel choice could not be measured ({kernels.message}); the default kernels run: correct, perhaps slower.
      </p>
    );
  }
  return (
    <p className="muted kernels-line" data-testid="gpu-kernels" data-phase="ready" title="Measured on this adapter by the autotuner; the choice is kept per adapter">
      Kernels: {kernels.text} ({kernels.measuredMs !== null ? `measured in ${formatMs(kernels.measuredMs)}` : 'measured before, cached'})
    </p>
  );
}

function PhaseBadge({ state }: { state: GpuState }) {
  if (state.phase === 'searching') return <span className="badge">checking</span>;
  if (state.phase === 'unavailable') return <span className="badge badge-error">unavailable</span>;
  return state.adapter?.summary.isSoftware ? (
    <span className="badge badge-warn" data-testid="software-badge">software adapter</span>
  ) : (
    <span className="badge badge-ok" data-testid="hardware-badge">hardware GPU</span>
  );
}

const UNAVAILABLE_TITLE: Record<NonNullable<GpuState['unavailable']>['reason'], string> = {
  'no-webgpu': 'WebGPU is missing',
  'insecure-context': 'WebGPU is blocked on this address',
  'no-adapter': 'No GPU adapter',
  'no-device': 'No GPU device',
};

function Unavailable({ reason, message, advice }: NonNullable<GpuState['unavailable']>) {
  const title = UNAVAILABLE_TITLE[reason];
  return (
    <div className="notice notice-error notice-big" role="alert" data-testid="gpu-unavailable" data-reason={reason}>
      <h3>{title}: the studio cannot train here</h3>
      <p data-testid="gpu-unavailable-message">{message}</p>
      <p data-testid="gpu-unavailable-advice">
        <strong>What to do: </strong>
        {advice}
      </p>
    </div>
  );
}

function adapterName(s: AdapterSummary): string {
  return s.description || s.device || [s.vendor, s.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
}

function SoftwareWarning() {
  return (
    <div className="notice notice-warn" role="status" data-testid="software-warning">
      <strong>Training will be very slow on this adapter.</strong> It is a software adapter: it runs WebGPU on the
      CPU, typically 100 to 1000 times slower than a GPU. Browsers fall back to one when they find no supported GPU,
      when hardware acceleration is off, or when started with <code>--use-webgpu-adapter=swiftshader</code>. It is
      fine for trying the studio; for real training open it on a machine with a GPU (check <code>chrome://gpu</code>).
    </div>
  );
}

function SelfTest({ selftest, failed }: { selftest: GpuState['selftest']; failed: boolean }) {
  if (!selftest) {
    return failed ? null : <span className="muted selftest" data-testid="selftest-running">Running the compute self-test…</span>;
  }
  const { result, text } = selftest;
  return (
    <span
      className={result.ok ? 'selftest selftest-ok' : 'selftest selftest-fail'}
      data-testid="selftest"
      data-ok={String(result.ok)}
      data-n={result.n}
      data-max-abs-error={result.maxAbsError}
      role={result.ok ? undefined : 'alert'}
    >
      <span className="selftest-mark" aria-hidden="true">{result.ok ? '✓' : '✗'}</span>
      <span data-testid="selftest-text">{text}</span>
      <span className="muted" title="upload, dispatch and readback"> ({formatMs(result.ms)})</span>
    </span>
  );
}

function Details({ summary }: { summary: AdapterSummary }) {
  const facts: [string, string][] = [
    ['Vendor', summary.vendor],
    ['Architecture', summary.architecture],
    ['Device', summary.device],
    ['Description', summary.description],
  ];
  return (
    <div className="details">
      <div>
        <h3>Adapter</h3>
        <dl className="facts" data-testid="adapter-facts">
          {facts.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v || <span className="muted">not reported</span>}</dd>
            </div>
          ))}
        </dl>
        <h3>Features enabled</h3>
        <ul className="chips" data-testid="features">
          {summary.features.length === 0 && <li className="muted">none</li>}
          {summary.features.map((f) => (
            <li key={f} className="chip" data-feature={f}>
              {f}
            </li>
          ))}
        </ul>
      </div>
      <div>
        <h3>Limits</h3>
        <LimitsTable limits={summary.limits} />
      </div>
    </div>
  );
}
