// The studio store's reducer over worker messages, the chart maths and the run form, without a browser.
import { describe, expect, it } from 'vitest';
import { appendMetrics, connectStudio, initialStudioState, onRestartRequest, reduceStudio, studio, useStudioStore, type RunView, type StudioState } from '../../src/store/studio';
import { COMPARISON_RECIPE } from '../../src/train/recipes';
import { DEFAULT_TRAIN, validateTrainConfig } from '../../src/train/config';
import type { StepMetrics } from '../../src/train/trainer';
import { align, chartData, clippedRange, ema, METRICS } from '../../src/ui/chart-data';
import { configFromForm, errorsByField, formFromConfig, PRESETS, runsFor } from '../../src/ui/RunConfigPanel';
import { startableRuns } from '../../src/ui/StartFromField';
import { queuedRun, type RunSummary, type WorkerToUi } from '../../src/worker/protocol';

const metric = (step: number, loss = 1): StepMetrics => ({ step, loss, loss_main: loss, loss_aux: null, aux_per_sample: 0, grad_norm: 0.5, lr: 1e-3, ms_per_step: 10, skipped: false });

const run = (id: string, over: Partial<RunSummary> = {}): RunSummary => ({
  id,
  name: id,
  method: 'sft',
  config: { ...DEFAULT_TRAIN, method: 'sft' },
  status: 'running',
  step: 0,
  checkpointStep: 0,
  history: [],
  validation: [],
  createdAt: 1,
  ...over,
});

function apply(...ms: WorkerToUi[]): StudioState {
  return ms.reduce(reduceStudio, initialStudioState);
}

