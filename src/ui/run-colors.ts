// One colour per run, from a family per method so methods read apart at a glance (SFT blues, SOAR warm
// colours; a method without a family of its own takes the greys).
import type { Method } from '../train/methods/catalog';
import type { RunSummary } from '../worker/protocol';

const FAMILIES: Partial<Record<Method, string[]>> & { other: string[] } = {
  sft: ['#7aa2f7', '#2ac3de', '#b4c8ff', '#5a7fd6'],
  soar: ['#ff9e64', '#f7768e', '#e0af68', '#d26b3a'],
  other: ['#9ece6a', '#bb9af7', '#73daca', '#c0caf5'],
};

/** Colours for the runs in `order` (oldest first): the n-th run of a method gets its family's n-th colour. */
export function runColors(order: string[], runs: Record<string, Pick<RunSummary, 'method'>>): Record<string, string> {
  const seen: Record<string, number> = {};
  const out: Record<string, string> = {};
  for (const id of order) {
    const run = runs[id];
    if (!run) continue;
    const key = FAMILIES[run.method] ? run.method : 'other';
    const family = FAMILIES[run.method] ?? FAMILIES.other;
    seen[key] = (seen[key] ?? 0) + 1;
    out[id] = family[(seen[key] - 1) % family.length];
  }
  return out;
}
