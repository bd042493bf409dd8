// The studio page: header with storage, the GPU, then the journey top to bottom — base model, dataset, run
// configuration, runs, curves, trajectories, compare, files. Every panel reads the stores; the worker does the work.
import { BasePanel } from './BasePanel';
import { ChartsPanel } from './ChartsPanel';
import { ComparePanel } from './ComparePanel';
import { DatasetPanel } from './DatasetPanel';
import { FilesPanel } from './FilesPanel';
import { GpuPanel } from './GpuPanel';
import { QuickStartPanel } from './QuickStartPanel';
import { RunConfigPanel } from './RunConfigPanel';
import { RunsPanel } from './RunsPanel';
import { Boundary, useTrainingView } from './Section';
import { Alerts, StorageMeter } from './StatusBar';
import { TrajectoryPanel } from './TrajectoryPanel';

const NAV: Array<[string, string]> = [
  ['quick', 'Compare SFT vs SOAR'],
  ['base', 'Base'],
  ['dataset', 'Dataset'],
  ['config', 'Run'],
  ['charts', 'Curves'],
  ['trajectory', 'Trajectories'],
  ['compare', 'Compare'],
  ['files', 'Files'],
];

export function App() {
  // While a run trains, runs, curves and the latest rollout share the first screen (styles.css: .main.training).
  const training = useTrainingView();
  return (
    <div className="shell">
      <header className="header">
        <div className="brand">
          <h1>SOAR Studio</h1>
          <p className="tagline">LoRA post-training for SD3-style diffusion transformers, on your own GPU, in the browser.</p>
        </div>
        <nav className="nav" aria-label="Sections">
          {NAV.map(([id, label]) => (
            <a key={id} href={`#${id}`}>
              {label}
            </a>
          ))}
        </nav>
        <Boundary where="storage">
          <StorageMeter />
        </Boundary>
      </header>
      <main className={training ? 'main training' : 'main'} data-testid="main" data-view={training ? 'training' : 'setup'}>
        <Alerts />
        <GpuPanel />
        <QuickStartPanel />
        <BasePanel />
        <DatasetPanel />
        <RunConfigPanel />
        <RunsPanel />
        <ChartsPanel />
        <TrajectoryPanel />
        <ComparePanel />
        <FilesPanel />
      </main>
      <footer className="footer" data-testid="about">
        Everything runs locally in this tab through WebGPU; nothing leaves your machine. Runs, curves and LoRA weights are
        kept in this browser's storage, so closing the tab loses nothing: training resumes from the last checkpoint.
      </footer>
    </div>
  );
}
