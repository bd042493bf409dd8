// A stand-in for the studio worker, served by the UI specs in place of the real worker script (page.route), so
// the UI's states that a real GPU rarely produces — a lost device, a full disk, a failed base, a bad LoRA — can
// be shown on demand and checked. It speaks src/worker/protocol.ts and nothing else. SCENARIO is substituted by
// the spec: 'happy' answers everything; 'errors' fails each request with the worker's error messages; 'run-error'
// answers everything but fails the first run it starts (NaN loss).
const SCENARIO = '__SCENARIO__';
const post = (m) => self.postMessage(m);

function image(w, h, f) {
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [r, g, b] = f(x, y);
      rgba.set([r, g, b, 255], (y * w + x) * 4);
    }
  return { width: w, height: h, rgba };
}
const noise = (seed) => {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 255;
};
const noisy = (seed) => {
  const r = noise(seed);
  return image(8, 8, () => [r(), r(), r()]);
};
const shape = (c) => image(8, 8, (x, y) => ((x - 3.5) ** 2 + (y - 3.5) ** 2 < 8 ? c : [20, 20, 24]));

const ADAPTER = {
  vendor: 'mock',
  architecture: 'swiftshader',
  device: '',
  description: '',
  isSoftware: true,
  features: ['timestamp-query'],
  limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 },
};

const runs = new Map();
let timer = null;
let watched = null;

function tick() {
  for (const r of runs.values()) {
    if (r.status !== 'running') continue;
    r.step++;
    const t = r.step;
    const metrics = {
      step: t,
      loss: 1.2 * Math.exp(-t / 25) + 0.15 + 0.03 * Math.sin(t * 1.7) + (r.method === 'soar' ? 0.02 : 0),
      loss_main: 1.1 * Math.exp(-t / 25) + 0.14,
      loss_aux: r.method === 'soar' ? 0.9 * Math.exp(-t / 30) + 0.2 : null,
      aux_per_sample: r.method === 'soar' ? 2 : 0,
      grad_norm: 0.8 * Math.exp(-t / 40) + 0.1 + (t === 7 ? 3 : 0),
      lr: r.config.learning_rate,
      ms_per_step: r.method === 'soar' ? 180 + 10 * Math.sin(t) : 60 + 5 * Math.sin(t),
      gflops: r.method === 'soar' ? 0.9 + 0.05 * Math.sin(t) : 0.8 + 0.05 * Math.sin(t),
      skipped: false,
    };
    r.history.push(metrics);
    post({ type: 'run/metrics', runId: r.id, metrics, stepsPerSecond: r.method === 'soar' ? 5.4 : 16.1, etaSeconds: (r.config.max_train_steps - t) / 5, etaScope: 'run' });
    if (t % 5 === 0) {
      r.validation.push({ step: t, loss: 1.0 * Math.exp(-t / 25) + 0.2 });
      post({ type: 'run/validation', runId: r.id, step: t, loss: 1.0 * Math.exp(-t / 25) + 0.2 });
      r.checkpointStep = t;
    }
    if (t >= r.config.max_train_steps) r.status = 'done';
    if (t % 5 === 0 || r.status === 'done') post({ type: 'run/update', run: { ...r, history: [...r.history] } });
    if (watched === r.id) {
      post({
        type: 'trajectory/frame',
        frame: {
          runId: r.id,
          step: t,
          sigma0: 0.62,
          sigma1: r.method === 'soar' ? 0.48 : null,
          z0: shape([220, 60, 60]),
          zSigma0: noisy(t),
          rollout: r.method === 'soar' ? noisy(t + 1) : null,
          aux:
            r.method === 'soar'
              ? [0.55, 0.71].map((s, i) => ({ sigma: s, state: noisy(t + 10 + i), target: noisy(t + 20 + i), predictedX0: shape([200, 80, 70]) }))
              : [],
        },
      });
    }
  }
}

