// The dataset: drop a folder (or loose files), pick one with the folder picker, or take the built-in dataset.
// The page only lists the files (File objects are cheap handles); the worker reads, decodes and reports. The
// report says what was taken and, per reason, what was skipped and what to do; captions are editable inline.
import { useRef, useState, type ChangeEvent, type DragEvent, type KeyboardEvent } from 'react';
import { collectDroppedFiles, collectInputFilesChunked, type DroppedFiles } from '../data/ingest/browser-entries';
import { SKIP_REASONS, WARNING_KINDS } from '../data/ingest/report';
import { studio, useStudioStore } from '../store/studio';
import type { DatasetSummary } from '../worker/protocol';
import { downloadBytes } from './download';
import { RgbaCanvas } from './RgbaCanvas';
import { ProblemNotice, Section, useTrainingView } from './Section';

const FORMAT_LABEL: Record<string, string> = {
  captions: 'images with caption files',
  'hf-metadata': 'metadata.jsonl',
  'reference-jsonl': 'reference trainer JSONL',
  builtin: 'built-in procedural dataset',
};

const PHASE_LABEL = { list: 'Listing the folder’s files', scan: 'Reading captions and listing files', decode: 'Decoding and resizing images', encode: 'Encoding captions' };

/** `webkitdirectory` is not in React's input props; it is a plain boolean attribute. */
const FOLDER_PICKER = { webkitdirectory: '', directory: '' } as Record<string, string>;

/** The dataset's name from a drop, read synchronously (the items are gone after the event). */
function droppedName(dt: DataTransfer): string {
  const items = Array.from(dt.items ?? []).filter((i) => i.kind === 'file');
  if (items.length === 1) {
    const entry = typeof items[0].webkitGetAsEntry === 'function' ? items[0].webkitGetAsEntry() : null;
    if (entry) return entry.name;
  }
  const n = items.length || dt.files?.length || 0;
  return `${n} dropped item${n === 1 ? '' : 's'}`;
}

function submit(name: string, dropped: DroppedFiles): void {
  const files: Array<{ path: string; file: File }> = [];
  const unreadable: Array<{ path: string; error: string }> = [];
  for (const f of dropped.files) {
    if (f.file) files.push({ path: f.path, file: f.file });
    else unreadable.push({ path: f.path, error: f.error ?? 'the browser did not give this file' });
  }
  if (files.length === 0 && unreadable.length === 0) {
    studio.datasetProblem({
      message: `Nothing to read in “${name}”: it holds no files${dropped.ignored.length ? ` except ${dropped.ignored.length} hidden or system ones` : ''}.`,
      advice: 'Drop a folder of images with captions (cat.png + cat.txt), or a folder with a metadata.jsonl; or use the built-in dataset.',
    });
    return;
  }
  studio.ingest(name, files, { ignored: dropped.ignored, unreadable });
}