describe('studio store', () => {
  it('recovery replaces the worker: the old state is forgotten, the base preset kept, runs come back from the new worker', () => {
    const sent: string[] = [];
    connectStudio((m) => sent.push(m.type));
    let restarts = 0;
    onRestartRequest(() => {
      restarts++;
      studio.start(useStudioStore.getState().base.preset);
    });
    useStudioStore.setState(apply({ type: 'run/update', run: run('a') }, { type: 'gpu/lost', reason: 'unknown', message: 'gone' }));
    useStudioStore.setState((s) => ({ ...s, base: { ...s.base, preset: 'studio-s' } }));
    studio.restartWorker();
    const s = useStudioStore.getState();
    expect(restarts).toBe(1);
    expect(s.gpuLost).toBeNull();
    expect(s.runs).toEqual({});
    expect(s.base).toMatchObject({ preset: 'studio-s', status: 'loading' });
    expect(sent).toEqual(['base/load', 'runs/restore', 'storage/estimate']);
    useStudioStore.setState(initialStudioState, true);
  });

  it('a full fine-tune imported as a LoRA: running, progress, then the result listed with the imports; or the problem', () => {
    const sent: Array<{ type: string }> = [];
    connectStudio((m) => sent.push(m));
    studio.extractLora('run', [], 8, ['attn.to_q']);
    expect(sent.at(-1)).toMatchObject({ type: 'lora/extract', name: 'run', rank: 8, targets: ['attn.to_q'] });
    expect(useStudioStore.getState().extraction).toMatchObject({ running: 'run', progress: null, result: null, error: null });
    const summary = { rank: 8, modules: 2, min: 0.5, mean: 0.75, worst: [{ module: 'b', energyKept: 0.5, rank: 8 }] };
    const modules = [{ module: 'a', energyKept: 1, rank: 8 }, summary.worst[0]];
    useStudioStore.setState((s) =>
      [
        { type: 'lora/extract-progress', done: 1, total: 2, module: 'a' },
        { type: 'lora/imported', runId: 'import-1', warnings: [], name: 'run (rank 8)' },
        { type: 'lora/extracted', runId: 'import-1', name: 'run (rank 8)', source: 'run/transformer', summary, modules },
      ].reduce((st, m) => reduceStudio(st, m as WorkerToUi), s),
    );
    const s = useStudioStore.getState();
    expect(s.imports['import-1']).toEqual({ id: 'import-1', name: 'run (rank 8)', warnings: [] });
    expect(s.lora.imported).toBeNull(); // the extraction has its own notice
    expect(s.extraction).toMatchObject({ running: null, progress: null, error: null, result: { runId: 'import-1', summary } });
    const failed = reduceStudio({ ...s, extraction: { ...s.extraction, running: 'x' } }, { type: 'lora/extract-error', message: 'bad', advice: 'pick again' });
    expect(failed.extraction).toMatchObject({ running: null, error: { message: 'bad', advice: 'pick again' } });
    useStudioStore.setState(initialStudioState, true);
  });

  it('the comparison recipe (first screen, npm run demo) is a valid SOAR config with a cheaper K', () => {
    expect(validateTrainConfig({ ...COMPARISON_RECIPE, method: 'soar' })).toEqual([]);
    expect(COMPARISON_RECIPE.trajectory_length).toBeLessThan(DEFAULT_TRAIN.trajectory_length);
    expect(PRESETS.find((p) => p.id === 'comparison')?.config).toBe(COMPARISON_RECIPE);
  });

  it('adds runs on update, appends metrics with throughput, and validation points', () => {
    const s = apply(
      { type: 'run/update', run: run('a') },
      { type: 'run/metrics', runId: 'a', metrics: metric(1, 2), stepsPerSecond: 3, etaSeconds: 10, etaScope: 'run' },
      { type: 'run/metrics', runId: 'a', metrics: metric(2, 1.5), stepsPerSecond: 4, etaSeconds: 9, etaScope: 'run' },
      { type: 'run/validation', runId: 'a', step: 2, loss: 1.7 },
    );
    expect(s.runOrder).toEqual(['a']);
    expect(s.runs.a.step).toBe(2);
    expect(s.runs.a.history.map((h) => h.loss)).toEqual([2, 1.5]);
    expect(s.runs.a.stepsPerSecond).toBe(4);
    expect(s.runs.a.validation).toEqual([{ step: 2, loss: 1.7 }]);
  });

  it('a resumed run repeats steps after its checkpoint: later points are replaced, not duplicated', () => {
    const h = [metric(1), metric(2), metric(3)];
    expect(appendMetrics(h, metric(2, 9)).map((m) => [m.step, m.loss])).toEqual([
      [1, 1],
      [2, 9],
    ]);
  });

  it('restored runs come in creation order; metrics of unknown runs are ignored', () => {
    const s = apply(
      { type: 'run/metrics', runId: 'x', metrics: metric(1), stepsPerSecond: 1, etaSeconds: 1, etaScope: 'run' },
      { type: 'runs/restored', runs: [run('b', { createdAt: 5 }), run('a', { createdAt: 2 })] },
    );
    expect(s.runOrder).toEqual(['a', 'b']);
    expect(s.restore).toBe('done');
    expect(s.runs.x).toBeUndefined();
  });

  it('keeps errors with their advice, and drops frames of runs not watched', () => {
    let s = apply({ type: 'base/error', message: 'm', advice: 'a' }, { type: 'storage/error', message: 'full', advice: 'free space' }, { type: 'run/deleted', id: 'nope' });
    expect(s.base).toMatchObject({ status: 'error', error: { message: 'm', advice: 'a' } });
    expect(s.storage.errors).toEqual([{ message: 'full', advice: 'free space' }]);
    s = { ...s, trajectory: { watched: 'a', frame: null } };
    const img = { width: 1, height: 1, rgba: new Uint8ClampedArray(4) };
    const frame = { runId: 'b', step: 1, sigma0: 0.5, sigma1: null, z0: img, zSigma0: img, rollout: null, aux: [] };
    expect(reduceStudio(s, { type: 'trajectory/frame', frame }).trajectory.frame).toBeNull();
    expect(reduceStudio(s, { type: 'trajectory/frame', frame: { ...frame, runId: 'a' } }).trajectory.frame?.runId).toBe('a');
  });
});

