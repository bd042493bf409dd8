// Planning: from the inventory to the list of images to decode, each with its caption, for any format. Files
// that the chosen format does not consume are reported here, so nothing dropped goes unmentioned.
import type { Detection } from './detect';
import type { FileRef, Inventory, ReadResult } from './inventory';
import { planCaptions } from './plan-captions';
import { planHfMetadata, planReference } from './plan-jsonl';
import type { ReportBuilder } from './report';
import type { IngestEntry, Size } from './types';

export interface PlannedImage {
  path: string;
  entry: IngestEntry;
  id: string;
  rawCaption: string;
  captionSource: string;
  bucket?: Size;
}

export async function planImages(inv: Inventory, det: Detection, reads: Map<FileRef, ReadResult>, report: ReportBuilder, onRead: () => void): Promise<PlannedImage[]> {
  const used = new Set(det.jsonl);
  for (const f of inv.jsonl) {
    if (used.has(f)) continue;
    report.skip('unused-file', f.path, det.jsonl.length ? `the dataset is read from ${det.jsonl.map((j) => j.path).join(', ')}` : 'not a metadata.jsonl, and its rows have no md5');
  }
  if (det.format === 'captions') return planCaptions(inv, report, onRead);
  for (const c of inv.captions) report.skip('unused-file', c.path, 'captions come from the JSONL in this format; sidecar caption files are not read');
  if (det.format === 'hf-metadata') return planHfMetadata(inv, det.jsonl, reads, report, onRead);
  return planReference(inv, det.jsonl, reads, report, onRead);
}
