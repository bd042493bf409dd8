// The kernel benchmark itself, platform-neutral: Node (Dawn) and Chromium run this same code; their entries
// (node.ts, browser.ts) only provide the GPU context and the onnxruntime-web module.
//
// Per case: warm-up runs of each implementation (pipeline compilation, ORT's first-run setup), then timed runs
// of all of them round-robin until each has `reps` or has spent the time budget (see measureAll). Each run is
// waited on to completion. Reported: median GPU time from timestamp queries where the device has them, else median wall
// time; the wall-time median is kept in the JSON too.
import type { GpuContext } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';
import { Engine } from '../../src/tensor/engine';
import type { Tensor } from '../../src/tensor/tensor';
import { PassTimer } from '../lib/pass-timer';
import { median, randomF32 } from '../lib/stats';
import { caseCost, caseInputs, caseLabel, selectCases, type Case, type Op } from './cases';
import { engineCase } from './engine-impls';
import { OrtBench, type Ort, type Sample } from './ort';
import { referenceSample, sampledError, sampleIndices } from './reference';
import { reportHeader, type ReportHeader } from '../lib/report-header';

const MIN_REPS = 3;

export interface BenchOptions {
  full: boolean;
  only?: Op[];
  warmup: number;
  reps: number;
  /** Per implementation and case: stop adding runs past this (after MIN_REPS). */
  budgetMs: number;
}

export const DEFAULT_OPTIONS: BenchOptions = { full: false, warmup: 1, reps: 5, budgetMs: 2000 };

export interface BenchEnv {
  name: string;
  /** Node version or the browser's user agent. */
  platform: string;
  ctx: GpuContext;
  /** onnxruntime-web, imported by the entry (paths differ per platform); null with the reason when unusable. */
  ort: Ort | null;
  ortUnavailable?: string;
  log: (line: string) => void;
}

export interface Timing {
  /** Median of `source`: GPU timestamps when available, else wall clock. */
  ms: number;
  source: 'gpu' | 'wall';
  /** Fastest run of `source` (less sensitive to other processes on a shared machine than the median). */
  minMs: number;
  wallMs: number;
  gpuMs: number | null;
  reps: number;
}

export type ImplResult = Timing | { error: string };

export interface Row {
  op: Op;
  shape: string;
  case: Case;
  flops: number;
  bytes: number;
  bound: 'compute' | 'memory';
  ours: ImplResult;
  ort: ImplResult | null;
  naive: ImplResult;
  ortOp?: string;
  ortKernels?: string[];
  naiveKind: string;
  /** max |x − ref| / max |ref| over sampled outputs, ref = float64 on the same inputs (null: not computed). */
  check: { ours: number | null; ort: number | null; naive: number | null };
}

export interface BenchReport extends ReportHeader {
  options: BenchOptions;
  rows: Row[];
}

export type Impl = 'ours' | 'ort' | 'naive';

/**
 * Times several implementations of one case round-robin (one run of each per round), so that load from other
 * processes on a shared machine falls on all of them alike rather than on whichever ran during a busy spell.
 * An implementation stops after `reps` runs, or once its runs add up to the budget and it has MIN_REPS (one,
 * when a single run alone is longer than the budget: --full's largest shapes on a software adapter).
 */
export async function measureAll(runs: Partial<Record<Impl, () => Promise<Sample>>>, o: BenchOptions): Promise<Partial<Record<Impl, ImplResult>>> {
  const state = Object.entries(runs).map(([impl, once]) => ({ impl: impl as Impl, once: once!, samples: [] as Sample[], spent: 0, error: null as string | null }));
  const done = (s: (typeof state)[number]) =>
    s.error !== null || s.samples.length >= o.reps || (s.spent >= o.budgetMs && s.samples.length >= (s.samples[0]?.wallMs > o.budgetMs ? 1 : MIN_REPS));
  for (const s of state) {
    const r = await attempt(async () => {
      for (let i = 0; i < o.warmup; i++) await s.once();
    });
    if (isError(r)) s.error = r.error;
  }
  while (!state.every(done)) {
    for (const s of state.filter((x) => !done(x))) {
      const r = await attempt(() => s.once());
      if (isError(r)) s.error = r.error;
      else {
        s.samples.push(r);
        s.spent += r.wallMs;
      }
    }
  }
  return Object.fromEntries(state.map((s) => [s.impl, s.error !== null ? { error: s.error } : summarize(s.samples)]));
}

