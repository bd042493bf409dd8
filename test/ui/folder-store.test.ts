// The studio store's part of the project folder: the worker's folder messages, the requests (which mark what they
// wait for), and the lost-data report, which lets go of runs a folder (or a project file) brought back.
import { describe, expect, it } from 'vitest';
import { applyStudioMessages, connectStudio, initialStudioState, reduceStudio, studio, useStudioStore, type StudioState } from '../../src/store/studio';
import { DEFAULT_TRAIN } from '../../src/train/config';
import type { FolderStatus, RunSummary, UiToWorker, WorkerToUi } from '../../src/worker/protocol';
import { folderSupport } from '../../src/ui/project-folder';

const apply = (...ms: WorkerToUi[]): StudioState => ms.reduce(reduceStudio, initialStudioState);

const status = (over: Partial<FolderStatus> = {}): FolderStatus => ({
  name: 'picked',
  handle: { name: 'picked', getFileHandle: async () => Promise.reject(new Error('not here')) },
  permission: 'granted',
  writing: false,
  written: { at: 1, runs: [{ name: 'SFT 1', step: 3 }], dataset: { name: 'photos', count: 6 } },
  held: null,
  error: null,
  ...over,
});

const run = (id: string, checkpointStep: number): RunSummary => ({
  id,
  name: id,
  method: 'sft',
  config: { ...DEFAULT_TRAIN, method: 'sft' },
  status: 'paused',
  step: checkpointStep,
  checkpointStep,
  history: [],
  validation: [],
  createdAt: 1,
});

describe('project folder in the store', () => {
  it('keeps what the worker says of the folder, what an open brought back, and why keep/open failed', () => {
    let s = apply({ type: 'folder/state', folder: null });
    expect(s.folder).toMatchObject({ status: null, checked: true });
    s = reduceStudio({ ...s, folder: { ...s.folder, busy: 'keep' } }, { type: 'folder/state', folder: status() });
    expect(s.folder.busy).toBeNull();
    expect(s.folder.status!.written!.runs).toEqual([{ name: 'SFT 1', step: 3 }]);
    s = reduceStudio({ ...s, folder: { ...s.folder, busy: 'open' } }, { type: 'folder/opened', name: 'picked', added: ['"SFT 1" (step 3)'], skipped: [], replaced: [], dataset: 'photos', notes: [] });
    expect(s.folder).toMatchObject({ busy: null, error: null, opened: { name: 'picked', dataset: 'photos' } });
    s = reduceStudio({ ...s, folder: { ...s.folder, busy: 'open' } }, { type: 'folder/error', action: 'open', message: 'no project', advice: 'pick another' });
    expect(s.folder).toMatchObject({ busy: null, error: { message: 'no project', advice: 'pick another' } });
    // A write failure is the folder's own state (its alert), not a keep/open error.
    s = reduceStudio(s, { type: 'folder/state', folder: status({ error: { message: 'disk full', advice: 'free space' } }) });
    expect(s.folder.status!.error).toEqual({ message: 'disk full', advice: 'free space' });
  });

  it('sends the folder requests, marking what they wait for', () => {
    const sent: UiToWorker[] = [];
    connectStudio((m) => sent.push(m));
    useStudioStore.setState(initialStudioState, true);
    const handle = {} as FileSystemDirectoryHandle;
    studio.keepFolder(handle);
    expect(useStudioStore.getState().folder.busy).toBe('keep');
    studio.openFolder(null);
    expect(useStudioStore.getState().folder.busy).toBe('open');
    studio.retryFolder(true);
    studio.forgetFolder();
    expect(sent.map((m) => m.type)).toEqual(['folder/keep', 'folder/open', 'folder/retry', 'folder/forget']);
    expect(sent[0]).toEqual({ type: 'folder/keep', handle });
    expect(sent[2]).toEqual({ type: 'folder/retry', overwrite: true });
    studio.folderProblem({ message: 'picker failed', advice: 'again' });
    expect(useStudioStore.getState().folder).toMatchObject({ busy: null, error: { message: 'picker failed' } });
  });

  it('a run reported lost leaves the report once it is back at its step', () => {
    useStudioStore.setState({ ...initialStudioState, lostData: [{ id: 'a', name: 'a', step: 3, found: null }, { id: 'b', name: 'b', step: 5, found: null }] }, true);
    applyStudioMessages([{ type: 'runs/restored', runs: [run('a', 3), run('b', 2)] }]);
    expect(useStudioStore.getState().lostData.map((l) => l.id)).toEqual(['b']); // b came back older: still reported
  });

  it('says why a page cannot keep a folder', () => {
    expect(folderSupport({ isSecureContext: false, showDirectoryPicker: async () => ({}) as FileSystemDirectoryHandle })).toMatchObject({ ok: false, why: expect.stringMatching(/secure pages/) });
    expect(folderSupport({ isSecureContext: true })).toMatchObject({ ok: false, why: expect.stringMatching(/Chrome and Edge/) });
    expect(folderSupport({ isSecureContext: true, showDirectoryPicker: async () => ({}) as FileSystemDirectoryHandle })).toEqual({ ok: true });
  });
});