export function DatasetPanel() {
  const dataset = useStudioStore((s) => s.dataset);
  const training = useTrainingView();
  const [over, setOver] = useState(false);
  const depth = useRef(0);
  const busy = dataset.status === 'loading';

  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    depth.current = 0;
    setOver(false);
    const dt = e.dataTransfer;
    let listing: Promise<DroppedFiles>;
    let name: string;
    try {
      // Both synchronous, inside the event: the DataTransfer's items cannot be read after it returns.
      name = droppedName(dt);
      listing = collectDroppedFiles(dt);
      studio.datasetListing(name, 0, 0); // feedback at once; the listing walks the folder asynchronously
    } catch (err) {
      studio.datasetProblem({ message: `The drop could not be read: ${String(err)}`, advice: 'Try the “Choose folder” button instead.' });
      return;
    }
    listing.then(
      (d) => submit(name, d),
      (err: unknown) => studio.datasetProblem({ message: `The dropped folder could not be listed: ${String(err)}`, advice: 'Try the “Choose folder” button instead, or copy the folder to a local disk.' }),
    );
  };

  const onPick = (e: ChangeEvent<HTMLInputElement>) => {
    const input = e.currentTarget;
    const list = input.files;
    if (!list || list.length === 0) return;
    const first = list[0].webkitRelativePath;
    const name = first && first.includes('/') ? first.slice(0, first.indexOf('/')) : `${list.length} file${list.length === 1 ? '' : 's'}`;
    // Feedback first (this render happens before any listing work), then the files in slices: a folder of
    // 10,000 files never freezes the page.
    studio.datasetListing(name, 0, list.length);
    void collectInputFilesChunked(list, (done, total) => studio.datasetListing(name, done, total)).then(
      (d) => {
        submit(name, d);
        input.value = ''; // picking the same folder again re-reads it
      },
      (err: unknown) => studio.datasetProblem({ message: `The folder could not be listed: ${String(err)}`, advice: 'Pick it again, or copy the folder to a local disk.' }),
    );
  };

  const badge =
    dataset.status === 'ready' && dataset.summary ? (
      <span className="badge badge-ok" data-testid="dataset-badge">
        {dataset.summary.count} images
      </span>
    ) : busy ? (
      <span className="badge">reading</span>
    ) : dataset.status === 'error' ? (
      <span className="badge badge-error">failed</span>
    ) : (
      <span className="badge">none yet</span>
    );

  return (
    <Section id="dataset" title="Dataset" aside={badge} testId="dataset-panel" collapsed={training && dataset.summary ? `${dataset.summary.name}: ${dataset.summary.count} images` : null}>
      <div
        className={`dropzone${over ? ' dropzone-over' : ''}${busy ? ' dropzone-busy' : ''}`}
        data-testid="dropzone"
        onDragEnter={(e) => {
          e.preventDefault();
          depth.current++;
          setOver(true);
        }}
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
        }}
        onDragLeave={() => {
          depth.current = Math.max(0, depth.current - 1);
          if (depth.current === 0) setOver(false);
        }}
        onDrop={onDrop}
      >
        <div className="dropzone-text">
          <strong>Drop a dataset folder here</strong>
          <span className="muted">
            images with <code>.txt</code> captions, a <code>metadata.jsonl</code>, or a reference JSONL — or loose files
          </span>
        </div>
        <div className="dropzone-actions">
          <label className="btn">
            Choose folder…
            <input type="file" multiple {...FOLDER_PICKER} className="visually-hidden" data-testid="folder-input" onChange={onPick} disabled={busy} />
          </label>
          <label className="btn btn-ghost">
            Choose files…
            <input type="file" multiple className="visually-hidden" data-testid="files-input" onChange={onPick} disabled={busy} />
          </label>
          <span className="muted">or</span>
          <button type="button" className="btn btn-primary" data-testid="use-builtin" disabled={busy} onClick={() => studio.useBuiltin('clean', 64)}>
            Use built-in dataset
          </button>
        </div>
      </div>

      {busy && <IngestProgress source={dataset.source} progress={dataset.progress} />}
      {dataset.error && (
        <ProblemNotice testId="dataset-error" title={dataset.summary ? 'The new dataset could not be used; the previous one is kept.' : 'The dataset could not be used.'} problem={dataset.error} />
      )}
      {dataset.summary && <Report summary={dataset.summary} />}
      {dataset.summary && dataset.summary.preview.length > 0 && <Preview summary={dataset.summary} />}
    </Section>
  );
}

function IngestProgress({ source, progress }: { source: string | null; progress: { phase: 'list' | 'scan' | 'decode' | 'encode'; done: number; total: number } | null }) {
  const frac = progress && progress.total > 0 ? progress.done / progress.total : null;
  return (
    <div className="ingest-progress" data-testid="dataset-progress" data-phase={progress?.phase ?? 'waiting'}>
      <div className="progress-label">
        <span>
          <span className="spinner" aria-hidden="true" /> {progress ? PHASE_LABEL[progress.phase] : 'Waiting for the worker'}
          {source ? <span className="muted"> · {source}</span> : null}
        </span>
        {progress && (
          <span className="muted tabular">
            {progress.done} / {progress.total}
          </span>
        )}
      </div>
      <Progress value={frac} />
    </div>
  );
}

export function Progress({ value, testId }: { value: number | null; testId?: string }) {
  return (
    <div className={`progress${value === null ? ' progress-indeterminate' : ''}`} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={value === null ? undefined : Math.round(value * 100)} data-testid={testId}>
      <div className="progress-fill" style={value === null ? undefined : { width: `${Math.min(100, Math.max(0, value * 100)).toFixed(1)}%` }} />
    </div>
  );
}

function reasonRows(counts: Record<string, number>, labels: Record<string, { label: string; advice?: string } | string>) {
  const known = Object.keys(labels).filter((k) => counts[k]);
  const unknown = Object.keys(counts).filter((k) => !(k in labels) && counts[k]);
  return [...known, ...unknown].map((k) => {
    const l = labels[k];
    return { key: k, count: counts[k], label: typeof l === 'string' ? l : (l?.label ?? k), advice: typeof l === 'string' ? undefined : l?.advice };
  });
}

/** The files behind one reason: `file:line — why`, one line each (the first ones; the download has them all). */
function ReasonItems({ items, total }: { items: DatasetSummary['items']; total: number }) {
  if (!items.length) return null;
  return (
    <details className="reason-items" data-testid="reason-items">
      <summary>{items.length === 1 ? 'which file' : `which files (${items.length}${total > items.length ? ` of ${total}; the downloaded report lists all` : ''})`}</summary>
      <ul>
        {items.map((i, k) => (
          <li key={k} data-testid="reason-item">
            <code>
              {i.path}
              {i.line !== undefined ? `:${i.line}` : ''}
            </code>{' '}
            — {i.message}
          </li>
        ))}
      </ul>
    </details>
  );
}