describe('chart data', () => {
  it('EMA is debiased: a constant stays constant from the first point', () => {
    expect(ema([2, 2, 2], 0.9).map((v) => +v!.toFixed(12))).toEqual([2, 2, 2]);
    expect(ema([1, null, 3], 0)).toEqual([1, null, 3]);
  });

  it('aligns runs on one step axis with gaps', () => {
    expect(align([
      { runId: 'a', xs: [1, 2], ys: [10, 20] },
      { runId: 'b', xs: [2, 3], ys: [5, 6] },
    ])).toEqual([[1, 2, 3], [10, 20, null], [null, 5, 6]]);
  });

  it('clipping ignores a single spike', () => {
    const ys = [1, 1.1, 0.9, 1, 1.05, 0.95, 1, 1.02, 0.98, 1, 1000];
    const r = clippedRange([ys], false)!;
    expect(r[1]).toBeLessThan(50);
    expect(r[0]).toBeGreaterThanOrEqual(0);
  });

  it('reports points per run (what the e2e specs read) and leaves out SFT aux losses', () => {
    const a = { id: 'a', history: [metric(1), metric(2)], validation: [{ step: 2, loss: 1 }] };
    const aux = METRICS.find((m) => m.key === 'loss_aux')!;
    const loss = METRICS.find((m) => m.key === 'loss')!;
    const settings = { smoothing: 0.5, logScale: true, clipOutliers: true };
    expect(chartData([a], loss, settings).points).toEqual({ a: 2 });
    expect(chartData([a], aux, settings).points).toEqual({ a: 0 });
  });
});

describe('run form', () => {
  it('every preset is a valid config', () => {
    for (const p of PRESETS) {
      const form = formFromConfig(p.method, { ...DEFAULT_TRAIN, ...p.config }, p.id);
      expect(validateTrainConfig(configFromForm(form)), p.id).toEqual([]);
    }
  });

  it('names the field of each validation message, and "both" makes an SFT and a SOAR run with one seed', () => {
    const form = formFromConfig('both', DEFAULT_TRAIN, null);
    form.values.learning_rate = 'abc';
    const errs = validateTrainConfig(configFromForm(form));
    expect(Object.keys(errorsByField(errs))).toEqual(['learning_rate']);
    const runs = runsFor('both', DEFAULT_TRAIN, { sft: 1, soar: 0 }, 1000);
    expect(runs.map((r) => [r.name, r.config.method, r.config.seed])).toEqual([
      ['SFT 2', 'sft', 42],
      ['SOAR 1', 'soar', 42],
    ]);
  });

  it('a Flow-GRPO run starts from a finished SFT or SOAR run when one is chosen; other methods never', () => {
    expect(runsFor('grpo', DEFAULT_TRAIN, {}, 1000, 's1')).toEqual([{ id: 'run-rs-grpo', name: 'Flow-GRPO 1', config: { ...DEFAULT_TRAIN, method: 'grpo' }, startFrom: 's1' }]);
    expect(runsFor('both', DEFAULT_TRAIN, {}, 1000, 's1').map((r) => 'startFrom' in r)).toEqual([false, false]);
    const view = (id: string, method: RunView['method'], status: RunView['status'], checkpointStep: number) =>
      ({ ...queuedRun({ id, name: id, config: { ...DEFAULT_TRAIN, method } }, 0), status, checkpointStep, stepsPerSecond: null, etaSeconds: null, etaScope: null, phase: null }) as RunView;
    const runs = { a: view('a', 'soar', 'done', 30), b: view('b', 'sft', 'stopped', 12), c: view('c', 'soar', 'running', 10), d: view('d', 'grpo', 'done', 30), e: view('e', 'sft', 'stopped', 0) };
    expect(startableRuns(runs, ['a', 'b', 'c', 'd', 'e']).map((r) => r.id)).toEqual(['b', 'a']);
  });
});

describe('outlier clipping', () => {
  it('keeps a steep but ordinary start of training in view', () => {
    const ys = Array.from({ length: 40 }, (_, i) => 2 * Math.exp(-i / 8) + 0.3);
    expect(clippedRange([ys], false)).toBeNull();
  });
});
