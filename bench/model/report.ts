// Tables of a model benchmark report: plain text for the terminal, Markdown for bench/results/model.md.
import type { ImplResult, Timing } from '../kernels/bench';
import type { ForwardRow, ModelBenchReport, StepRow } from './bench';

const isTiming = (r: ImplResult | null): r is Timing => r !== null && !('error' in r);
const MiB = (b: number) => (b / 2 ** 20).toFixed(2);

function ms(r: ImplResult | null): string {
  if (r === null) return '-';
  return isTiming(r) ? r.ms.toFixed(1) : 'error';
}

function gflops(flops: number, r: ImplResult | null): string {
  return isTiming(r) ? (flops / r.ms / 1e6).toPrecision(3) : '-';
}

/** ours/ORT GPU time (below 1: ours faster), when both have GPU time. */
function gpuRatio(row: ForwardRow): string {
  if (!isTiming(row.ours) || !isTiming(row.ort) || row.ours.source !== 'gpu' || row.ort.source !== 'gpu') return '-';
  return (row.ours.ms / row.ort.ms).toFixed(2);
}

/** ours/ORT end-to-end wall time, ORT unprofiled. */
function wallRatio(row: ForwardRow): string {
  return isTiming(row.ours) && isTiming(row.ortPlain) ? (row.ours.wallMs / row.ortPlain.wallMs).toFixed(2) : '-';
}

const FORWARD_HEADER = ['model', 'batch', 'tokens', 'GFLOP', 'ours GPU ms', 'ours GFLOPS', 'ORT GPU ms', 'ORT GFLOPS', 'ours/ORT GPU', 'ours wall ms', 'ORT wall ms', 'ours/ORT wall', 'err'];

function forwardCells(r: ForwardRow): string[] {
  const wall = (t: ImplResult | null) => (isTiming(t) ? t.wallMs.toFixed(1) : t ? 'error' : '-');
  return [
    r.preset,
    String(r.batch),
    `${r.tokens.image}+${r.tokens.text}`,
    (r.flops / 1e9).toPrecision(3),
    ms(r.ours),
    gflops(r.flops, r.ours),
    ms(r.ort),
    gflops(r.flops, r.ort),
    gpuRatio(r),
    wall(r.ours),
    wall(r.ortPlain),
    wallRatio(r),
    r.err === null ? '-' : r.err.toExponential(1),
  ];
}

const STEP_HEADER = ['model', 'step', 'batch', 'aux items', 'resident MiB', 'peak MiB', 'step MiB', 'pool MiB', 'wall ms', 'GFLOP', 'GFLOPS'];

function stepCells(s: StepRow): string[] {
  return [
    s.preset,
    s.method === 'soar' ? `SOAR LoRA (K=${s.trajectoryLength})` : 'SFT LoRA',
    String(s.batch),
    String(s.auxItems),
    MiB(s.baselineBytes),
    MiB(s.peakBytes),
    MiB(s.stepBytes),
    MiB(s.allocatedBytes),
    s.ms.toFixed(0),
    (s.flops / 1e9).toPrecision(3),
    (s.flops / s.ms / 1e6).toPrecision(3),
  ];
}

function header(r: ModelBenchReport): string[] {
  return [
    `adapter: ${r.adapter}`,
    `ORT: ${r.ortVersion ? `onnxruntime-web ${r.ortVersion} (JSEP WebGPU EP) on ${r.ortAdapter ?? 'its own device'}` : `not run: ${r.ortNote ?? 'unavailable'}`}`,
    `platform: ${r.platform}; date ${r.date}`,
    `LoRA rank ${r.lora.rank}, alpha ${r.lora.alpha}, on ${r.lora.targets.join(', ')}: ours runs it unmerged (as in training), ORT merged into the exported weights`,
    `forward: GPU ms = median GPU time ${r.timestampQuery ? '(timestamp queries: ours around our compute passes, ORT summed over its kernels by its own profiling)' : '(none: no timestamp-query on this device; the wall time is shown)'}; wall ms = median time to completion (record, submit, wait), ORT with its profiling off; up to ${r.options.reps} reps after ${r.options.warmup} warm-up, round-robin (${r.options.budgetMs} ms budget); GFLOPS = src/model/flops.ts FLOPs / GPU ms; err = max|ours − ORT| / max|ours| over the whole output`,
    `steps: one LoRA training step (trainStep + AdamW) after a warm-up step; resident = pool bytes before the step (weights, adapter, optimizer state, batch), peak = pool high-water mark during it, step = peak − resident, pool = all buffers the pool holds after the steps (live + kept for reuse; trimmed before them); GFLOPS = executed FLOPs / wall time`,
  ];
}

function ortKernels(r: ModelBenchReport): string[] {
  return r.forward
    .filter((f) => f.ortKernels.length)
    .map((f) => `${f.preset} batch ${f.batch}: ${f.ortKernels.reduce((n, k) => n + k.count, 0)} kernels (${f.ortKernels.map((k) => `${k.kernel}×${k.count}`).join(', ')})`);
}

function errors(r: ModelBenchReport): string[] {
  const out: string[] = [];
  for (const f of r.forward) {
    for (const [who, res] of [['ours', f.ours], ['ORT', f.ort], ['ORT unprofiled', f.ortPlain]] as const) if (res && 'error' in res) out.push(`${f.preset} batch ${f.batch} ${who}: ${res.error}`);
  }
  return out;
}

function table(head: string[], rows: string[][], markdown: boolean): string[] {
  if (markdown) return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export function textTable(r: ModelBenchReport): string {
  const errs = errors(r);
  return [
    `== ${r.env} ==`,
    ...header(r),
    '',
    ...table(FORWARD_HEADER, r.forward.map(forwardCells), false),
    '',
    ...table(STEP_HEADER, r.steps.map(stepCells), false),
    ...(errs.length ? ['', 'errors:', ...errs.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

export function markdown(reports: ModelBenchReport[]): string {
  const out = [
    '# Model benchmark',
    '',
    'Written by `npm run bench:model` (bench/model/run.ts): the whole MMDiT forward on our kernels vs the same model',
    'exported to ONNX (src/model/onnx-export.ts) and run by onnxruntime-web\'s WebGPU EP, in the same process on the',
    'same adapter; and the peak GPU memory of LoRA training steps. Numbers are what this run measured, on this',
    'adapter; a software adapter (SwiftShader) says nothing about real GPUs beyond the ratios on it.',
    '',
  ];
  for (const r of reports) {
    out.push(`## ${r.env}`, '', ...header(r).map((h) => `- ${h}`), '', '### Forward', '', ...table(FORWARD_HEADER, r.forward.map(forwardCells), true), '');
    out.push('### Training step memory', '', ...table(STEP_HEADER, r.steps.map(stepCells), true), '');
    const errs = errors(r);
    if (errs.length) out.push('Errors:', '', ...errs.map((e) => `- ${e}`), '');
    const k = ortKernels(r);
    if (k.length) out.push('WebGPU kernels ORT ran per inference:', '', ...k.map((s) => `- ${s}`), '');
  }
  return out.join('\n');
}
