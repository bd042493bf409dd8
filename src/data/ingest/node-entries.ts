// Node side: a directory on disk -> entries (CLI, tests). Not exported from index.ts, because it imports node:fs
// and the browser bundle must not. Files are read lazily, one at a time, when the ingester asks.
//
// Hidden files and folders are not walked, and are listed in `ignored`. Symbolic links are followed (a dataset
// of links into a shared image store is common), with each real folder walked once so a link loop terminates.
// A folder or file that cannot be stat'ed becomes an entry whose read() fails, so the report names it.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { comparePaths, isHiddenName } from './paths';
import type { EntryListing, IngestEntry } from './types';

function fileEntry(path: string, abs: string, size: number): IngestEntry {
  return {
    path,
    size,
    read: async () => {
      const buf = await readFile(abs);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
  };
}

function failedEntry(path: string, error: unknown): IngestEntry {
  const msg = error instanceof Error ? error.message : String(error);
  return { path, size: 0, read: () => Promise.reject(new Error(msg)) };
}

export async function entriesFromDirectory(root: string): Promise<EntryListing> {
  const out: EntryListing = { entries: [], ignored: [] };
  const seen = new Set<string>();
  // A root that is not a folder is the caller's mistake (a typo on the command line): say so plainly.
  const rootStat = await stat(root);
  if (!rootStat.isDirectory()) throw new Error(`${root} is not a folder: point at the dataset folder`);

  const walk = async (abs: string, rel: string): Promise<void> => {
    let real: string;
    let names: string[];
    try {
      real = await realpath(abs);
      if (seen.has(real)) return;
      seen.add(real);
      names = (await readdir(abs)).sort(comparePaths);
    } catch (e) {
      out.entries.push(failedEntry(`${rel}/`, e));
      return;
    }
    for (const name of names) {
      const childAbs = join(abs, name);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      let st;
      try {
        st = await stat(childAbs); // follows links
      } catch (e) {
        out.entries.push(failedEntry(childRel, e));
        continue;
      }
      if (st.isDirectory()) {
        if (isHiddenName(name, true)) out.ignored.push(`${childRel}/`);
        else await walk(childAbs, childRel);
      } else if (st.isFile()) {
        if (isHiddenName(name)) out.ignored.push(childRel);
        else out.entries.push(fileEntry(childRel, childAbs, st.size));
      }
      // sockets, FIFOs and devices are not dataset files; skipped without a word
    }
  };
  await walk(root, '');
  return out;
}
