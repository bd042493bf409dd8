// The e2e specs assert exact report counts for the folders they drop; this checks those expectations against the
// ingester itself (Node, pure-TS decoder), so an e2e failure means the browser path differs, not the fixture.
import { describe, expect, it } from 'vitest';
import { createJsImageDecoder, ingestDataset } from '../../src/data/ingest';
import { EXPECTED_JSONL, EXPECTED_MESSY, jsonlFolder, messyFolder } from '../../e2e/datasets';
import { memEntries } from '../data/ingest/fixtures';

describe('e2e dataset fixtures', () => {
  for (const [name, make, expected] of [
    ['messy captions folder', messyFolder, EXPECTED_MESSY],
    ['metadata.jsonl with a broken line', jsonlFolder, EXPECTED_JSONL],
  ] as const) {
    it(`${name}: the report counts the e2e specs expect`, async () => {
      const r = await ingestDataset(memEntries(make()), { resolution: 8, decoder: createJsImageDecoder() });
      expect(r.examples.length).toBe(expected.taken);
      expect(r.report.counts()).toEqual(expected.skipped);
      expect(r.report.warningCounts()).toEqual(expected.warnings);
    });
  }
});
