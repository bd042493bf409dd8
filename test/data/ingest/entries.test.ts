// The folder walkers: a real temp directory through node:fs, and the browser's drop/input APIs through fakes
// that behave like Chrome's (readEntries hands out batches until an empty one).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectDroppedFiles, collectInputFiles, createJsImageDecoder, entriesFromFiles, ingestDataset } from '../../../src/data/ingest';
import { collectInputFilesChunked } from '../../../src/data/ingest/browser-entries';
import { entriesFromDirectory } from '../../../src/data/ingest/node-entries';
import { memEntries, messyCaptionDataset, solid, writeDataset } from './fixtures';

describe('entriesFromDirectory (node:fs)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'soar-ingest-'));
    const png = solid(10, 10, [0, 255, 0]);
    mkdirSync(join(dir, 'sub/deeper'), { recursive: true });
    mkdirSync(join(dir, '.git/objects'), { recursive: true });
    mkdirSync(join(dir, '__MACOSX'));
    writeFileSync(join(dir, 'b.png'), png);
    writeFileSync(join(dir, 'b.txt'), 'green b');
    writeFileSync(join(dir, 'sub/a.png'), png);
    writeFileSync(join(dir, 'sub/a.txt'), 'green a');
    writeFileSync(join(dir, 'sub/deeper/c.png'), png);
    writeFileSync(join(dir, '.DS_Store'), 'junk');
    writeFileSync(join(dir, '.git/objects/x'), 'junk');
    writeFileSync(join(dir, '__MACOSX/._b.png'), 'junk');
    symlinkSync('..', join(dir, 'sub/loop')); // a link back up must not walk forever
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists files with relative paths, sizes and lazy reads, and leaves hidden things out', async () => {
    const { entries, ignored } = await entriesFromDirectory(dir);
    expect(entries.map((e) => e.path)).toEqual(['b.png', 'b.txt', 'sub/a.png', 'sub/a.txt', 'sub/deeper/c.png']);
    expect(ignored).toEqual(['.DS_Store', '.git/', '__MACOSX/']);
    expect(entries[1].size).toBe(7);
    expect(new TextDecoder().decode(await entries[1].read())).toBe('green b');
  });

  it('feeds ingestDataset, which reports the hidden files', async () => {
    const r = await ingestDataset(await entriesFromDirectory(dir), { resolution: 8, decoder: createJsImageDecoder() });
    expect(r.examples.map((e) => [e.path, e.caption])).toEqual([
      ['b.png', 'green b'],
      ['sub/a.png', 'green a'],
    ]);
    expect(r.report.counts()).toEqual({ 'hidden-file': 3, 'no-caption': 1 });
  });

  it('gives the same result from disk as from memory (the messy fixture folder)', async () => {
    const files = await messyCaptionDataset();
    delete files['n.png']; // an unreadable file cannot be made on disk as root
    const disk = mkdtempSync(join(tmpdir(), 'soar-ingest-messy-'));
    writeDataset(disk, files);
    const opts = { resolution: 16, decoder: createJsImageDecoder() };
    const fromDisk = await ingestDataset(await entriesFromDirectory(disk), opts);
    const fromMemory = await ingestDataset(memEntries(files), opts);
    expect(fromDisk.examples.map((e) => e.path)).toEqual(fromMemory.examples.map((e) => e.path));
    fromDisk.examples.forEach((e, i) => expect(e.image).toEqual(fromMemory.examples[i].image));
    // The walker leaves hidden things out and lists them (__MACOSX/ as a folder), so only their paths differ.
    const strip = (r: typeof fromDisk) => ({ ...r.report.toJSON(), skipped: r.report.skipped.filter((s) => s.reason !== 'hidden-file') });
    expect(strip(fromDisk)).toEqual(strip(fromMemory));
    expect(fromDisk.report.skippedFor('hidden-file').map((s) => s.path)).toEqual(['.DS_Store', '__MACOSX/']);
    rmSync(disk, { recursive: true, force: true });
  });

  it('refuses a path that is not a folder, with what to do', async () => {
    await expect(entriesFromDirectory(join(dir, 'b.png'))).rejects.toThrow(/is not a folder: point at the dataset folder/);
  });
});

