// The project folder in "Export and import": keep the project in a folder the user picks (written after every
// checkpoint, by the worker: src/worker/project-folder.ts) and open it again after the browser cleared the site's
// storage. Where the browser has no File System Access, the buttons are off and the box says why.
import { useState } from 'react';
import { studio, useStudioStore } from '../store/studio';
import type { FolderStatus } from '../worker/protocol';
import { allowWriting, folderSupport, pickFolder } from './project-folder';
import { ProblemNotice } from './Section';

/** "14:02:11" today, else the date too. */
function when(at: number): string {
  const d = new Date(at);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

/** What the folder holds, in a line: each run at its step, and the dataset. */
export function describeWritten(w: NonNullable<FolderStatus['written']>): string {
  const runs = w.runs.length ? w.runs.map((r) => `"${r.name}" at step ${r.step}`).join(', ') : 'no runs';
  const data = w.dataset ? `dataset "${w.dataset.name}" (${w.dataset.count} images)` : 'no dataset';
  return `${runs}; ${data}`;
}

/** The folder picker (in a click handler), then keep the project there or open the project it holds. */
export async function chooseFolder(action: 'keep' | 'open'): Promise<void> {
  studio.folderProblem(null);
  let handle: FileSystemDirectoryHandle | null;
  try {
    handle = await pickFolder();
  } catch (e) {
    studio.folderProblem({
      message: `The folder picker failed: ${e instanceof Error ? e.message : String(e)}.`,
      advice: 'Try again and pick a folder of your own on a local disk (the browser refuses system folders).',
    });
    return;
  }
  if (!handle) return; // cancelled
  if (action === 'keep') studio.keepFolder(handle);
  else studio.openFolder(handle);
}

export function ProjectFolderBox() {
  const folder = useStudioStore((s) => s.folder);
  const [support] = useState(folderSupport);
  const st = folder.status;
  const busy = folder.busy !== null;
  const pick = (action: 'keep' | 'open') => () => void chooseFolder(action);

  const allow = async (then: () => void) => {
    if (!st) return;
    studio.folderProblem(null);
    let ok = false;
    try {
      ok = await allowWriting(st.handle);
    } catch {
      ok = false;
    }
    if (ok) then();
    else studio.folderProblem({ message: `The browser did not allow the studio to write to "${st.name}".`, advice: 'Press "Allow writing" again and allow it (Chrome offers "Allow on every visit"), or pick another folder with "Keep project in a folder…".' });
  };

  return (
    <div className="files-box files-box-wide" data-testid="folder-box" data-supported={support.ok}>
      <h3>Project folder</h3>
      <div className="row">
        <button type="button" className="btn" disabled={!support.ok || busy} onClick={pick('keep')} data-testid="folder-keep">
          {folder.busy === 'keep' ? 'Keeping…' : st ? 'Keep in another folder…' : 'Keep project in a folder…'}
        </button>
        <button type="button" className="btn" disabled={!support.ok || busy} onClick={pick('open')} data-testid="folder-open">
          {folder.busy === 'open' ? 'Opening…' : 'Open project folder…'}
        </button>
        {st && (
          <button type="button" className="btn btn-ghost" onClick={() => studio.forgetFolder()} data-testid="folder-forget" title="The folder's files stay as they are">
            Stop keeping it there
          </button>
        )}
      </div>
      {!support.ok && (
        <p className="hint" data-testid="folder-unsupported">
          {support.why}
        </p>
      )}
      {support.ok && !st && (
        <p className="hint">
          The runs with their checkpoints and the dataset, in a folder on your disk, written after every checkpoint: if the browser clears this site's storage,
          "Open project folder…" brings everything back. The folder holds <code>soar-project.safetensors</code> and <code>soar-dataset.safetensors</code>.
        </p>
      )}
      {st && (
        <p className="small" data-testid="folder-status" data-name={st.name} data-written-at={st.written?.at ?? 0} data-writing={st.writing} data-permission={st.permission}>
          Kept in the folder <strong data-testid="folder-name">{st.name}</strong>
          {st.writing ? ' — writing…' : ''}
          <br />
          <span className="muted" data-testid="folder-written">
            {st.written ? `Written ${when(st.written.at)}: ${describeWritten(st.written)}.` : 'Nothing written there yet.'}
          </span>
        </p>
      )}
      {st && st.permission !== 'granted' && (
        <div className="notice notice-warn notice-flex" role="status" data-testid="folder-permission">
          <div className="notice-body">
            The browser asks again before the studio may write to "{st.name}" (it does after a reload, unless you chose to allow it on every visit). Nothing is
            written there until you allow it.
          </div>
          <div className="notice-actions">
            <button type="button" className="btn btn-small" onClick={() => void allow(() => studio.retryFolder())} data-testid="folder-allow">
              Allow writing
            </button>
          </div>
        </div>
      )}
      {st?.held && (
        <div className="notice notice-warn notice-flex" role="status" data-testid="folder-held">
          <div className="notice-body">
            {st.held} Nothing is written to the folder until you choose: bring its runs into the studio, or write this browser's project over it.
          </div>
          <div className="notice-actions">
            <button type="button" className="btn btn-small" onClick={() => studio.openFolder(null)} data-testid="folder-open-kept">
              Open it
            </button>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => studio.retryFolder(true)} data-testid="folder-overwrite">
              Write over it
            </button>
          </div>
        </div>
      )}
      {folder.opened && (
        <div className="notice notice-ok" role="status" data-testid="folder-opened">
          <strong>Opened "{folder.opened.name}".</strong>{' '}
          {folder.opened.added.length ? `Runs back at their last checkpoints: ${folder.opened.added.join(', ')}. ` : 'No new runs. '}
          {folder.opened.replaced.length ? `Brought forward from the folder: ${folder.opened.replaced.join(', ')}. ` : ''}
          {folder.opened.skipped.length ? `Already here: ${folder.opened.skipped.join(', ')}. ` : ''}
          {folder.opened.dataset ? `Dataset: "${folder.opened.dataset}". ` : ''}
          {folder.opened.notes.join(' ')}
          <button type="button" className="btn btn-small btn-ghost" onClick={() => studio.dismissFolderOpened()}>
            Dismiss
          </button>
        </div>
      )}
      {folder.error && <ProblemNotice testId="folder-error" title="The project folder could not be used." problem={folder.error} onDismiss={() => studio.folderProblem(null)} />}
    </div>
  );
}
