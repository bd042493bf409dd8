import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { applyWorkerMessage } from './store/gpu';
import { App } from './ui/App';
import './ui/styles.css';
import { startStudioWorker } from './worker/client';

// The worker is started once, outside React, so StrictMode's double effects cannot start two GPU owners.
try {
  const worker = startStudioWorker(applyWorkerMessage);
  worker.send({ type: 'gpu/probe' });
} catch (e) {
  applyWorkerMessage({
    type: 'gpu/error',
    stage: 'worker',
    message: `The studio worker could not be started: ${e instanceof Error ? e.message : String(e)}`,
  });
}

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
