// Which of the three dataset formats a folder is in. Rules, first match wins:
//   1. a file named metadata.jsonl anywhere              -> 'hf-metadata' (Hugging Face imagefolder)
//   2. a .jsonl whose first object row has an "md5" key   -> 'reference-jsonl' (the reference trainer)
//   3. otherwise                                          -> 'captions' (images with .txt/.caption files)
// A named metadata.jsonl is the most explicit signal, and a JSONL of md5 rows cannot be anything else; sidecar
// captions are the fallback because every other format may also carry stray .txt files (README.txt, licences).
import { firstJsonlObject } from './jsonl';
import { basename } from './paths';
import { safeRead, type FileRef, type Inventory, type ReadResult } from './inventory';
import type { DatasetFormat } from './types';

export interface Detection {
  format: DatasetFormat;
  reason: string;
  /** The JSONL files the format reads (metadata.jsonl files, or reference JSONLs); the others are unused. */
  jsonl: FileRef[];
}

export function isHfMetadata(f: FileRef): boolean {
  return basename(f.path).toLowerCase() === 'metadata.jsonl';
}

function list(files: FileRef[]): string {
  const names = files.slice(0, 3).map((f) => f.path);
  return names.join(', ') + (files.length > 3 ? ` and ${files.length - 3} more` : '');
}

/** `reads` caches the JSONL bytes read here, so planning does not read them again. */
export async function detectFormat(inv: Inventory, forced: DatasetFormat | 'auto', reads: Map<FileRef, ReadResult>): Promise<Detection> {
  const metas = inv.jsonl.filter(isHfMetadata);
  const others = inv.jsonl.filter((f) => !isHfMetadata(f));
  if (forced === 'hf-metadata') return { format: forced, reason: 'chosen by the caller', jsonl: metas };
  if (forced === 'reference-jsonl') return { format: forced, reason: 'chosen by the caller', jsonl: others };
  if (forced === 'captions') return { format: forced, reason: 'chosen by the caller', jsonl: [] };

  if (metas.length) return { format: 'hf-metadata', reason: `found ${list(metas)}`, jsonl: metas };
  const refs: FileRef[] = [];
  for (const f of others) {
    let r = reads.get(f);
    if (!r) {
      r = await safeRead(f.entry);
      reads.set(f, r);
    }
    const first = r.ok ? firstJsonlObject(r.bytes) : undefined;
    if (first && 'md5' in first) refs.push(f);
  }
  if (refs.length) return { format: 'reference-jsonl', reason: `rows of ${list(refs)} have an md5 key`, jsonl: refs };
  const why = inv.jsonl.length ? `${list(inv.jsonl)} is neither a metadata.jsonl nor md5 rows` : 'no metadata.jsonl or reference JSONL in the folder';
  return { format: 'captions', reason: `${inv.captions.length} caption file${inv.captions.length === 1 ? '' : 's'}; ${why}`, jsonl: [] };
}
