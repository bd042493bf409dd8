// `npm run bench:train [-- --env node|chromium|node,chromium] [--presets tiny,studio-s] [--methods sft,soar]
//  [--reps N] [--warmup N] [--profile-reps N | --no-profile] [--examples N]`: SFT and SOAR training steps, in
// Node on Dawn by default (Chromium on request: same code, one environment after the other, never both at once,
// they would share the CPU cores). Prints the tables and findings; writes bench/results/train-<env>.json and
// bench/results/train.md (every environment: one not run this time comes from its last JSON). Loaded through
// Vite by scripts/run-ts.mjs (the project's TypeScript launcher); the Chromium page is built and driven by bench/kernels/run.ts's
// runPage.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeNodeGpu, nodeGpu } from '../../src/gpu/node';
import { analyse } from './analysis';
import { fileKernelCache } from '../../src/cli/kernel-cache';
import { REPORT_VERSION, runTrainBench, type TrainBenchOptions, type TrainBenchReport } from './bench';
import { efficiencyLines, markdown, textTable } from './report';
import { isMethod, METHOD_IDS } from '../../src/train/methods';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const RESULTS = join(ROOT, 'bench/results');
const PAGE_OUT = join(ROOT, 'bench/dist/train'); // ignored by git (dist/)

type Env = 'node' | 'chromium';

function parseArgs(argv: string[]): { envs: Env[]; options: Partial<TrainBenchOptions> } {
  const o: Partial<TrainBenchOptions> = {};
  let envs: Env[] = ['node'];
  const int = (flag: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`bench:train: ${flag} needs an integer ≥ ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--env') envs = value().split(',') as Env[];
    else if (flag === '--presets') o.presets = value().split(',');
    else if (flag === '--methods') o.methods = value().split(',') as TrainBenchOptions['methods'];
    else if (flag === '--reps') o.reps = int(flag, value(), 1);
    else if (flag === '--warmup') o.warmup = int(flag, value(), 0);
    else if (flag === '--examples') o.examples = int(flag, value(), 1);
    else if (flag === '--profile-reps') o.profileReps = int(flag, value(), 1);
    else if (flag === '--no-profile') o.profile = false;
    else if (flag === '--kernels') {
      const k = value();
      if (k !== 'tune' && k !== 'default') throw new Error(`bench:train: --kernels tune|default, got ${k}`);
      o.kernels = k;
    }
    else throw new Error(`bench:train: unknown argument ${argv[i]} (--env node,chromium, --presets tiny,studio-s, --methods sft,soar,grpo,pretrain, --reps N, --warmup N, --profile-reps N, --no-profile, --examples N, --kernels tune|default)`);
  }
  for (const e of envs) if (e !== 'node' && e !== 'chromium') throw new Error(`bench:train: unknown environment ${e}`);
  for (const m of o.methods ?? []) if (!isMethod(m) && m !== 'pretrain') throw new Error(`bench:train: unknown method ${m} (${[...METHOD_IDS, 'pretrain'].join(', ')})`);
  return { envs, options: o };
}

async function runNode(options: Partial<TrainBenchOptions>): Promise<TrainBenchReport> {
  const ctx = await nodeGpu();
  try {
    return await runTrainBench({ name: 'node', platform: `Node ${process.version}, Dawn (npm webgpu)`, ctx, log: (s) => console.log(`  ${s}`), load: loadavg, kernelCache: fileKernelCache() }, options);
  } finally {
    await closeNodeGpu();
  }
}

/** The page runner of the kernel bench (bench/kernels/run.ts). */
type KernelRun = typeof import('../kernels/run');

/**
 * Imported only when asked for: the page runner pulls in Playwright and Vite's bundler, which Node runs never
 * need. The path names the .ts file explicitly (Vite's extension order puts .mjs before .ts).
 */
async function runChromium(options: Partial<TrainBenchOptions>): Promise<TrainBenchReport> {
  const entry = '../kernels/run.ts';
  const { runPage } = (await import(/* @vite-ignore */ entry)) as KernelRun;
  return runPage<TrainBenchReport>({ root: HERE, outDir: PAGE_OUT, fn: 'runTrainBench' }, options);
}

export async function main(argv: string[]): Promise<number> {
  const { envs, options } = parseArgs(argv);
  mkdirSync(RESULTS, { recursive: true });
  const reports = new Map<Env, TrainBenchReport>();
  for (const env of envs) {
    console.log(`\n--- ${env} ---`);
    const report = env === 'node' ? await runNode(options) : await runChromium(options);
    reports.set(env, report);
    writeFileSync(join(RESULTS, `train-${env}.json`), JSON.stringify(report, null, 2) + '\n');
  }
  for (const r of reports.values()) {
    console.log('\n' + textTable(r));
    console.log('\nfindings:\n' + analyse(r).join('\n'));
    console.log('');
    for (const line of efficiencyLines(r)) console.log(line);
  }
  const all: TrainBenchReport[] = [];
  for (const env of ['node', 'chromium'] as const) {
    const file = join(RESULTS, `train-${env}.json`);
    const r = reports.get(env) ?? (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as TrainBenchReport) : null);
    if (r && r.version === REPORT_VERSION) all.push(r);
    else if (r) console.log(`(bench/results/train-${env}.json is from an older version of this benchmark: left out of train.md; run --env ${env} again)`);
  }
  writeFileSync(join(RESULTS, 'train.md'), markdown(all.map((r) => ({ report: r, findings: analyse(r) }))));
  console.log(`\nwrote ${[...reports.keys()].map((e) => `bench/results/train-${e}.json`).join(', ')}, bench/results/train.md`);
  return 0;
}
