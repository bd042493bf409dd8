// Files in a folder the user picked (the File System Access API): the way out that does not depend on the
// browser's storage. A browser may clear a site's IndexedDB (a full disk, storage pressure, "clear site data");
// a folder on the user's disk outlives that, so the studio keeps the whole project there too (project-folder.ts
// decides what and when; this file only reads and writes).
//
// Everything goes through the few methods below, a subset of FileSystemDirectoryHandle, so the writer is tested
// in Node over an in-memory folder and runs in the browser on the real handle (handles are structured-cloneable:
// the page picks the folder, the worker writes to it and remembers it in IndexedDB).
//
// Atomicity: a file is written through createWritable(), which writes to a swap file that the browser moves over
// the real one only on close(); a crash, a closed tab or a failed write before that leaves the previous file
// whole. Two files (project and dataset) are not replaced together, and need not be: each one is complete and
// checked on reading.
import { parseHeader, type SafetensorsHeader } from '../codec/safetensors';
import { classifyStorageError } from './persistence';

/** The project file (project.ts) and the dataset file (dataset-file.ts) in a project folder. */
export const PROJECT_FILE = 'soar-project.safetensors';
export const DATASET_FILE = 'soar-dataset.safetensors';

export interface FolderWritable {
  write(data: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Replaces the file with what was written (atomically, in Chrome). */
  close(): Promise<void>;
  /** Discards what was written: the file stays as it was. */
  abort(reason?: unknown): Promise<void>;
}

export interface FolderFileHandle {
  getFile(): Promise<Blob & { lastModified?: number }>;
  createWritable(): Promise<FolderWritable>;
}

/** The part of FileSystemDirectoryHandle the studio uses. */
export interface FolderHandle {
  readonly name: string;
  /** Rejects with a NotFoundError when the file is missing and `create` is not set. */
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FolderFileHandle>;
  isSameEntry?(other: unknown): Promise<boolean>;
  /** Chrome's permission check (not in every browser, nor in TypeScript's DOM types yet). */
  queryPermission?(descriptor: { mode: 'read' | 'readwrite' }): Promise<PermissionState>;
}

export type FolderPermission = 'granted' | 'prompt' | 'denied';

/** Whether the studio may write to `dir` now. Without queryPermission it is assumed (a write will say if not). */
export async function permissionOf(dir: FolderHandle): Promise<FolderPermission> {
  if (typeof dir.queryPermission !== 'function') return 'granted';
  try {
    return await dir.queryPermission({ mode: 'readwrite' });
  } catch {
    return 'granted';
  }
}

/** Whether two handles are the same folder (false when the browser cannot tell). */
export async function sameFolder(a: FolderHandle | null, b: FolderHandle | null): Promise<boolean> {
  if (!a || !b) return false;
  if (a === b) return true;
  try {
    return typeof a.isSameEntry === 'function' ? await a.isSameEntry(b) : false;
  } catch {
    return false;
  }
}

function isNotFound(e: unknown): boolean {
  return (e as { name?: string } | null)?.name === 'NotFoundError';
}

/** Writes `bytes` as `name` in `dir`: the old file stays whole until the new one is complete (see the top). */
export async function writeFileAtomically(dir: FolderHandle, name: string, bytes: Uint8Array): Promise<void> {
  const file = await dir.getFileHandle(name, { create: true });
  const out = await file.createWritable();
  try {
    await out.write(bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes));
  } catch (e) {
    await out.abort(e).catch(() => undefined);
    throw e;
  }
  await out.close();
}