// --- Fakes of the browser's FileSystemEntry API -------------------------------------------------------------------

type Tree = { [name: string]: string | Tree };

function fakeEntry(name: string, node: string | Tree, fullPath: string): FileSystemEntry {
  if (typeof node === 'string') {
    return { name, fullPath, isFile: true, isDirectory: false, file: (ok: (f: File) => void) => ok(new File([node], name)) } as unknown as FileSystemEntry;
  }
  const children = Object.entries(node).map(([n, c]) => fakeEntry(n, c, `${fullPath}/${n}`));
  return {
    name,
    fullPath,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      let at = 0;
      // Batches of 2, like Chrome's batches of 100: a single readEntries call would miss files.
      return { readEntries: (ok: (e: FileSystemEntry[]) => void) => queueMicrotask(() => ok(children.slice(at, (at += 2)))) };
    },
  } as unknown as FileSystemEntry;
}

function fakeDataTransfer(roots: Array<[string, string | Tree]>): DataTransfer {
  const items = roots.map(([name, node]) => ({ kind: 'file', webkitGetAsEntry: () => fakeEntry(name, node, `/${name}`), getAsFile: () => null }));
  return { items, files: [] } as unknown as DataTransfer;
}

describe('browser entries (fakes of DataTransfer / FileList)', () => {
  const folder: Tree = {
    'a.png': 'A',
    'a.txt': 'caption a',
    'b.png': 'B',
    '.DS_Store': 'x',
    sub: { 'c.png': 'C', 'c.txt': 'caption c', 'd.png': 'D', 'e.png': 'E', 'f.png': 'F' },
    __MACOSX: { '._a.png': 'x' },
  };

  it('walks a dropped folder through every readEntries batch, relative to that folder', async () => {
    const dropped = await collectDroppedFiles(fakeDataTransfer([['photos', folder]]));
    expect(dropped.files.map((f) => f.path)).toEqual(['a.png', 'a.txt', 'b.png', 'sub/c.png', 'sub/c.txt', 'sub/d.png', 'sub/e.png', 'sub/f.png']);
    expect(dropped.ignored).toEqual(['.DS_Store', '__MACOSX/']);
    const { entries } = entriesFromFiles(dropped);
    expect(new TextDecoder().decode(await entries[1].read())).toBe('caption a');
    expect(entries[1].size).toBe(9);
  });

  it('keeps each item name as the first segment when several are dropped', async () => {
    const dropped = await collectDroppedFiles(fakeDataTransfer([['one', { 'a.png': 'A' }], ['x.txt', 'loose']]));
    expect(dropped.files.map((f) => f.path)).toEqual(['one/a.png', 'x.txt']);
  });

  it('strips the chosen folder from webkitRelativePath and drops hidden paths', () => {
    const file = (rel: string) => Object.defineProperty(new File(['x'], rel.split('/').at(-1)!), 'webkitRelativePath', { value: rel });
    const picked = collectInputFiles([file('ds/a.png'), file('ds/sub/b.png'), file('ds/.DS_Store'), file('ds/.git/HEAD'), file('ds/.git/config')]);
    expect(picked.files.map((f) => f.path)).toEqual(['a.png', 'sub/b.png']);
    expect(picked.ignored).toEqual(['.DS_Store', '.git/']);
  });

  it('lists a big pick in slices, with progress, to the same result', async () => {
    const file = (rel: string) => Object.defineProperty(new File(['x'], rel.split('/').at(-1)!), 'webkitRelativePath', { value: rel });
    const list = Array.from({ length: 2500 }, (_, i) => file(`big/${i % 7 === 0 ? '.hidden/' : ''}img${i}.png`));
    const progress: number[] = [];
    const chunked = await collectInputFilesChunked(list, (done) => progress.push(done), 1000);
    expect(progress).toEqual([1000, 2000, 2500]);
    expect(chunked).toEqual(collectInputFiles(list));
  });

  it('turns a file the browser would not give into an entry whose read fails (reported, not thrown)', async () => {
    const { entries } = entriesFromFiles({ files: [{ path: 'x.png', error: 'NotFoundError: gone' }], ignored: [] });
    await expect(entries[0].read()).rejects.toThrow('NotFoundError: gone');
  });
});
