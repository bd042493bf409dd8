// The page's half of the project folder (src/worker/project-folder.ts does the rest): the folder picker and the
// permission prompt of the File System Access API need a click on the page, which a worker never has. The handle
// the picker gives is sent to the worker, which writes the project there and remembers the folder.

/** What the page needs of `window` (showDirectoryPicker is Chrome's and Edge's, and not in TypeScript's DOM). */
export interface FolderPickerWindow {
  isSecureContext: boolean;
  showDirectoryPicker?: (options: { mode: 'read' | 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;
}

/** Whether this page can keep the project in a folder, and if not, why, in the user's terms. */
export function folderSupport(win: FolderPickerWindow = window as unknown as FolderPickerWindow): { ok: true } | { ok: false; why: string } {
  if (!win.isSecureContext) {
    return { ok: false, why: 'The browser offers folder access only to secure pages: open the studio at http://localhost (or 127.0.0.1) or over https. Until then, "Download project" keeps a copy outside the browser.' };
  }
  if (typeof win.showDirectoryPicker !== 'function') {
    return {
      ok: false,
      why: 'This browser cannot let a page keep files in a folder (the File System Access API is in Chrome and Edge on desktop, not in Firefox or Safari). Use "Download project" to keep a copy outside the browser.',
    };
  }
  return { ok: true };
}

/**
 * The folder picker, asking to read and write (the browser remembers the last folder under the id). Null when the
 * user cancelled it; throws what the browser threw otherwise.
 */
export async function pickFolder(win: FolderPickerWindow = window as unknown as FolderPickerWindow): Promise<FileSystemDirectoryHandle | null> {
  if (typeof win.showDirectoryPicker !== 'function') throw new Error('this browser has no folder picker (showDirectoryPicker)');
  try {
    return await win.showDirectoryPicker({ mode: 'readwrite', id: 'soar-project' });
  } catch (e) {
    if ((e as { name?: string } | null)?.name === 'AbortError') return null; // the user closed the picker
    throw e;
  }
}

type PermissionHandle = {
  requestPermission?: (descriptor: { mode: 'readwrite' }) => Promise<PermissionState>;
};

/**
 * Asks the browser again for permission to write to a remembered folder (after a reload Chrome asks once per
 * visit, unless the user chose "Allow on every visit"). Must run in a click handler. True when granted.
 */
export async function allowWriting(handle: object): Promise<boolean> {
  const h = handle as PermissionHandle;
  if (typeof h.requestPermission !== 'function') return true; // nothing to ask: a write will tell
  return (await h.requestPermission({ mode: 'readwrite' })) === 'granted';
}
