import { GpuPanel } from './GpuPanel';

export function App() {
  return (
    <div className="shell">
      <header className="header">
        <h1>SOAR Studio</h1>
        <p className="tagline">LoRA post-training for SD3-style diffusion transformers, on your own GPU, in the browser.</p>
      </header>
      <main className="main">
        <GpuPanel />
      </main>
      <footer className="footer" data-testid="about">
        Everything runs locally in this tab through WebGPU; nothing leaves your machine. This build checks the GPU;
        the model, datasets and training arrive in later versions.
      </footer>
    </div>
  );
}