function handle(m) {
  const fail = SCENARIO === 'errors';
  switch (m.type) {
    case 'gpu/probe':
      post({ type: 'gpu/adapter', summary: ADAPTER, description: 'mock adapter' });
      post({ type: 'gpu/selftest', result: { ok: true, n: 1024, maxAbsError: 0, ms: 3 }, text: 'compute self-test passed: 1024 values match the CPU, max error 0' });
      // The device is lost once: the worker the page starts to recover (named soar-studio#2) keeps its GPU.
      if (fail && self.name.endsWith('#1')) setTimeout(() => post({ type: 'gpu/lost', reason: 'unknown', message: 'The GPU process exited (mock).' }), 300);
      // The second worker crashes (an uncaught error at the top level); the third one runs.
      if (fail && self.name.endsWith('#2')) setTimeout(() => { throw new Error('out of memory (mock crash)'); }, 300);
      break;
    case 'base/load':
      if (fail) post({ type: 'base/error', message: 'base-model.json is missing from the build.', advice: 'Rebuild the studio (npm run build) or pick the tiny preset.' });
      else post({ type: 'base/ready', base: { id: `${m.preset}-random`, preset: m.preset, source: 'random', resolution: 8, parameters: 187_000, trainable: true, textEncoder: 'WGSL kernels (the engine)' } });
      break;
    case 'runs/restore':
      post({ type: 'runs/restored', runs: [...runs.values()] });
      break;
    case 'storage/estimate':
      post({ type: 'storage/estimate', usage: 3.2 * 2 ** 20, quota: 10 * 2 ** 30, persisted: false });
      if (fail) post({ type: 'storage/error', message: 'Saving the checkpoint of SOAR 1 at step 40 failed: QuotaExceededError.', advice: 'Free disk space or delete old runs, then press Resume: the run continues from its last saved checkpoint.' });
      break;
    case 'data/builtin':
    case 'data/files': {
      if (fail) {
        post({ type: 'data/error', message: 'No images with captions were found in the folder.', advice: 'Drop a folder with cat.png + cat.txt pairs, or a metadata.jsonl.' });
        break;
      }
      post({ type: 'data/progress', phase: 'decode', done: 3, total: 8 });
      const colors = [[220, 60, 60], [60, 200, 90], [70, 110, 230], [230, 210, 60], [210, 70, 210], [60, 210, 220]];
      const words = ['a red circle', 'a green circle', 'a blue circle', 'a yellow circle', 'a magenta circle', 'a cyan circle'];
      setTimeout(
        () =>
          post({
            type: 'data/ready',
            dataset: {
              name: m.type === 'data/builtin' ? 'builtin:clean' : m.name,
              format: 'captions',
              count: 6,
              resolution: 8,
              reportText: '6 images taken, 3 skipped\n',
              skipped: { 'no-caption': 1, 'corrupt-image': 1, 'caption-without-image': 1 },
              warnings: { upscaled: 2 },
              items: [
                { key: 'no-caption', kind: 'skip', path: 'lonely.png', message: 'no caption file beside it' },
                { key: 'corrupt-image', kind: 'skip', path: 'broken.png', message: 'the file ends inside the image data' },
                { key: 'caption-without-image', kind: 'skip', path: 'notes.txt', message: 'no image with this name' },
                { key: 'upscaled', kind: 'warn', path: 'img0.png', message: '4×4 px, smaller than the 8×8 training resolution: upscaled ×2.00' },
                { key: 'upscaled', kind: 'warn', path: 'img1.png', message: '4×4 px, smaller than the 8×8 training resolution: upscaled ×2.00' },
              ],
              preview: colors.map((c, i) => ({ id: `img${i}.png`, path: `img${i}.png`, caption: words[i], image: shape(c) })),
            },
          }),
        150,
      );
      break;
    }
    case 'run/start':
      for (const r of m.runs) {
        const run = { id: r.id, name: r.name, method: r.config.method, config: r.config, status: 'running', step: 0, checkpointStep: 0, history: [], validation: [], createdAt: Date.now() };
        runs.set(r.id, run);
        post({ type: 'run/update', run: { ...run, history: [] } });
      }
      if (SCENARIO === 'run-error') {
        const r = m.runs[0];
        const run = runs.get(r.id);
        run.status = 'error';
        run.error = { message: 'step 3: loss is not finite (NaN or Inf); the update was refused and training stopped.', advice: 'Lower the learning rate or max_grad_norm, or check the data, then resume.' };
        post({ type: 'run/update', run: { ...run } });
      }
      timer ??= setInterval(tick, 60);
      break;
    case 'run/pause':
    case 'run/stop':
    case 'run/resume': {
      const r = runs.get(m.id);
      if (!r) break;
      r.status = m.type === 'run/pause' ? 'paused' : m.type === 'run/stop' ? 'stopped' : 'running';
      post({ type: 'run/update', run: { ...r, history: [...r.history] } });
      break;
    }
    case 'run/delete':
      runs.delete(m.id);
      break;
    case 'trajectory/watch':
      watched = m.runId;
      break;
    case 'compare/sample': {
      if (fail) {
        post({ type: 'compare/error', message: 'The sampler ran out of GPU memory.' });
        break;
      }
      const total = m.request.prompts.length * (1 + m.request.runs.length);
      post({ type: 'compare/progress', done: 1, total });
      const col = (label, runId, k) => ({
        label,
        runId,
        images: m.request.prompts.map((_, p) => (k === 0 ? noisy(m.request.seed + p) : shape([60 + 60 * k, 120, 200 - 50 * k]))),
        trajectories: m.request.captureTrajectory ? m.request.prompts.map((_, p) => [0, 1, 2, 3].map((s) => noisy(m.request.seed + p * 7 + s))) : null,
        scores: { overall: 0.2 + 0.2 * k, perTask: { colors: 0.3 } },
      });
      setTimeout(
        () =>
          post({
            type: 'compare/result',
            prompts: m.request.prompts,
            columns: [col('base', null, 0), ...m.request.runs.map((id, i) => col(`${runs.get(id)?.method.toUpperCase() ?? '?'} (${runs.get(id)?.name ?? id})`, id, i + 1))],
          }),
        200,
      );
      break;
    }
    case 'lora/export':
      if (fail) post({ type: 'lora/error', message: 'The run has no LoRA weights yet.' });
      else post({ type: 'file/download', fileName: `${m.runId}.safetensors`, mime: 'application/octet-stream', bytes: new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]).buffer });
      break;
    case 'lora/import':
      post({ type: 'lora/error', message: `${m.name} is not a safetensors file: the header length is larger than the file.` });
      break;
    case 'project/export':
    case 'bundle/export':
    case 'project/import':
      post({ type: 'project/error', message: 'The project could not be imported: the file is damaged (zip central directory missing).', advice: 'Nothing was changed. Download the project again from the studio that made it.' });
      break;
  }
}

self.addEventListener('message', (e) => handle(e.data));