/** The handle of an existing file, or null when the folder has no such file (other errors are thrown). */
async function fileHandleOrNull(dir: FolderHandle, name: string): Promise<FolderFileHandle | null> {
  try {
    return await dir.getFileHandle(name);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** A file's bytes, or null when the folder has no such file. */
export async function readFolderFile(dir: FolderHandle, name: string): Promise<Uint8Array | null> {
  const handle = await fileHandleOrNull(dir, name);
  if (!handle) return null;
  const file = await handle.getFile();
  return new Uint8Array(await file.arrayBuffer());
}

export interface FolderFileHeader {
  header: SafetensorsHeader;
  size: number;
  /** When the file was last written (ms since the epoch; 0 when the browser does not say). */
  lastModified: number;
}

/**
 * The safetensors header of a file, read without its data (a dataset file holds every image): null when the file
 * is missing or empty, 'damaged' when its header cannot be read.
 */
export async function readFolderHeader(dir: FolderHandle, name: string): Promise<FolderFileHeader | 'damaged' | null> {
  const handle = await fileHandleOrNull(dir, name);
  if (!handle) return null;
  const file = await handle.getFile();
  if (file.size === 0) return null;
  try {
    const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
    const n = head.length === 8 ? Number(new DataView(head.buffer).getBigUint64(0, true)) : 0;
    const bytes = new Uint8Array(await file.slice(0, Math.min(file.size, 8 + n)).arrayBuffer());
    return { header: parseHeader(bytes, file.size), size: file.size, lastModified: file.lastModified ?? 0 };
  } catch {
    return 'damaged';
  }
}

// ------------------------------------------------------------------------------------------------ the writer

export interface FolderWrite {
  files: Array<{ name: string; bytes: Uint8Array }>;
}

export interface FolderWriterEvents<W extends FolderWrite> {
  /** One file of `write` is in place. */
  fileWritten?(name: string, write: W): void;
  /** Every file of `write` is in place. */
  written(write: W): void;
  /** `file`: the file whose write failed (null: making the write failed). Files before it were written. */
  failed(error: unknown, write: W | null, file: string | null): void;
}

/**
 * Writes to one folder, one write at a time, the last state winning: request() while a write is under way asks
 * for one more write after it, and any number of requests meanwhile make just that one. What a write holds is
 * taken when it starts (`next`, which returns null when there is nothing new), so it is always the latest state.
 * A failed write is reported and the next request tries again; nothing here throws.
 */
export class FolderWriter<W extends FolderWrite = FolderWrite> {
  private wanted = false;
  private loop: Promise<void> | null = null;

  constructor(
    readonly dir: FolderHandle,
    private readonly next: () => Promise<W | null>,
    private readonly events: FolderWriterEvents<W>,
  ) {}

  /** Asks for a write of the latest state; resolves once the folder holds a state at least as new (or failed). */
  request(): Promise<void> {
    this.wanted = true;
    this.loop ??= this.drain();
    return this.loop;
  }

  /** Resolves when no write is under way (at once when none is). */
  whenIdle(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** A write is under way (or about to start). */
  get busy(): boolean {
    return this.loop !== null;
  }

  private async drain(): Promise<void> {
    try {
      while (this.wanted) {
        this.wanted = false;
        let write: W | null = null;
        let file: string | null = null;
        try {
          write = await this.next();
          if (!write) continue;
          for (const f of write.files) {
            file = f.name;
            await writeFileAtomically(this.dir, f.name, f.bytes);
            this.events.fileWritten?.(f.name, write);
          }
          this.events.written(write);
        } catch (e) {
          try {
            this.events.failed(e, write, file);
          } catch (inner) {
            console.error('folder writer: reporting a failure failed', inner);
          }
        }
      }
    } finally {
      // In the same turn as the last check of `wanted`: a request after it starts a new loop.
      this.loop = null;
    }
  }
}

// ------------------------------------------------------------------------------------------------ messages

/** What failed when writing `file` to the folder, and what to do, for the browser's error `e`. */
export function folderWriteError(e: unknown, folder: string, file: string | null): { message: string; advice: string } {
  const err = e as { name?: string; message?: string } | null;
  const detail = [err?.name && err.name !== 'Error' ? err.name : '', err?.message ?? String(e ?? '')].filter(Boolean).join(': ') || 'the browser gave no detail';
  const what = file ? `${file} to the folder "${folder}"` : `the project for the folder "${folder}"`;
  const kept = 'The folder still holds the project as it was last written (a file is replaced only once it is complete), and training goes on.';
  const kind = classifyStorageError(e);
  if (err?.name === 'NotAllowedError' || err?.name === 'SecurityError') {
    return {
      message: `The browser no longer lets the studio write ${what} (${detail}).`,
      advice: `Press "Allow writing" in Export and import so the browser asks you again, or pick the folder again with "Keep project in a folder…". ${kept}`,
    };
  }
  if (err?.name === 'NotFoundError') {
    return {
      message: `Could not write ${what}: the folder is gone (moved, renamed or deleted) (${detail}).`,
      advice: `Pick a folder again with "Keep project in a folder…" (if you moved it, pick it where it is now and use "Open project folder…"). ${kept}`,
    };
  }
  if (kind === 'disk-full' || kind === 'quota') {
    return { message: `Could not write ${what}: the disk is full (${detail}).`, advice: `Free space on the disk that holds the folder, then press "Try again". ${kept}` };
  }
  return {
    message: `Could not write ${what} (${detail}).`,
    advice: `Press "Try again"; if it keeps failing, check that the folder is on a local disk you can write to, or pick another one with "Keep project in a folder…". ${kept}`,
  };
}
