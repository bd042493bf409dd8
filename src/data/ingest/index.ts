// Dataset ingestion: a dropped folder -> captioned, decoded, resized examples + a report of what was skipped.
// Browser-safe: node-entries.ts (node:fs) is imported directly by Node code, not through here.
//
//   const listing = await entriesFromDataTransfer(event.dataTransfer);            // or entriesFromDirectory(dir)
//   const result = await ingestDataset(listing, { resolution: 32, decoder: createBrowserImageDecoder() });
//   result.report.toText();  toTrainingData(result);
export { ingestDataset, toTrainingData, type IngestResult } from './ingest';
export { heldOutSplit, MIN_HELD_OUT, type HeldOutSplit } from './split';
export { IngestReport, SKIP_REASONS, WARNING_KINDS, type ReportData, type SkipReason, type SkippedItem, type WarningItem, type WarningKind } from './report';
export { coverCrop, coverResize, rgbaToChw, type CropBox } from './resize';
export { normalizeCaption, pickReferenceCaption } from './caption';
export { decodePng } from './png-decode';
export { createJsImageDecoder, type JsDecoderOptions } from './js-decoder';
export { createBrowserImageDecoder, type BrowserDecoderOptions } from './browser-decoder';
export {
  collectDroppedFiles,
  collectInputFiles,
  entriesFromDataTransfer,
  entriesFromFileList,
  entriesFromFiles,
  type DroppedFile,
  type DroppedFiles,
} from './browser-entries';
export * from './types';
