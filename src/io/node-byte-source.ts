// Node side of the chunked safetensors reader (CLI, tests): files read by range with fs.open + read at an offset,
// so a fine-tuned transformer over Node's 2 GiB readFileSync limit can be read one tensor at a time. Not imported
// by anything the browser bundle loads (node:fs).
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ByteSource } from '../codec/safetensors-chunked';
import type { TunedFile } from './tuned-transformer';

export interface NodeByteSource extends ByteSource {
  close(): Promise<void>;
}

export async function openFileSource(path: string): Promise<NodeByteSource> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    name: path,
    size,
    async read(begin, end) {
      const length = Math.max(0, Math.min(end, size) - begin);
      const buffer = Buffer.alloc(length);
      let filled = 0;
      // read() may return fewer bytes than asked (large ranges, network drives): loop until done or end of file.
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, begin + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return new Uint8Array(buffer.buffer, buffer.byteOffset, filled);
    },
    close: () => handle.close(),
  };
}

/**
 * The files that may hold a fine-tuned transformer at `path`: the file itself, or a folder's .safetensors and
 * .json files, and those of its `transformer/` subfolder (a whole diffusers pipeline folder). Only opened, not read.
 */
export async function tunedFilesAt(path: string): Promise<{ files: TunedFile[]; close(): Promise<void> }> {
  const sources: NodeByteSource[] = [];
  const add = async (file: string, rel: string): Promise<TunedFile> => {
    const source = await openFileSource(file);
    sources.push(source);
    return { path: rel, source };
  };
  const close = async () => {
    for (const s of sources) await s.close();
  };
  try {
    const files: TunedFile[] = [];
    if (!(await stat(path)).isDirectory()) files.push(await add(path, basename(path)));
    else {
      for (const dir of [path, join(path, 'transformer')]) {
        const names = await readdir(dir).catch(() => [] as string[]);
        const rel = dir === path ? '' : 'transformer/';
        for (const name of names.sort()) {
          if (!/\.(safetensors|json)$/.test(name) || !(await stat(join(dir, name))).isFile()) continue;
          files.push(await add(join(dir, name), rel + name));
        }
      }
    }
    return { files, close };
  } catch (e) {
    await close();
    throw e;
  }
}
