// Live curves: every metric of every run on a shared step axis, one colour per run, with EMA smoothing, a log
// scale and outlier clipping; the settings are remembered across reloads.
import { useEffect, useState } from 'react';
import { useStudioStore } from '../store/studio';
import { Chart, type ChartSeries } from './Chart';
import { chartData, metricsFor, type ChartSettings } from './chart-data';
import { runColors } from './run-colors';
import { methodLabel } from '../train/methods/catalog';
import { Section, useTrainingView } from './Section';
import { loadChartSettings, saveChartSettings } from './settings';

/** Chart height in the training view: eight curves in two columns beside the run cards on one 800 px screen. */
const TRAINING_CHART_HEIGHT = 84;

export function ChartsPanel() {
  const training = useTrainingView();
  const runs = useStudioStore((s) => s.runs);
  const order = useStudioStore((s) => s.runOrder);
  const [settings, setSettings] = useState<ChartSettings>(loadChartSettings);
  useEffect(() => saveChartSettings(settings), [settings]);

  const colors = runColors(order, runs);
  const shown = order.map((id) => runs[id]).filter(Boolean);
  const series: ChartSeries[] = shown.map((r) => ({ id: r.id, label: `${r.name}`, color: colors[r.id] }));

  const controls = (
    <div className="chart-controls" data-testid="chart-controls">
      <label className="slider" title="Exponential moving average of the per-step values (0 = raw)">
        <span>Smoothing</span>
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={settings.smoothing}
          onChange={(e) => setSettings({ ...settings, smoothing: Number(e.currentTarget.value) })}
          data-testid="chart-smoothing"
        />
        <span className="tabular value">{settings.smoothing.toFixed(2)}</span>
      </label>
      <label className="check">
        <input type="checkbox" checked={settings.logScale} onChange={(e) => setSettings({ ...settings, logScale: e.currentTarget.checked })} data-testid="chart-log" /> log scale
      </label>
      <label className="check" title="Fit the y axis to the 2nd–98th percentile, so one spike does not flatten the curve">
        <input type="checkbox" checked={settings.clipOutliers} onChange={(e) => setSettings({ ...settings, clipOutliers: e.currentTarget.checked })} data-testid="chart-clip" /> clip outliers
      </label>
    </div>
  );

  return (
    <Section id="charts" title="Curves" aside={controls} testId="charts-panel">
      {shown.length === 0 ? (
        <p className="empty muted">The curves of every run appear here as it trains: SFT and SOAR overlaid, one colour per run.</p>
      ) : (
        <>
          <ul className="legend" aria-label="Runs">
            {shown.map((r) => (
              <li key={r.id}>
                <span className="swatch" style={{ background: colors[r.id] }} aria-hidden="true" /> {r.name} <span className="muted small">{methodLabel(r.method)}</span>
              </li>
            ))}
          </ul>
          <div className="charts">
            {metricsFor(shown.map((r) => r.method)).map((m) => {
              const { data, range, points } = chartData(shown, m, settings);
              return (
                <figure key={m.key} className="chart" data-metric={m.key} data-points={JSON.stringify(points)}>
                  <figcaption title={`${m.title}: ${m.hint}`}>
                    <strong>{m.title}</strong> <span className="muted small">{m.hint}</span>
                  </figcaption>
                  <Chart testId={`chart-${m.key}`} series={series} data={data} range={range} logScale={settings.logScale} height={training ? TRAINING_CHART_HEIGHT : undefined} />
                </figure>
              );
            })}
          </div>
        </>
      )}
    </Section>
  );
}
