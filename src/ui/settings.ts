// Small UI preferences remembered across reloads (localStorage: synchronous, so the first render already has
// them). Values are validated on the way in: a stale or hand-edited entry falls back to the default.
import { DEFAULT_CHART_SETTINGS, type ChartSettings } from './chart-data';

const CHART_KEY = 'soar-studio.chart-settings';

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled (some privacy modes throw on access)
  }
}

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

/** A JSON value under a key, for other small preferences (the run form). */
export function loadPref<T>(key: string, fallback: T, check: (v: unknown) => v is T): T {
  try {
    const raw = storage()?.getItem(`soar-studio.${key}`);
    if (!raw) return fallback;
    const v: unknown = JSON.parse(raw);
    return check(v) ? v : fallback;
  } catch {
    return fallback;
  }
}

export function savePref(key: string, value: unknown): void {
  try {
    storage()?.setItem(`soar-studio.${key}`, JSON.stringify(value));
  } catch {
    // not remembered
  }
}
