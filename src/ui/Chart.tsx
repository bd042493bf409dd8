// One uPlot chart: a metric of several runs on a shared step axis. uPlot is created once per (series set, log
// scale) and fed with setData afterwards, at most once per animation frame; the width follows the container.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatTick, formatValue } from './format';

export interface ChartSeries {
  id: string;
  label: string;
  color: string;
}

interface Props {
  testId: string;
  series: ChartSeries[];
  data: [number[], ...Array<Array<number | null>>];
  range: [number, number] | null;
  logScale: boolean;
  height?: number;
}

const STEP_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 25_000, 50_000, 100_000];

const AXIS = { stroke: '#9098a5', grid: { stroke: '#2a2f38', width: 1 }, ticks: { stroke: '#2c313a', width: 1 }, font: '11px system-ui, sans-serif' };

export function Chart({ testId, series, data, range, logScale, height = 170 }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const rangeRef = useRef(range);
  rangeRef.current = range;
  const dataRef = useRef(data);
  dataRef.current = data;
  const key = `${logScale}|${series.map((s) => `${s.id}:${s.color}:${s.label}`).join(',')}`;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: true },
      cursor: { sync: { key: 'soar-metrics' }, points: { size: 6 } },
      scales: {
        x: { time: false },
        y: {
          distr: logScale ? 3 : 1,
          log: 10,
          range: (_u, min, max) => {
            const r = rangeRef.current;
            if (r) return r;
            if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return logScale ? [0.1, 10] : [0, 1];
            if (logScale) return uPlot.rangeLog(min, max, 10, false);
            // A flat curve (a constant learning rate) gets ±10% around its value, not ticks at the 7th digit.
            if (max - min <= Math.abs(max) * 1e-3) return [Math.min(0, min * 0.9), max === 0 ? 1 : max * 1.1];
            return uPlot.rangeNum(min, max, 0.1, true);
          },
        },
      },
      axes: [
        // Steps are whole numbers: no 2.5 ticks.
        { ...AXIS, size: 30, space: 32, incrs: STEP_INCRS },
        {
          ...AXIS,
          // Wide enough for the longest tick label ("1.5e-3", "0.0025"): about 7 px per character at 11 px.
          size: (_u, values) => 26 + 7 * Math.max(3, ...(values ?? []).map((v) => String(v).length)),
          values: (_u, vals) => vals.map((v) => formatTick(v)),
        },
      ],
      series: [
        { label: 'step', value: (_u, v) => (v === null ? '–' : String(v)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.6,
          spanGaps: true,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => formatValue(v),
        })),
      ],
    };
    const u = new uPlot(opts, dataRef.current as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- recreated only when the series set or scale changes
  }, [key, height]);

  // New points: one setData per frame however many messages arrived.
  useEffect(() => {
    const id = requestAnimationFrame(() => plot.current?.setData(data as uPlot.AlignedData, true));
    return () => cancelAnimationFrame(id);
  }, [data, range]);

  const empty = data[0].length === 0;
  return (
    <div className="chart-box" data-testid={testId}>
      <div ref={box} className="chart-canvas" />
      {empty && <div className="chart-empty muted">no points yet</div>}
    </div>
  );
}
