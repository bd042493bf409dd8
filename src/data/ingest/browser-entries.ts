// Browser side: a drop (DataTransfer) or an <input webkitdirectory> (FileList) -> the files of the dataset.
//
// Two steps, because the page and the worker split the work:
//   on the page:   collectDroppedFiles(dt) / collectInputFiles(list) -> DroppedFiles   (plain data + File objects,
//                  which postMessage can clone, unlike entries with read() closures)
//   in the worker: entriesFromFiles(dropped) -> EntryListing -> ingestDataset(...)
// entriesFromDataTransfer / entriesFromFileList do both when everything runs in one place.
//
// Paths are relative to the dropped folder: drop one folder `photos/` and its files are `cat.png`,
// `sub/dog.png`; drop several items and each keeps its own name as the first segment. Hidden files and folders
// (.DS_Store, .git/, __MACOSX/) are not walked; they are listed in `ignored` so the report can mention them.
import { isHiddenName } from './paths';
import type { EntryListing, IngestEntry } from './types';

export interface DroppedFile {
  path: string;
  /** Absent when the browser would not give the file; then `error` says why, and reading it reports that. */
  file?: File;
  error?: string;
}

export interface DroppedFiles {
  files: DroppedFile[];
  ignored: string[];
}

function message(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** All entries of a directory: readEntries returns them in batches (100 in Chrome) until an empty one. */
async function readAllEntries(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const out: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return out;
    out.push(...batch);
  }
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walk(entry: FileSystemEntry, path: string, out: DroppedFiles): Promise<void> {
  if (entry.isFile) {
    if (isHiddenName(entry.name)) {
      out.ignored.push(path);
      return;
    }
    try {
      out.files.push({ path, file: await fileOf(entry as FileSystemFileEntry) });
    } catch (e) {
      out.files.push({ path, error: message(e) });
    }
    return;
  }
  if (!entry.isDirectory) return;
  if (path !== '' && isHiddenName(entry.name, true)) {
    out.ignored.push(`${path}/`);
    return;
  }
  let children: FileSystemEntry[];
  try {
    children = await readAllEntries(entry as FileSystemDirectoryEntry);
  } catch (e) {
    out.files.push({ path: `${path}/`, error: `the folder could not be listed (${message(e)})` });
    return;
  }
  for (const child of children) await walk(child, path === '' ? child.name : `${path}/${child.name}`, out);
}

/**
 * Call it synchronously inside the drop handler: the DataTransfer's items can only be read during the event, so
 * they are taken before the first await; the walk itself is asynchronous.
 */
export function collectDroppedFiles(dt: DataTransfer): Promise<DroppedFiles> {
  const roots: Array<FileSystemEntry | File> = [];
  for (const item of Array.from(dt.items ?? [])) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    const file = entry ? null : item.getAsFile();
    if (entry) roots.push(entry);
    else if (file) roots.push(file);
  }
  if (roots.length === 0) roots.push(...Array.from(dt.files ?? []));
  return walkRoots(roots);
}

async function walkRoots(roots: Array<FileSystemEntry | File>): Promise<DroppedFiles> {
  const out: DroppedFiles = { files: [], ignored: [] };
  // One dropped folder is the dataset root; anything else keeps each item's name as its first segment.
  const single = roots.length === 1 && !(roots[0] instanceof File) && roots[0].isDirectory ? roots[0] : undefined;
  if (single) {
    await walk(single, '', out);
    return out;
  }
  for (const r of roots) {
    if (r instanceof File) {
      if (isHiddenName(r.name)) out.ignored.push(r.name);
      else out.files.push({ path: r.name, file: r });
    } else await walk(r, r.name, out);
  }
  return out;
}

/**
 * From `<input type="file" webkitdirectory>` (or a multi-file input). webkitRelativePath starts with the chosen
 * folder's name, which is dropped so paths are relative to that folder, as with a drop.
 */