function Report({ summary }: { summary: DatasetSummary }) {
  const skipped = reasonRows(summary.skipped, SKIP_REASONS);
  const warnings = reasonRows(summary.warnings, WARNING_KINDS);
  const nSkipped = skipped.filter((r) => r.key !== 'hidden-file').reduce((n, r) => n + r.count, 0);
  const download = () => {
    const base = summary.name.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || 'dataset';
    downloadBytes(`${base}-report.txt`, 'text/plain;charset=utf-8', summary.reportText);
  };
  return (
    <div className="report" data-testid="dataset-report" data-count={summary.count} data-skipped={JSON.stringify(summary.skipped)} data-warnings={JSON.stringify(summary.warnings)}>
      <div className="report-head">
        <p className="report-summary" data-testid="dataset-summary">
          <strong>{summary.name}</strong>: <span data-testid="dataset-taken">{summary.count}</span> image{summary.count === 1 ? '' : 's'} taken
          {nSkipped > 0 ? `, ${nSkipped} skipped` : ', nothing skipped'}
          {warnings.length > 0 ? `, ${warnings.reduce((n, w) => n + w.count, 0)} warnings` : ''}
          <span className="muted">
            {' '}
            · {FORMAT_LABEL[summary.format] ?? summary.format} · {summary.resolution}×{summary.resolution} px
          </span>
        </p>
        <button type="button" className="btn btn-small" data-testid="download-report" onClick={download}>
          Download report
        </button>
      </div>
      {summary.count === 0 && (
        <ProblemNotice
          testId="dataset-empty"
          kind="warn"
          title="No usable images: nothing to train on."
          problem={{ message: 'Every file was skipped; the reasons are listed below.', advice: 'Fix the files as each reason says and drop the folder again, or use the built-in dataset.' }}
        />
      )}
      {(skipped.length > 0 || warnings.length > 0) && (
        <table className="reasons" data-testid="report-reasons">
          <tbody>
            {skipped.map((r) => (
              <tr key={r.key} data-reason={r.key} data-count={r.count} className={r.key === 'hidden-file' ? 'muted' : undefined}>
                <td className="reason-count tabular">{r.count}</td>
                <td>
                  <span className="reason-label">{r.label}</span>
                  {r.advice && <span className="reason-advice">{r.advice}</span>}
                  <ReasonItems items={summary.items.filter((i) => i.kind === 'skip' && i.key === r.key)} total={r.count} />
                </td>
                <td className="reason-kind">
                  {r.key === 'hidden-file' ? <span className="tag">ignored</span> : <span className="tag tag-skip">skipped</span>}
                </td>
              </tr>
            ))}
            {warnings.map((r) => (
              <tr key={r.key} data-warning={r.key} data-count={r.count}>
                <td className="reason-count tabular">{r.count}</td>
                <td>
                  <span className="reason-label">{r.label}</span>
                  <ReasonItems items={summary.items.filter((i) => i.kind === 'warn' && i.key === r.key)} total={r.count} />
                </td>
                <td className="reason-kind">
                  <span className="tag tag-warn">taken, warning</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Preview({ summary }: { summary: DatasetSummary }) {
  return (
    <div className="preview" data-testid="dataset-preview">
      <h3>
        Preview <span className="muted">({summary.preview.length} of {summary.count}; click a caption to edit it — the dropped files are not changed)</span>
      </h3>
      <ul className="preview-grid">
        {summary.preview.map((p) => (
          <li key={p.id} className="preview-item" data-testid="preview-item" data-id={p.id}>
            <RgbaCanvas image={p.image} size={88} title={p.path} />
            <CaptionEditor id={p.id} caption={p.caption} path={p.path} />
          </li>
        ))}
      </ul>
    </div>
  );
}

function CaptionEditor({ id, caption, path }: { id: string; caption: string; path: string }) {
  const [draft, setDraft] = useState<string | null>(null);
  const cancelled = useRef(false);
  const commit = () => {
    if (!cancelled.current && draft !== null && draft.trim() !== caption) studio.editCaption(id, draft.trim());
    cancelled.current = false;
    setDraft(null);
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      e.currentTarget.blur();
    } else if (e.key === 'Escape') {
      cancelled.current = true;
      e.currentTarget.blur();
    }
  };
  return (
    <textarea
      className="caption-edit"
      rows={2}
      value={draft ?? caption}
      aria-label={`Caption of ${path}`}
      title={path}
      spellCheck={false}
      data-testid="caption-edit"
      onChange={(e) => setDraft(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={onKey}
    />
  );
}
