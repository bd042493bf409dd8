// Tables of a benchmark report: plain text for the terminal, Markdown for bench/results/kernels.md.
import type { BenchReport, ImplResult, Row, Timing } from './bench';

const isTiming = (r: ImplResult | null): r is Timing => r !== null && !('error' in r);

function rate(row: Row, r: ImplResult | null): string {
  if (!isTiming(r)) return '-';
  return row.bound === 'memory' ? `${(row.bytes / r.ms / 1e6).toPrecision(3)} GB/s` : `${(row.flops / r.ms / 1e6).toPrecision(3)} GFLOPS`;
}

function ms(r: ImplResult | null): string {
  if (r === null) return '-';
  return isTiming(r) ? r.ms.toFixed(2) : 'error';
}

/** ours/ORT time: below 1 means ours is faster. Compared on GPU time when both have it, else on wall time. */
function ratio(row: Row): string {
  if (!isTiming(row.ours) || !isTiming(row.ort)) return '-';
  if (row.ours.source === row.ort.source) return (row.ours.ms / row.ort.ms).toFixed(2);
  return `${(row.ours.wallMs / row.ort.wallMs).toFixed(2)} (wall)`;
}

function check(x: number | null): string {
  return x === null ? '-' : x.toExponential(1);
}

const HEADER = ['kernel', 'shape', 'ours ms', 'ours rate', 'ORT ms', 'ORT rate', 'naive ms', 'naive rate', 'ours/ORT', 'err ours', 'err ORT', 'err naive'];

function cells(row: Row): string[] {
  return [
    row.op,
    row.shape,
    ms(row.ours),
    rate(row, row.ours),
    ms(row.ort),
    rate(row, row.ort),
    ms(row.naive),
    rate(row, row.naive),
    ratio(row),
    check(row.check.ours),
    check(row.check.ort),
    check(row.check.naive),
  ];
}

function timingNote(r: BenchReport): string {
  return r.timestampQuery
    ? 'ms = median GPU time (timestamp queries: ours/naive around our compute passes, ORT from its own profiling)'
    : 'ms = median wall time to completion (no timestamp-query on this device)';
}

function errors(r: BenchReport): string[] {
  const out: string[] = [];
  for (const row of r.rows) {
    for (const [who, res] of [['ours', row.ours], ['ORT', row.ort], ['naive', row.naive]] as const) {
      if (res && 'error' in res) out.push(`${row.op} ${row.shape} ${who}: ${res.error}`);
    }
  }
  return out;
}

function header(r: BenchReport): string[] {
  const ops = (bound: Row['bound']) => [...new Set(r.rows.filter((row) => row.bound === bound).map((row) => row.op))].join(', ');
  const rates = [['GFLOPS', ops('compute')], ['GB/s', ops('memory')]].filter(([, o]) => o).map(([u, o]) => `${u} (${o})`);
  return [
    `adapter: ${r.adapter}`,
    `ORT: ${r.ortVersion ? `onnxruntime-web ${r.ortVersion} (JSEP WebGPU EP) on ${r.ortAdapter ?? 'its own device'}` : `not run: ${r.ortNote ?? 'unavailable'}`}`,
    `platform: ${r.platform}; date ${r.date}`,
    `${timingNote(r)} (JSON: also fastest run and wall medians); rate = ${rates.join(' or ')}; ours/ORT < 1: ours faster`,
    `err = max|x − ref| / max|ref| over 64 sampled outputs, ref = float64 on the same inputs; reps per cell: up to ${r.options.reps} after ${r.options.warmup} warm-up (${r.options.budgetMs} ms budget)`,
  ];
}

export function textTable(r: BenchReport): string {
  const rows = [HEADER, ...r.rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const errs = errors(r);
  return [
    `== ${r.env} ==`,
    ...header(r),
    '',
    line(HEADER),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...r.rows.map((row) => line(cells(row))),
    ...(errs.length ? ['', 'errors:', ...errs.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

export function markdown(reports: BenchReport[]): string {
  const out = ['# Kernel benchmark', '', 'Written by `npm run bench:kernels` (bench/kernels/run.ts). Numbers are what this run measured, on this', 'adapter; a software adapter (SwiftShader) says nothing about real GPUs beyond the ratios on it.', ''];
  for (const r of reports) {
    out.push(`## ${r.env}`, '', ...header(r).map((h) => `- ${h}`), '');
    out.push(`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const row of r.rows) out.push(`| ${cells(row).join(' | ')} |`);
    const errs = errors(r);
    if (errs.length) out.push('', 'Errors:', '', ...errs.map((e) => `- ${e}`));
    const naive = [...new Set(r.rows.map((row) => `${row.op}: ${row.naiveKind}`))];
    const ortOps = [...new Set(r.rows.filter((row) => row.ortOp).map((row) => `${row.op}: ${row.ortOp} → ${[...new Set(row.ortKernels ?? [])].join(', ') || 'no WebGPU kernel'}`))];
    out.push('', 'Naive baselines:', '', ...naive.map((n) => `- ${n}`));
    if (ortOps.length) out.push('', 'ORT models and the WebGPU kernels ORT ran:', '', ...ortOps.map((n) => `- ${n}`));
    out.push('');
  }
  return out.join('\n');
}
