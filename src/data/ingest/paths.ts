// Path helpers for '/'-separated relative paths. Comparisons are by UTF-16 code unit, never localeCompare, so
// the order of examples is the same in every browser, locale and Node version.

export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Normalises separators and `.`/`..` segments; returns null for a path that climbs above the root. */
export function normalizePath(path: string): string | null {
  const out: string[] = [];
  for (const seg of path.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(seg);
  }
  return out.join('/');
}

/**
 * Key for looking a path up: NFC, because macOS hands out NFD file names while a JSONL typed elsewhere is
 * usually NFC, and the two must match.
 */
export function pathKey(path: string): string {
  return path.normalize('NFC');
}

/**
 * `/img.png`, `\img.png`, `\\server\share\img.png`, `C:\img.png`, `C:img.png`: a name from somewhere else (a JSONL written on
 * another machine), never to be read as relative to the dropped folder.
 */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path);
}

export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Lower-case extension without the dot ('' when none; a leading dot alone is not an extension). */
export function extension(path: string): string {
  const name = basename(path);
  const i = name.lastIndexOf('.');
  return i <= 0 ? '' : name.slice(i + 1).toLowerCase();
}

/** The path without its extension: `photos/cat.png` -> `photos/cat`. Captions pair with images by this key. */
export function stemPath(path: string): string {
  const name = basename(path);
  const i = name.lastIndexOf('.');
  return i <= 0 ? path : path.slice(0, path.length - (name.length - i));
}

export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

const SYSTEM_FILES = new Set(['thumbs.db', 'desktop.ini', 'icon\r']);
const SYSTEM_DIRS = new Set(['__macosx', '$recycle.bin', 'system volume information']);

/** Hidden or OS-made names that never belong to a dataset (`.DS_Store`, `._cat.png`, `Thumbs.db`). */
export function isHiddenName(name: string, isDirectory = false): boolean {
  if (name.startsWith('.')) return true;
  const lower = name.toLowerCase();
  return isDirectory ? SYSTEM_DIRS.has(lower) : SYSTEM_FILES.has(lower);
}

/** True when the file itself or any folder on its path is hidden. */
export function isHiddenPath(path: string): boolean {
  const segs = path.split('/');
  return segs.some((s, i) => isHiddenName(s, i < segs.length - 1));
}