export function collectInputFiles(list: FileList | readonly File[]): DroppedFiles {
  const files = Array.from(list);
  const rel = (f: File) => f.webkitRelativePath || f.name;
  const first = (p: string) => (p.includes('/') ? p.slice(0, p.indexOf('/') + 1) : '');
  const prefix = files.length ? first(rel(files[0])) : '';
  const strip = prefix !== '' && files.every((f) => rel(f).startsWith(prefix));
  const out: DroppedFiles = { files: [], ignored: [] };
  const hiddenDirs = new Set<string>();
  for (const f of files) {
    const path = strip ? rel(f).slice(prefix.length) : rel(f);
    const segs = path.split('/');
    const hiddenAt = segs.findIndex((s, i) => isHiddenName(s, i < segs.length - 1));
    if (hiddenAt < 0) out.files.push({ path, file: f });
    else if (hiddenAt === segs.length - 1) out.ignored.push(path);
    else hiddenDirs.add(`${segs.slice(0, hiddenAt + 1).join('/')}/`);
  }
  out.ignored.push(...hiddenDirs);
  return out;
}

/** Work a big pick does in one task before it lets the page draw (ms): under a frame. */
const SLICE_MS = 12;

/**
 * collectInputFiles for a big pick: the same result, built in slices of `slice` files with a pause between them
 * (`onProgress(done, total)` after each); a slice also pauses after SLICE_MS of work, so a folder of 10,000 files
 * never holds the page for more than a frame or so. Each File is cloned once into a MessageChannel on the way:
 * Chrome's first structured clone of a picked File costs a synchronous trip to the browser (0.25 ms, several on
 * a loaded machine), which the one postMessage that hands the list to the worker would otherwise pay for every
 * file in a single task (6,000 files froze the page for 1.4-4 s: e2e/storage-faults.spec.ts); a File cloned
 * once clones cheaply again.
 */
export async function collectInputFilesChunked(list: FileList | readonly File[], onProgress?: (done: number, total: number) => void, slice = 250): Promise<DroppedFiles> {
  const files: File[] = [];
  const pause = () => new Promise((r) => setTimeout(r, 0));
  const warm = typeof MessageChannel === 'function' ? new MessageChannel() : null;
  let warming = warm !== null;
  try {
    for (let i = 0; i < list.length; i += slice) {
      let started = performance.now();
      for (let j = i; j < Math.min(list.length, i + slice); j++) {
        // Reading a FileList entry crosses into the browser, and so does a File's first clone.
        const file = list instanceof Array ? list[j] : (list as FileList)[j]!;
        files.push(file);
        if (warming) {
          try {
            warm!.port1.postMessage(file);
          } catch {
            warming = false; // not cloneable here: the worker's postMessage will pay, as before
          }
        }
        if (performance.now() - started > SLICE_MS) {
          await pause();
          started = performance.now();
        }
      }
      onProgress?.(files.length, list.length);
      await pause();
    }
  } finally {
    warm?.port1.close();
    warm?.port2.close();
  }
  return collectInputFiles(files);
}

/** Entries that read the File objects lazily (in the worker, after postMessage). */
export function entriesFromFiles(dropped: DroppedFiles): EntryListing {
  const entries: IngestEntry[] = dropped.files.map(({ path, file, error }) => ({
    path,
    size: file?.size ?? 0,
    read: async () => {
      if (!file) throw new Error(error ?? 'the browser did not give this file');
      return new Uint8Array(await file.arrayBuffer());
    },
  }));
  return { entries, ignored: [...dropped.ignored] };
}

/** Both steps at once (page-only use). Like collectDroppedFiles, call it synchronously in the drop handler. */
export function entriesFromDataTransfer(dt: DataTransfer): Promise<EntryListing> {
  return collectDroppedFiles(dt).then(entriesFromFiles);
}

export function entriesFromFileList(list: FileList | readonly File[]): EntryListing {
  return entriesFromFiles(collectInputFiles(list));
}
