// Small values remembered across reloads in localStorage (synchronous, so the first render already has them;
// and apart from IndexedDB, so they outlive an IndexedDB the browser deleted). Validated on the way in: a stale
// or hand-edited entry falls back to the default.

export function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled (some privacy modes throw on access)
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
