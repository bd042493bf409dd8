// Small UI preferences remembered across reloads (localStorage: synchronous, so the first render already has
// them). Values are validated on the way in: a stale or hand-edited entry falls back to the default.
import { DEFAULT_CHART_SETTINGS, type ChartSettings } from './chart-data';
import { storage } from '../store/prefs';

const CHART_KEY = 'soar-studio.chart-settings';

export function loadChartSettings(): ChartSettings {
  try {
    const raw = storage()?.getItem(CHART_KEY);
    if (!raw) return DEFAULT_CHART_SETTINGS;
    const v = JSON.parse(raw) as Partial<ChartSettings>;
    const smoothing = typeof v.smoothing === 'number' && v.smoothing >= 0 && v.smoothing <= 0.99 ? v.smoothing : DEFAULT_CHART_SETTINGS.smoothing;
    return {
      smoothing,
      logScale: typeof v.logScale === 'boolean' ? v.logScale : DEFAULT_CHART_SETTINGS.logScale,
      clipOutliers: typeof v.clipOutliers === 'boolean' ? v.clipOutliers : DEFAULT_CHART_SETTINGS.clipOutliers,
    };
  } catch {
    return DEFAULT_CHART_SETTINGS;
  }
}

export function saveChartSettings(s: ChartSettings): void {
  try {
    storage()?.setItem(CHART_KEY, JSON.stringify(s));
  } catch {
    // Quota or disabled storage: the setting just is not remembered.
  }
}

export { loadPref, savePref } from '../store/prefs';
