// Files → "A full fine-tune as a LoRA": a fine-tuned transformer (the reference trainer's run: one .safetensors, or
// the transformer folder with its shards and index) back as a LoRA of the loaded base, listed with the imported
// LoRAs, with how much of each module's change the chosen rank keeps. The worker does the work (extract.ts); the
// page only hands it the File objects, which are read a tensor at a time, never whole.
import { useState, type ChangeEvent } from 'react';
import { ATTENTION_TARGETS, EXTRACTION_TARGETS } from '../model/lora';
import { studio, useStudioStore } from '../store/studio';
import { Progress } from './DatasetPanel';
import { ProblemNotice } from './Section';

const RANKS = [1, 2, 4, 8, 16, 32, 64, 128];
const TARGETS = { attention: [...ATTENTION_TARGETS], 'attention-mlp': [...EXTRACTION_TARGETS] };
/** `webkitdirectory` is not in React's input props; it is a plain boolean attribute. */
const FOLDER_PICKER = { webkitdirectory: '', directory: '' } as Record<string, string>;
/** What a transformer folder holds that matters (weights, index, config): the rest is not sent to the worker. */
const WANTED = /\.(safetensors|json)$/i;

const percent = (x: number) => `${(x * 100).toFixed(1)}\u00a0%`; // no line break inside a number

export function FineTuneImport() {
  const ex = useStudioStore((s) => s.extraction);
  const baseReady = useStudioStore((s) => s.base.status === 'ready');
  const [rank, setRank] = useState(8);
  const [targets, setTargets] = useState<keyof typeof TARGETS>('attention-mlp') // the CLI's default too;
  const busy = ex.running !== null;
  const start = (name: string, files: Array<{ path: string; file: File }>) => studio.extractLora(name, files, rank, TARGETS[targets]);

  const onFile = (e: ChangeEvent<HTMLInputElement>) => {
    const input = e.currentTarget;
    const file = input.files?.[0];
    input.value = ''; // the same file can be picked again
    if (file) start(file.name.replace(/\.safetensors$/i, ''), [{ path: file.name, file }]);
  };
  const onFolder = (e: ChangeEvent<HTMLInputElement>) => {
    const input = e.currentTarget;
    const all = Array.from(input.files ?? []);
    input.value = '';
    if (!all.length) return;
    const first = all[0].webkitRelativePath;
    const name = first.includes('/') ? first.slice(0, first.indexOf('/')) : 'fine-tune';
    const files = all.filter((f) => WANTED.test(f.name)).map((file) => ({ path: file.webkitRelativePath || file.name, file }));
    if (!files.some((f) => /\.safetensors$/i.test(f.path))) {
      studio.extractionProblem({ message: `The folder "${name}" holds no .safetensors file.`, advice: "Pick the fine-tune's transformer folder (diffusion_pytorch_model*.safetensors), or the folder the run saved it in." });
      return;
    }
    start(name, files);
  };

  return (
    <div className="finetune-import" data-testid="finetune-import">
      <h3>A full fine-tune as a LoRA</h3>
      <div className="row">
        <label className="inline-select">
          <span className="muted small">Rank</span>
          <select value={rank} onChange={(e) => setRank(Number(e.currentTarget.value))} disabled={busy} data-testid="extract-rank">
            {RANKS.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-select">
          <span className="muted small">Modules</span>
          <select value={targets} onChange={(e) => setTargets(e.currentTarget.value as keyof typeof TARGETS)} disabled={busy} data-testid="extract-targets">
            <option value="attention">attention (8 projections)</option>
            <option value="attention-mlp">attention + MLP (every linear a fine-tune changed)</option>
          </select>
        </label>
      </div>
      <div className="row">
        <label className="btn">
          {busy ? 'Extracting…' : 'Import a fine-tuned .safetensors…'}
          <input type="file" accept=".safetensors" className="visually-hidden" disabled={busy || !baseReady} onChange={onFile} data-testid="extract-file" />
        </label>
        <label className="btn">
          Import a transformer folder…
          <input type="file" {...FOLDER_PICKER} className="visually-hidden" disabled={busy || !baseReady} onChange={onFolder} data-testid="extract-folder" />
        </label>
      </div>
      <p className="hint">
        What a full fine-tune (e.g. the PyTorch trainer's run) gives back — a transformer folder, sharded or not — turned into a LoRA of the base loaded
        now: a truncated SVD of each module's difference from the base. Only the chosen modules are read, one at a time.
      </p>
      {busy && (
        <div data-testid="extract-progress">
          <p className="muted small">
            {ex.progress ? `Module ${ex.progress.done} of ${ex.progress.total}: ${ex.progress.module}` : `Reading ${ex.running}…`}
          </p>
          <Progress value={ex.progress ? ex.progress.done / ex.progress.total : null} />
        </div>
      )}
      {ex.result && <ExtractionResult result={ex.result} />}
      {ex.error && <ProblemNotice testId="extract-error" title="The fine-tune could not be imported." problem={ex.error} onDismiss={studio.dismissExtraction} />}
    </div>
  );
}

function ExtractionResult({ result }: { result: NonNullable<ReturnType<typeof useStudioStore.getState>['extraction']['result']> }) {
  const { summary } = result;
  const sorted = [...result.modules].sort((a, b) => a.energyKept - b.energyKept);
  return (
    <div className="notice notice-ok" role="status" data-testid="extract-result">
      <strong>Imported {result.name}</strong> from {result.source}: pick it as a column in Compare, or export it above.
      <p data-testid="extract-energy">
        Share of the fine-tune's change kept at rank {summary.rank}: lowest <strong>{percent(summary.min)}</strong>, mean <strong>{percent(summary.mean)}</strong> over{' '}
        {summary.modules} modules.
      </p>
      {summary.min < 0.999 && (
        <p className="small">
          Keeping least: {summary.worst.map((m) => `${m.module} (${percent(m.energyKept)})`).join(', ')}. A higher rank keeps more.
        </p>
      )}
      <details>
        <summary className="small">Every module</summary>
        <ul className="small extract-modules">
          {sorted.map((m) => (
            <li key={m.module}>
              {m.module}: {percent(m.energyKept)}
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
