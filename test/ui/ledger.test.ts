// The studio's own record of what it stored (localStorage, apart from IndexedDB): a start whose restored runs
// lack some of it reports them as lost instead of looking new.
import { describe, expect, it } from 'vitest';
import { EMPTY_LEDGER, ledgerOf, lostRuns, updateLedger } from '../../src/store/ledger';
import { queuedRun, type RunSummary } from '../../src/worker/protocol';
import { DEFAULT_TRAIN } from '../../src/train/config';

const run = (id: string, name: string, checkpointStep: number): RunSummary => ({ ...queuedRun({ id, name, config: DEFAULT_TRAIN }, 1), status: 'paused', step: checkpointStep, checkpointStep });

describe('storage ledger', () => {
  it('records checkpoints and deletions, and finds runs storage lost or rolled back', () => {
    let l = EMPTY_LEDGER;
    l = updateLedger(l, { type: 'run/update', run: run('a', 'SFT 1', 0) }); // nothing stored yet
    expect(l.runs).toEqual({});
    l = updateLedger(l, { type: 'run/update', run: run('a', 'SFT 1', 10) });
    l = updateLedger(l, { type: 'run/update', run: run('b', 'SOAR 1', 20) });
    l = updateLedger(l, { type: 'run/update', run: run('c', 'gone', 5) });
    l = updateLedger(l, { type: 'run/deleted', id: 'c' });
    expect(l.runs).toEqual({ a: { name: 'SFT 1', step: 10 }, b: { name: 'SOAR 1', step: 20 } });
    // The browser deleted b, and a came back at an older checkpoint.
    expect(lostRuns(l, [run('a', 'SFT 1', 5)])).toEqual([
      { id: 'a', name: 'SFT 1', step: 10, found: 5 },
      { id: 'b', name: 'SOAR 1', step: 20, found: null },
    ]);
    expect(lostRuns(l, [run('a', 'SFT 1', 10), run('b', 'SOAR 1', 20)])).toEqual([]);
    expect(ledgerOf([run('a', 'SFT 1', 5), run('z', 'new', 0)])).toEqual({ runs: { a: { name: 'SFT 1', step: 5 } } });
  });
});
