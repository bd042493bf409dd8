// Turning run histories into chart data: which metrics are charted, EMA smoothing, alignment of several runs
// on one step axis (uPlot wants one shared x array), and the y-range that clips outliers. Pure functions, so
// the chart component stays a thin wrapper around uPlot and the maths is unit-tested.
import { isMethod, METHOD_IDS, METHOD_INFOS } from '../train/methods/catalog';
import type { StepMetrics } from '../train/trainer';
import type { RunSummary } from '../worker/protocol';

/** The loop's own metrics, 'validation', or a key one of the methods declares (src/train/methods). */
export type MetricKey = string;

export interface MetricSpec {
  key: MetricKey;
  title: string;
  /** What the curve is, one line under the title. */
  hint: string;
  /** Smoothing applies to noisy per-step values, not to the schedule or the (already averaged) validation. */
  smooth: boolean;
}

/** Each method's curves once, in the catalog's order (SOAR's main loss is SFT's: one chart). */
const METHOD_METRICS: MetricSpec[] = [...new Map(METHOD_IDS.flatMap((id) => METHOD_INFOS[id].metrics.map((m) => [m.key, { ...m, smooth: true }] as const))).values()];

/** The charts for runs of these methods: the loop's own, and each method's curves when one of its runs is shown. */
export function metricsFor(methods: readonly string[]): MetricSpec[] {
  const wanted = new Set(methods.flatMap((id) => (isMethod(id) ? METHOD_INFOS[id].metrics.map((m) => m.key) : [])));
  const own = new Set(METHOD_METRICS.map((m) => m.key));
  return METRICS.filter((m) => !own.has(m.key) || wanted.has(m.key));
}

export const METRICS: MetricSpec[] = [
  { key: 'loss', title: 'Loss', hint: "the step's objective (SOAR: (main + λ·aux) / (N + λ·N_aux))", smooth: true },
  ...METHOD_METRICS,
  { key: 'validation', title: 'Validation loss', hint: 'fixed seed, same draws for every run', smooth: false },
  { key: 'grad_norm', title: 'Grad norm', hint: 'global, before clipping', smooth: true },
  { key: 'lr', title: 'Learning rate', hint: 'schedule', smooth: false },
  { key: 'ms_per_step', title: 'ms / step', hint: 'wall time per optimizer step', smooth: true },
  { key: 'gflops', title: 'GFLOP/s', hint: "the step's analytic FLOPs per wall second (its ms / step)", smooth: true },
];

export interface ChartSettings {
  /** EMA weight of the past, 0 (raw) .. 0.99. */
  smoothing: number;
  logScale: boolean;
  clipOutliers: boolean;
}

export const DEFAULT_CHART_SETTINGS: ChartSettings = { smoothing: 0.6, logScale: false, clipOutliers: true };

export interface Series {
  runId: string;
  xs: number[];
  ys: Array<number | null>;
}

/** The points of one metric of one run (skipped steps and missing values left out). */
export function metricSeries(run: Pick<RunSummary, 'id' | 'history' | 'validation'>, key: MetricKey): Series {
  if (key === 'validation') {
    return { runId: run.id, xs: run.validation.map((v) => v.step), ys: run.validation.map((v) => v.loss) };
  }
  const xs: number[] = [];
  const ys: number[] = [];
  for (const m of run.history as StepMetrics[]) {
    const v = m[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    xs.push(m.step);
    ys.push(v);
  }
  return { runId: run.id, xs, ys };
}

/** Exponential moving average with TensorBoard's debiasing (so the first points are not pulled to 0). */
export function ema(ys: Array<number | null>, weight: number): Array<number | null> {
  if (weight <= 0) return ys.slice();
  const out: Array<number | null> = [];
  let acc = 0;
  let n = 0;
  for (const y of ys) {
    if (y === null || !Number.isFinite(y)) {
      out.push(null);
      continue;
    }
    acc = acc * weight + (1 - weight) * y;
    n++;
    out.push(acc / (1 - weight ** n));
  }
  return out;
}

/** Several series on one shared, sorted x axis (uPlot's data layout): nulls where a run has no point. */
export function align(series: Series[]): [number[], ...Array<Array<number | null>>] {
  const xsSet = new Set<number>();
  for (const s of series) for (const x of s.xs) xsSet.add(x);
  const xs = [...xsSet].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const cols = series.map((s) => {
    const col: Array<number | null> = new Array(xs.length).fill(null);
    s.xs.forEach((x, i) => (col[index.get(x)!] = s.ys[i]));
    return col;
  });
  return [xs, ...cols];
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * A y-range that ignores outliers: Tukey's far-out fences (beyond 3 inter-quartile ranges from the quartiles), so
 * one spike does not flatten the curve while an ordinary steep start of training stays in view. Null when there
 * are too few points to call anything an outlier, or none lies outside (then the chart autoscales). In log scale
 * the fences are computed on log10 values.
 */
export function clippedRange(cols: Array<Array<number | null>>, log: boolean): [number, number] | null {
  const vals: number[] = [];
  for (const c of cols) for (const v of c) if (v !== null && Number.isFinite(v) && (!log || v > 0)) vals.push(log ? Math.log10(v) : v);
  if (vals.length < 8) return null;
  vals.sort((a, b) => a - b);
  const q1 = quantile(vals, 0.25);
  const q3 = quantile(vals, 0.75);
  const iqr = q3 - q1;
  const inside = vals.filter((v) => v >= q1 - 3 * iqr && v <= q3 + 3 * iqr);
  if (inside.length === vals.length || inside.length === 0) return null;
  const lo = inside[0];
  const hi = inside[inside.length - 1];
  const pad = Math.max((hi - lo) * 0.08, Math.abs(hi) * 1e-3, 1e-12);
  const range: [number, number] = [lo - pad, hi + pad];
  if (log) return [10 ** range[0], 10 ** range[1]];
  // Losses and norms are non-negative: do not invent negative axis space below the data.
  if (vals[0] >= 0 && range[0] < 0) range[0] = 0;
  return range;
}

/** Values a log axis can show (> 0); others become gaps. */
export function positiveOnly(ys: Array<number | null>): Array<number | null> {
  return ys.map((y) => (y !== null && y > 0 ? y : null));
}

/** Everything one chart draws: the aligned data after smoothing / log filtering, and the y-range. */
export function chartData(
  runs: Array<Pick<RunSummary, 'id' | 'history' | 'validation'>>,
  metric: MetricSpec,
  settings: ChartSettings,
): { data: [number[], ...Array<Array<number | null>>]; range: [number, number] | null; points: Record<string, number> } {
  const series = runs.map((r) => metricSeries(r, metric.key));
  const points: Record<string, number> = {};
  for (const s of series) points[s.runId] = s.xs.length;
  const shaped = series.map((s) => {
    let ys = metric.smooth ? ema(s.ys, settings.smoothing) : s.ys;
    if (settings.logScale) ys = positiveOnly(ys);
    return { ...s, ys };
  });
  const data = align(shaped);
  const range = settings.clipOutliers ? clippedRange(data.slice(1) as Array<Array<number | null>>, settings.logScale) : null;
  return { data, range, points };
}
