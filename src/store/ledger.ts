// A small record of what the studio has stored, kept apart from IndexedDB (in localStorage), so that when the
// browser deletes the site's IndexedDB (Chrome does on a write failure when the disk is full, or under storage
// pressure) the next start notices what vanished and says so, instead of simply looking new.
import type { RunSummary, WorkerToUi } from '../worker/protocol';

export interface Ledger {
  /** Runs with a stored checkpoint: their name and the step of that checkpoint. */
  runs: Record<string, { name: string; step: number }>;
}

export const EMPTY_LEDGER: Ledger = { runs: {} };

export function isLedger(v: unknown): v is Ledger {
  return !!v && typeof v === 'object' && !!(v as Ledger).runs && typeof (v as Ledger).runs === 'object' && !Array.isArray((v as Ledger).runs);
}

/** The ledger after a worker message: checkpoints written, runs deleted. Unchanged for anything else. */
export function updateLedger(ledger: Ledger, m: WorkerToUi): Ledger {
  if (m.type === 'run/update' && m.run.checkpointStep > 0) {
    const had = ledger.runs[m.run.id];
    if (had && had.step === m.run.checkpointStep && had.name === m.run.name) return ledger;
    return { runs: { ...ledger.runs, [m.run.id]: { name: m.run.name, step: m.run.checkpointStep } } };
  }
  if (m.type === 'run/deleted' && ledger.runs[m.id]) {
    const runs = { ...ledger.runs };
    delete runs[m.id];
    return { runs };
  }
  return ledger;
}

export interface LostRun {
  id: string;
  name: string;
  /** The step of the last checkpoint the studio had stored. */
  step: number;
  /** What storage still holds of it: nothing, or an older checkpoint. */
  found: number | null;
}

/** What the ledger says was stored and the restored runs lack: gone, or back at an older checkpoint. */
export function lostRuns(ledger: Ledger, restored: readonly RunSummary[]): LostRun[] {
  const byId = new Map(restored.map((r) => [r.id, r]));
  const lost: LostRun[] = [];
  for (const [id, { name, step }] of Object.entries(ledger.runs)) {
    const r = byId.get(id);
    if (!r) lost.push({ id, name, step, found: null });
    else if (r.checkpointStep < step) lost.push({ id, name, step, found: r.checkpointStep });
  }
  return lost;
}

/** The ledger once the user has seen what was lost: it records what storage holds now. */
export function ledgerOf(restored: readonly RunSummary[]): Ledger {
  const runs: Ledger['runs'] = {};
  for (const r of restored) if (r.checkpointStep > 0) runs[r.id] = { name: r.name, step: r.checkpointStep };
  return { runs };
}
