// Studio-wide state that must never be missed: a lost GPU, a worker that did not start, failed writes to
// IndexedDB (quota), and how much of the browser's storage the studio uses.
import { useState } from 'react';
import { FOLDER_PREF, isFolderPref, studio, useStudioStore } from '../store/studio';
import { loadPref } from '../store/prefs';
import { chooseFolder } from './ProjectFolderPanel';
import { folderSupport } from './project-folder';
import { formatBytes } from './format';
import { ProblemNotice } from './Section';

export function Alerts() {
  const folder = useStudioStore((s) => s.folder.status);
  const lost = useStudioStore((s) => s.gpuLost);
  const workerDown = useStudioStore((s) => s.workerDown);
  const storageErrors = useStudioStore((s) => s.storage.errors);
  const lostData = useStudioStore((s) => s.lostData);
  // The folder the project was last kept in, by name (localStorage: it outlives a cleared IndexedDB).
  const lostFolder = lostData.length > 0 && !folder ? loadPref(FOLDER_PREF, null, isFolderPref)?.name ?? null : null;
  return (
    <div className="alerts" aria-live="assertive">
      {lost && (
        <ProblemNotice
          testId="alert-gpu-lost"
          title={`The GPU device was lost (${lost.reason}).`}
          problem={{
            message: lost.message || 'The browser or the driver took the GPU away from the studio (a driver reset, the GPU process crashed, or the machine slept).',
            advice: 'Training stopped; every run’s last checkpoint is safe in this browser’s storage. Recover to get a new GPU device in this tab: the runs come back at their checkpoints and can be resumed. Reloading the page does the same.',
          }}
          action={{ label: 'Recover', onClick: () => studio.restartWorker() }}
        />
      )}
      {!lost && workerDown && (
        <ProblemNotice
          testId="alert-worker-down"
          title="The studio worker stopped."
          problem={{
            message: workerDown,
            advice: 'The page is fine and every run’s last checkpoint is safe in this browser’s storage. Restart the worker to carry on from there; if it stops again, reload the page.',
          }}
          action={{ label: 'Restart the worker', onClick: () => studio.restartWorker() }}
        />
      )}
      {lostData.length > 0 && (
        // The browser deleted stored data (a full disk, storage pressure): say what is gone instead of looking new,
        // and where the project may still be (the folder it was kept in, remembered apart from IndexedDB).
        <ProblemNotice
          testId="alert-lost-data"
          title="This browser deleted data the studio had stored."
          problem={{
            message: `Missing since the last visit: ${lostData.map((r) => (r.found === null ? `run "${r.name}" (saved at step ${r.step})` : `run "${r.name}" is back at step ${r.found}, it had been saved at step ${r.step}`)).join('; ')}.`,
            advice: lostFolder
              ? `The project was kept in the folder "${lostFolder}": press "Open project folder…" and pick it to bring the runs and the dataset back.`
              : 'Browsers clear a site\'s storage when the disk fills or under storage pressure. Import a project file you downloaded earlier (Export and import) to get the runs back; from now on keep the project in a folder (Export and import) or download it after long runs, and free disk space.',
          }}
          action={lostFolder && folderSupport().ok ? { label: 'Open project folder…', onClick: () => void chooseFolder('open') } : undefined}
          onDismiss={() => studio.dismissLostData()}
        />
      )}
      {folder?.error && (
        // A failed write to the project folder: its own alert (training goes on; the browser's storage is apart).
        <ProblemNotice
          testId="alert-folder"
          title={`Writing the project to the folder "${folder.name}" failed.`}
          problem={folder.error}
          action={{ label: 'Try again', onClick: () => studio.retryFolder() }}
        />
      )}
      {storageErrors.map((e, i) => (
        // The way out that does not depend on the browser's storage: the whole project as a file, from the alert.
        <ProblemNotice key={i} testId="alert-storage" title="Saving to this browser's storage failed." problem={e} action={{ label: 'Download project', onClick: () => studio.exportProject() }} onDismiss={() => studio.dismissStorageError(i)} />
      ))}
    </div>
  );
}

export function StorageMeter() {
  const estimate = useStudioStore((s) => s.storage.estimate);
  const [persistAsked, setPersistAsked] = useState<'no' | 'granted' | 'denied'>('no');
  if (!estimate) {
    return (
      <span className="storage muted small" data-testid="storage" data-state="pending">
        storage: checking…
      </span>
    );
  }
  const frac = estimate.quota > 0 ? estimate.usage / estimate.quota : 0;
  const persist = () => {
    navigator.storage?.persist?.().then(
      (ok) => {
        setPersistAsked(ok ? 'granted' : 'denied');
        studio.estimateStorage();
      },
      () => setPersistAsked('denied'),
    );
  };
  const persisted = estimate.persisted || persistAsked === 'granted';
  return (
    <span className={`storage small${frac > 0.8 ? ' storage-full' : ''}`} data-testid="storage" data-usage={estimate.usage} data-quota={estimate.quota}>
      <span className="muted">storage</span> {formatBytes(estimate.usage)} <span className="muted">of {formatBytes(estimate.quota)}</span>
      <span className="meter" aria-hidden="true">
        <span style={{ width: `${Math.min(100, frac * 100).toFixed(1)}%` }} />
      </span>
      {persisted ? (
        <span className="muted" title="The browser will not evict the studio's data under storage pressure">
          kept
        </span>
      ) : (
        <button
          type="button"
          className="link"
          onClick={persist}
          title={persistAsked === 'denied' ? 'The browser declined; it may still keep the data, but can evict it when the disk is full' : 'Ask the browser not to evict runs and LoRAs when the disk fills up'}
        >
          {persistAsked === 'denied' ? 'not kept (declined)' : 'keep data'}
        </button>
      )}
      <button type="button" className="link" onClick={() => studio.estimateStorage()} aria-label="Refresh the storage estimate" title="Refresh">
        ↻
      </button>
    </span>
  );
}
