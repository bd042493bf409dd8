// Small numeric helpers shared by the benchmarks: robust summaries of repeated timings, deterministic data.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length ? Math.min(...xs) : Number.NaN;
}

/** Deterministic uniform [-1, 1) float32 data (mulberry32): both implementations must see identical inputs. */
export function randomF32(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = 2 * (((t ^ (t >>> 14)) >>> 0) / 4294967296) - 1;
  }
  return out;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
