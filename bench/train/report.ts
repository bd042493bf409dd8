// Tables of a training benchmark report: plain text for the terminal, Markdown for bench/results/train.md.
import type { Breakdown, CaseResult, TrainBenchReport } from './bench';
import { PHASES } from './probe';
import { describeKernelChoices } from '../../src/tensor/kernels';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)}`;
const gflop = (f: number) => (f / 1e9).toFixed(3);
const ms = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '-' : x.toFixed(digits));
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;

const MAIN_HEADER = ['preset', 'method', 'ms/step', 'src', 'wall ms', 'rec ms', 'disp', 'submits', 'passes', 'GFLOP', 'GFLOP/s', 'GFLOP/s wall', 'images/s', 'step MiB', 'resident MiB', 'new B/step', 'leak B/step'];

function mainCells(c: CaseResult): string[] {
  return [
    c.preset,
    c.method,
    ms(c.ms),
    c.source,
    ms(c.wallMs, 0),
    ms(c.recordMs, 0),
    String(c.dispatches),
    String(c.submits),
    String(c.passes),
    gflop(c.flops),
    (c.flops / c.ms / 1e6).toPrecision(3),
    (c.flops / c.wallMs / 1e6).toPrecision(3),
    (c.config.batch / (c.wallMs / 1000)).toPrecision(3),
    mib(c.stepPeakBytes),
    mib(c.bytesInUseAfter),
    String(c.newBytesPerStep),
    String(c.leakedBytesPerStep),
  ];
}

/**
 * One line per case: `efficiency: <preset> <case> <ratio>` (the step's GFLOP/s over the engine's matmul on the
 * preset's largest GEMM, same run), then the numbers behind it and the dispatches per step.
 */
export function efficiencyLines(r: TrainBenchReport): string[] {
  return r.cases.map((c) => {
    const e = c.efficiency;
    const images = c.config.batch / (c.wallMs / 1000);
    const rate = `${(c.flops / c.wallMs / 1e6).toFixed(3)} GFLOP/s, ${images.toFixed(2)} images/s`;
    if (!e) return `efficiency: ${c.preset} ${c.method} - (${rate}; ${c.dispatches} dispatches/step)`;
    return `efficiency: ${c.preset} ${c.method} ${e.ratio.toFixed(3)} (step ${rate}; matmul ${e.matmulShape} ${e.matmulGflops.toFixed(3)} GFLOP/s; ${c.dispatches} dispatches/step)`;
  });
}

const RATIO_HEADER = ['preset', 'SOAR/SFT measured', '(wall)', '(fastest)', '(profiled)', 'predicted (FLOPs)', 'stepCost()', 'measured vs FLOPs', 'host load'];

function ratioCells(r: TrainBenchReport['ratios'][number], cases: CaseResult[]): string[] {
  const load = cases.find((c) => c.preset === r.preset)?.hostLoad;
  return [
    r.preset,
    r.measured.toFixed(2),
    r.measuredWall.toFixed(2),
    r.measuredMin.toFixed(2),
    r.profiled === null ? '-' : r.profiled.toFixed(2),
    r.predictedFlops.toFixed(2),
    r.predictedStepCost.toFixed(2),
    pct(r.deviation),
    load ? `${load.start[0].toFixed(1)} → ${load.end[0].toFixed(1)}` : '-',
  ];
}

const PHASE_HEADER = ['phase', 'disp', 'GFLOP', 'GPU ms', 'share', 'ms/disp', 'uploads'];

function phaseRows(c: CaseResult): string[][] {
  const p = c.profile;
  if (!p?.timed) return [];
  const total = p.kernelMs || 1;
  return PHASES.filter((ph) => p.phases[ph]).map((ph) => {
    const b = p.phases[ph]!;
    return [ph, String(b.dispatches), gflop(b.flops), ms(b.gpuMs), b.gpuMs === null ? '-' : `${((100 * b.gpuMs) / total).toFixed(1)}%`, b.gpuMs === null ? '-' : (b.gpuMs / Math.max(b.dispatches, 1)).toFixed(3), b.uploads ? `${b.uploads} (${b.uploadBytes} B)` : '0'];
  });
}

function topKernels(kernels: Record<string, Breakdown>, n: number): string[][] {
  return Object.entries(kernels)
    .sort((a, b) => (b[1].gpuMs ?? b[1].dispatches) - (a[1].gpuMs ?? a[1].dispatches))
    .slice(0, n)
    .map(([k, b]) => [k, String(b.dispatches), gflop(b.flops), ms(b.gpuMs), b.gpuMs === null ? '-' : (b.gpuMs / b.dispatches).toFixed(3)]);
}

function table(header: string[], rows: string[][], leftCols = 2): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i < leftCols ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

function mdTable(header: string[], rows: string[][], leftCols = 2): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < leftCols ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function header(r: TrainBenchReport): string[] {
  const o = r.options;
  return [
    `adapter: ${r.adapter}`,
    `platform: ${r.platform}; date ${r.date}`,
    `LoRA (rank 4, attention targets), batch ${o.batch}, SOAR defaults with K=${o.trajectoryLength}, P=${o.rolloutPaths}; ${o.warmup} warm-up + ${o.reps} timed steps per case (median)`,
    r.timestampQuery
      ? 'ms/step = median GPU time summed over the step\'s compute passes (timestamp queries; buffer copies between passes not included); wall = record + submit + wait for the readbacks and gpu.sync()'
      : 'ms/step = median wall time (no timestamp-query on this device)',
    'rec = CPU time to record and submit the step (Trainer.trainStep resolving); GFLOP = src/model/flops.ts trainStepFlops (what the kernels execute: GEMMs, attention with its recompute, elementwise estimate); predicted ratio = SOAR GFLOP / SFT GFLOP',
    'phase/kernel tables: GFLOP = GEMM + attention counted from the dispatches (matmulCost / attentionFlops conventions); GPU ms = per-dispatch timestamps, fastest of the profiled steps',
    'step MiB = the step\'s peak pool bytes in use above what was resident when it began (activations, gradients, temporaries); resident = pool bytes in use after the step (both methods\' models of the preset, text encoder, LoRA, Adam state); new B/step = pool bytes created per timed step (0 = steady state); leak = bytes acquired in a step and never released',
    'ratio: measured = medians, fastest = fastest timed step of each, profiled = per-dispatch kernel time (fastest of the profiled steps); host load = 1-min load average at the start → end of the preset (SwiftShader runs on the CPU: a load near or above the core count means other processes competed with it)',
  ];
}

function caseFindings(c: CaseResult): string[] {
  const out: string[] = [];
  const created = Object.entries(c.createdLabels);
  if (created.length) out.push(`${c.preset} ${c.method}: buffers created in timed steps: ${created.map(([l, v]) => `'${l}' ×${v.count} (${v.bytes} B, ${v.kind})`).join(', ')}`);
  const leaked = Object.entries(c.leakedLabels);
  if (leaked.length) out.push(`${c.preset} ${c.method}: pool buffers acquired and never released in timed steps: ${leaked.map(([l, v]) => `'${l}' ×${v.count} (${v.bytes} B, phase ${v.phase})`).join(', ')}`);
  const causes = Object.entries(c.submitCauses).map(([k, v]) => `${k} ${v}${c.submitLabels[k] ? ` (${c.submitLabels[k]})` : ''}`).join(', ');
  out.push(`${c.preset} ${c.method}: submits per step by cause: ${causes}`);
  return out;
}

export function textTable(r: TrainBenchReport): string {
  const out = [`== ${r.env} ==`, ...header(r), '', ...table(MAIN_HEADER, r.cases.map(mainCells)), ''];
  out.push(...table(RATIO_HEADER, r.ratios.map((x) => ratioCells(x, r.cases)), 1), '');
  for (const c of r.cases) out.push(...caseFindings(c));
  for (const c of r.cases) {
    if (!c.profile?.timed) continue;
    out.push('', `-- ${c.preset} ${c.method}: profiled step (one pass per dispatch): ${ms(c.profile.kernelMs)} ms in kernels, ${ms(c.profile.spanMs)} ms span`);
    out.push(...table(PHASE_HEADER, phaseRows(c), 1));
    out.push('', ...table(['kernel', 'disp', 'GFLOP', 'GPU ms', 'ms/disp'], topKernels(c.profile.kernels, 12), 1));
  }
  return out.join('\n');
}

export function markdown(runs: Array<{ report: TrainBenchReport; findings: string[] }>): string {
  const out = [
    '# Training-step benchmark',
    '',
    'Written by `npm run bench:train` (bench/train/run.ts). Numbers are what this run measured on this adapter; on a',
    'software adapter (SwiftShader) they compare SFT and SOAR on the same adapter, not real GPUs.',
    '',
  ];
  for (const { report: r, findings } of runs) {
    out.push(`## ${r.env}`, '', ...header(r).map((h) => `- ${h}`), '');
    out.push(...mdTable(MAIN_HEADER, r.cases.map(mainCells)), '');
    if (r.kernels) out.push(`Kernel variants: ${describeKernelChoices(r.kernels.choices)}${r.kernels.tuning ? ` (measured in ${(r.kernels.tuning.ms / 1000).toFixed(1)} s this run)` : ''}.`, '');
    out.push('```', ...efficiencyLines(r), '```', '');
    out.push('### SOAR / SFT time ratio', '', ...mdTable(RATIO_HEADER, r.ratios.map((x) => ratioCells(x, r.cases)), 1), '');
    out.push('### Allocations and submits', '', ...r.cases.flatMap(caseFindings).map((f) => `- ${f}`), '');
    for (const c of r.cases) {
      if (!c.profile?.timed) continue;
      out.push(`### ${c.preset} ${c.method}: profiled step`, '', `One compute pass per dispatch, each timed: ${ms(c.profile.kernelMs)} ms in kernels, ${ms(c.profile.spanMs)} ms from first to last.`, '');
      out.push(...mdTable(PHASE_HEADER, phaseRows(c), 1), '');
      out.push(...mdTable(['kernel', 'disp', 'GFLOP', 'GPU ms', 'ms/disp'], topKernels(c.profile.kernels, 12), 1), '');
    }
    if (findings.length) out.push(`### Findings (${r.env})`, '', ...findings.map((f) => f.replace(/^### /, '#### ')), '');
  }
  return out.join('\n');
}
