// Files in and out: a run's LoRA as .safetensors (PEFT/diffusers names by default, kohya as an option), LoRA
// import (ours or other trainers'; a full fine-tune taken as a LoRA: FineTuneImport.tsx), the whole project, and
// the bundle for the reference PyTorch trainer. The worker builds the bytes; the page hands them to the user
// (file/download in main.tsx).
import { useState, type ChangeEvent } from 'react';
import { studio, useStudioStore } from '../store/studio';
import { formatBytes } from './format';
import { methodLabel } from '../train/methods/catalog';
import { FineTuneImport } from './FineTuneImport';
import { ProjectFolderBox } from './ProjectFolderPanel';
import { ProblemNotice, Section } from './Section';

async function readPicked(e: ChangeEvent<HTMLInputElement>): Promise<{ name: string; bytes: ArrayBuffer } | null> {
  const input = e.currentTarget;
  const file = input.files?.[0];
  input.value = ''; // the same file can be picked again
  if (!file) return null;
  return { name: file.name, bytes: await file.arrayBuffer() };
}

export function FilesPanel() {
  const runs = useStudioStore((s) => s.runs);
  const order = useStudioStore((s) => s.runOrder);
  const lora = useStudioStore((s) => s.lora);
  const project = useStudioStore((s) => s.project);
  const downloads = useStudioStore((s) => s.downloads);
  const imports = useStudioStore((s) => s.imports);
  const trained = order.map((id) => runs[id]).filter((r) => r && (r.step > 0 || r.checkpointStep > 0));
  const exportable = [
    ...trained.map((r) => ({ id: r.id, label: `${r.name} (${methodLabel(r.method)}, step ${r.step})`, run: true })),
    ...Object.values(imports).map((i) => ({ id: i.id, label: `imported: ${i.name}`, run: false })),
  ];
  const [picked, setPicked] = useState<string | null>(null);
  const runId = picked && exportable.some((e) => e.id === picked) ? picked : (trained[trained.length - 1]?.id ?? exportable[0]?.id ?? '');
  const isRun = Boolean(runs[runId]);
  const [naming, setNaming] = useState<'peft' | 'kohya'>('peft');
  const [dtype, setDtype] = useState<'F32' | 'F16'>('F32');
  const [readError, setReadError] = useState<string | null>(null);
  const [bundleSize, setBundleSize] = useState(512);
  const [bundleGpus, setBundleGpus] = useState(1);

  const pick = (handler: (f: { name: string; bytes: ArrayBuffer }) => void) => (e: ChangeEvent<HTMLInputElement>) => {
    setReadError(null);
    readPicked(e).then(
      (f) => f && handler(f),
      (err: unknown) => setReadError(`The file could not be read: ${String(err)}`),
    );
  };

  return (
    <Section id="files" title="Export and import" testId="files-panel">
      <div className="files-grid">
        <div className="files-box">
          <h3>LoRA weights</h3>
          <div className="row">
            <select value={runId} onChange={(e) => setPicked(e.currentTarget.value)} disabled={exportable.length === 0} data-testid="export-run" aria-label="Run to export">
              {exportable.length === 0 && <option value="">no trained run yet</option>}
              {exportable.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.label}
                </option>
              ))}
            </select>
            <select value={naming} onChange={(e) => setNaming(e.currentTarget.value as 'peft' | 'kohya')} data-testid="export-naming" aria-label="Key naming">
              <option value="peft">PEFT / diffusers names</option>
              <option value="kohya">kohya (sd-scripts) names</option>
            </select>
            <select value={dtype} onChange={(e) => setDtype(e.currentTarget.value as 'F32' | 'F16')} data-testid="export-dtype" aria-label="Precision">
              <option value="F32">float32</option>
              <option value="F16">float16</option>
            </select>
          </div>
          <div className="row">
            <button type="button" className="btn btn-primary" disabled={!runId || lora.exporting !== null} onClick={() => studio.exportLora(runId, naming, dtype)} data-testid="export-lora">
              {lora.exporting ? 'Exporting…' : 'Download LoRA (.safetensors)'}
            </button>
            <label className="btn">
              {lora.importing ? 'Importing…' : 'Import a LoRA…'}
              <input type="file" accept=".safetensors" className="visually-hidden" disabled={lora.importing !== null} onChange={pick((f) => studio.importLora(f.name, f.bytes))} data-testid="import-lora" />
            </label>
          </div>
          <p className="hint">PEFT names load with diffusers' <code>pipe.load_lora_weights()</code>; kohya names suit ComfyUI and sd-scripts. Imports accept ours, PEFT, kohya and OneTrainer SD3 LoRAs.</p>
          {lora.imported && (
            <div className="notice notice-ok" role="status" data-testid="lora-imported">
              <strong>Imported {lora.imported.name || 'the LoRA'}.</strong> Pick it as a column in Compare, or export it again with
              other key names.
              {lora.imported.warnings.length > 0 && (
                <ul className="warnings">
                  {lora.imported.warnings.map((w) => (
                    <li key={w}>{w}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {lora.error && (
            <ProblemNotice
              testId="lora-error"
              title="The LoRA could not be imported or exported."
              problem={{ message: lora.error, advice: 'Check that the file is an SD3-family LoRA in .safetensors for a base of the same size; other files are refused without changing anything.' }}
              onDismiss={studio.dismissLoraError}
            />
          )}
          <FineTuneImport />
        </div>

        <div className="files-box">
          <h3>Project</h3>
          <div className="row">
            <button type="button" className="btn" disabled={project.exporting} onClick={() => studio.exportProject()} data-testid="export-project">
              Download project
            </button>
            <label className="btn">
              {project.importing ? 'Importing…' : 'Upload project…'}
              <input type="file" className="visually-hidden" disabled={project.importing} onChange={pick((f) => studio.importProject(f.bytes))} data-testid="import-project" />
            </label>
          </div>
          <p className="hint">The runs, their curves and LoRA weights in one file, to move the studio to another browser or machine.</p>
          {project.imported && (
            <p className="notice notice-ok" role="status" data-testid="project-imported">
              Project imported: its runs are in the run list.
            </p>
          )}
          <h3>PyTorch trainer</h3>
          <div className="row">
            <label className="inline-select">
              <span className="muted small">Image size</span>
              <select value={bundleSize} onChange={(e) => setBundleSize(Number(e.currentTarget.value))} data-testid="bundle-size">
                {[512, 768, 1024].map((s) => (
                  <option key={s} value={s}>
                    {s} px
                  </option>
                ))}
              </select>
            </label>
            <label className="inline-select">
              <span className="muted small">GPUs</span>
              <select value={bundleGpus} onChange={(e) => setBundleGpus(Number(e.currentTarget.value))} data-testid="bundle-gpus">
                {[1, 2, 4, 8].map((g) => (
                  <option key={g} value={g}>
                    {g}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" className="btn" disabled={!runId || !isRun || project.exporting} onClick={() => studio.exportBundle(runId, { size: bundleSize, gpus: bundleGpus })} data-testid="export-bundle">
              Export for the PyTorch trainer
            </button>
          </div>
          <p className="hint">
            A bundle for the reference trainer (torchrun + DeepSpeed ZeRO-2, a full fine-tune of SD3.5-M): the dataset as JSONL (md5, caption_en, bw, bh) with
            images at the chosen size, launch.sh that checks the environment, and train.sh with the reference's flags. Its README says what comes back (a
            transformer folder) and how to turn it into a LoRA here ("A full fine-tune as a LoRA", or extract-lora).
          </p>
        </div>
        <ProjectFolderBox />
      </div>
      {project.error && <ProblemNotice testId="project-error" title="The project or bundle could not be made or read." problem={project.error} onDismiss={studio.dismissProjectError} />}
      {readError && <ProblemNotice testId="file-read-error" title="The file could not be opened." problem={{ message: readError, advice: 'Pick the file again; if it is on a network drive, copy it to a local disk first.' }} onDismiss={() => setReadError(null)} />}
      {downloads.length > 0 && (
        <p className="muted small" data-testid="downloads">
          Downloaded: {downloads.slice(0, 3).map((d) => `${d.fileName} (${formatBytes(d.size)})`).join(', ')}
        </p>
      )}
    </Section>
  );
}