function summarize(samples: Sample[]): Timing {
  const wall = samples.map((s) => s.wallMs);
  const gpu = samples.map((s) => s.gpuMs);
  const gpuMs = gpu.every((g): g is number => g !== null) ? median(gpu) : null;
  const chosen = gpuMs === null ? wall : (gpu as number[]);
  return { ms: gpuMs ?? median(wall), source: gpuMs === null ? 'wall' : 'gpu', minMs: Math.min(...chosen), wallMs: median(wall), gpuMs, reps: samples.length };
}

async function attempt<T>(f: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await f();
  } catch (err) {
    return { error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

const isError = (r: unknown): r is { error: string } => typeof r === 'object' && r !== null && 'error' in r;

export async function runKernelBench(env: BenchEnv, options: Partial<BenchOptions> = {}): Promise<BenchReport> {
  const o: BenchOptions = { ...DEFAULT_OPTIONS, ...options };
  const gpu = new Gpu(env.ctx);
  const engine = new Engine(gpu);
  const timer = PassTimer.create(env.ctx.device);
  const ortBench = env.ort ? new OrtBench(env.ort) : null;
  const rows: Row[] = [];

  /** One run of an engine op: record, submit, wait; GPU time of its passes when timestamps exist. */
  const engineRun = (fn: () => Tensor) => async (): Promise<Sample> => {
    timer?.begin();
    const t0 = performance.now();
    engine.noGrad(() => engine.scope(() => void fn()));
    await gpu.sync();
    const wallMs = performance.now() - t0;
    return { wallMs, gpuMs: timer ? await timer.end() : null };
  };
  const readOnce = async (fn: () => Tensor): Promise<Float32Array> => {
    const out = engine.keep(engine.noGrad(() => engine.scope(() => fn())));
    try {
      return await out.toArray();
    } finally {
      out.release();
    }
  };

  try {
    for (const c of selectCases(o.full, o.only)) {
      const cost = caseCost(c);
      const data = caseInputs(c).map((inp, i) => randomF32(inp.shape.reduce((a, b) => a * b, 1), 1000 + i));
      const ec = engineCase(engine, c, data);
      const row: Row = {
        op: c.op,
        shape: caseLabel(c),
        case: c,
        ...cost,
        ours: { error: 'not run' },
        ort: null,
        naive: { error: 'not run' },
        naiveKind: ec.naiveKind,
        check: { ours: null, ort: null, naive: null },
      };
      try {
        const indices = sampleIndices(c);
        const ref = referenceSample(c, data, indices);
        const err = (out: Float32Array | { error: string }) => (isError(out) ? null : sampledError(out, indices, ref));
        const oursOut = await attempt(() => readOnce(ec.ours));
        const naiveOut = await attempt(() => readOnce(ec.naive));
        row.check.ours = err(oursOut);
        row.check.naive = err(naiveOut);
        if (isError(oursOut)) row.ours = oursOut;
        if (isError(naiveOut)) row.naive = naiveOut;
        const prepared = ortBench ? await attempt(() => ortBench.prepare(c, data)) : null;
        if (prepared && isError(prepared)) row.ort = prepared;
        const ort = prepared && !isError(prepared) ? prepared : null;
        try {
          const t = await measureAll(
            {
              ...(isError(oursOut) ? {} : { ours: engineRun(ec.ours) }),
              ...(isError(naiveOut) ? {} : { naive: engineRun(ec.naive) }),
              ...(ort ? { ort: () => ort.run() } : {}),
            },
            o,
          );
          row.ours = t.ours ?? row.ours;
          row.naive = t.naive ?? row.naive;
          if (ort) {
            row.ortOp = ort.opLabel;
            row.ortKernels = ort.kernels;
            row.ort = t.ort ?? { error: 'not run' };
            if (!isError(row.ort) && ort.kernels.length === 0) {
              row.ort = { error: `${ort.opLabel} did not run on WebGPU (no WebGPU kernel profiled: CPU fallback)` };
            }
            row.check.ort = err(await attempt(() => ort.output()));
          }
        } finally {
          await ort?.release();
        }
      } finally {
        ec.release();
      }
      rows.push(row);
      env.log(`[${env.name}] ${c.op} ${row.shape}: ours ${fmt(row.ours)}, ORT ${row.ort ? fmt(row.ort) : '-'}, naive ${fmt(row.naive)}`);
    }
  } finally {
    timer?.dispose();
    gpu.destroy();
  }

  return {
    ...reportHeader(env, ortBench, timer !== null),
    options: o,
    rows,
  };
}

function fmt(r: ImplResult): string {
  return isError(r) ? `error (${r.error})` : `${r.ms.toFixed(2)} ms [${r.source}, ${r.reps} reps]`;
}
