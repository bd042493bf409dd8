// One colour per run, from a family per method so SFT and SOAR read apart at a glance (blues vs warm colours).
import type { RunSummary } from '../worker/protocol';

const FAMILIES: Record<RunSummary['method'], string[]> = {
  sft: ['#7aa2f7', '#2ac3de', '#b4c8ff', '#5a7fd6'],
  soar: ['#ff9e64', '#f7768e', '#e0af68', '#d26b3a'],
};

/** Colours for the runs in `order` (oldest first): the n-th run of a method gets its family's n-th colour. */
export function runColors(order: string[], runs: Record<string, Pick<RunSummary, 'method'>>): Record<string, string> {
  const seen = { sft: 0, soar: 0 };
  const out: Record<string, string> = {};
  for (const id of order) {
    const run = runs[id];
    if (!run) continue;
    const family = FAMILIES[run.method] ?? FAMILIES.sft;
    out[id] = family[seen[run.method]++ % family.length];
  }
  return out;
}

export const METHOD_LABEL: Record<RunSummary['method'], string> = { sft: 'SFT', soar: 'SOAR' };
