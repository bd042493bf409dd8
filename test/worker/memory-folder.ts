// An in-memory folder with the semantics of Chrome's FileSystemDirectoryHandle that the project folder relies on
// (src/worker/folder.ts): createWritable() writes to a swap buffer that replaces the file only on close(), abort()
// and a writable never closed leave the file as it was, a missing file is a NotFoundError. Faults are injected per
// file (DOMExceptions, as Chrome throws); the number of writables open at once is counted.
import type { FolderFileHandle, FolderHandle, FolderWritable } from '../../src/worker/folder';

export class MemoryFolder implements FolderHandle {
  readonly files = new Map<string, { bytes: Uint8Array; lastModified: number }>();
  /** Writables open now, and the most ever open at once. */
  open = 0;
  maxOpen = 0;
  /** Completed writes (close()) per file. */
  readonly writes = new Map<string, number>();
  /** The next write of this file fails with this error (once), after taking part of the bytes. */
  fail = new Map<string, Error>();
  /** Writes wait for this before finishing (a slow disk), when set. */
  gate: Promise<void> | null = null;
  permission: PermissionState = 'granted';

  constructor(readonly name: string) {}

  async queryPermission(): Promise<PermissionState> {
    return this.permission;
  }

  async isSameEntry(other: unknown): Promise<boolean> {
    return other === this;
  }

  async getFileHandle(name: string, options: { create?: boolean } = {}): Promise<FolderFileHandle> {
    if (!this.files.has(name)) {
      if (!options.create) throw new DOMException(`A requested file or directory could not be found: ${name}`, 'NotFoundError');
      this.files.set(name, { bytes: new Uint8Array(0), lastModified: Date.now() });
    }
    return {
      getFile: async () => {
        const f = this.files.get(name);
        if (!f) throw new DOMException(`${name} is gone`, 'NotFoundError');
        return Object.assign(new Blob([f.bytes.slice()]), { lastModified: f.lastModified });
      },
      createWritable: async (): Promise<FolderWritable> => {
        if (this.permission !== 'granted') throw new DOMException('The request is not allowed by the user agent', 'NotAllowedError');
        this.open++;
        this.maxOpen = Math.max(this.maxOpen, this.open);
        const chunks: Uint8Array[] = [];
        let done = false;
        const finish = () => {
          if (!done) this.open--;
          done = true;
        };
        return {
          write: async (data) => {
            if (this.gate) await this.gate;
            const fault = this.fail.get(name);
            if (fault) {
              this.fail.delete(name);
              chunks.push(data.slice(0, data.length >> 1)); // part of it reached the swap file
              throw fault;
            }
            chunks.push(data.slice());
          },
          close: async () => {
            if (done) throw new DOMException('closed', 'TypeError');
            const total = chunks.reduce((n, c) => n + c.length, 0);
            const bytes = new Uint8Array(total);
            let at = 0;
            for (const c of chunks) {
              bytes.set(c, at);
              at += c.length;
            }
            this.files.set(name, { bytes, lastModified: Date.now() });
            this.writes.set(name, (this.writes.get(name) ?? 0) + 1);
            finish();
          },
          abort: async () => finish(),
        };
      },
    };
  }

  bytes(name: string): Uint8Array | undefined {
    return this.files.get(name)?.bytes;
  }
}
