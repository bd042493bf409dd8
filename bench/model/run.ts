// `npm run bench:model [-- --quick | --full] [--env node|chromium] [--presets tiny,studio-s] [--batches 1,4]
//  [--step-batch N] [--soar-k K] [--reps N] [--budget MS]`: the model benchmark in Node (Dawn) and then in
// headless Chromium, one after the other (never both at once: they would share the same CPU cores). Prints a
// table per environment and writes bench/results/model-<env>.json and bench/results/model.md. Loaded through
// Vite by scripts/run-ts.mjs (the project's TypeScript launcher); the page is built and driven by bench/kernels/run.ts's runPage.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FULL, QUICK, type ModelBenchOptions, type ModelBenchReport } from './bench';
import { runNode } from './node';
import { markdown, textTable } from './report';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const RESULTS = join(ROOT, 'bench/results');
const PAGE_OUT = join(ROOT, 'bench/dist/model'); // ignored by git (dist/)

type Env = 'node' | 'chromium';

function parseArgs(argv: string[]): { envs: Env[]; options: ModelBenchOptions } {
  let options: ModelBenchOptions = { ...QUICK };
  const overrides: Partial<ModelBenchOptions> = {};
  let envs: Env[] = ['node', 'chromium'];
  const ints = (flag: string, v: string) => {
    const xs = v.split(',').map(Number);
    if (xs.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`bench:model: ${flag} takes non-negative integers, got ${v}`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--quick') options = { ...QUICK };
    else if (flag === '--full') options = { ...FULL };
    else if (flag === '--env') envs = value().split(',') as Env[];
    else if (flag === '--presets') overrides.presets = value().split(',');
    else if (flag === '--batches') overrides.batches = ints(flag, value());
    else if (flag === '--step-batch') overrides.stepBatch = ints(flag, value())[0];
    else if (flag === '--soar-k') overrides.soarK = ints(flag, value())[0];
    else if (flag === '--reps') overrides.reps = ints(flag, value())[0];
    else if (flag === '--budget') overrides.budgetMs = ints(flag, value())[0];
    else throw new Error(`bench:model: unknown argument ${argv[i]} (--quick, --full, --env node,chromium, --presets tiny,studio-s, --batches 1,4, --step-batch N, --soar-k K, --reps N, --budget MS)`);
  }
  for (const e of envs) if (e !== 'node' && e !== 'chromium') throw new Error(`bench:model: unknown environment ${e}`);
  return { envs, options: { ...options, ...overrides } };
}

// The kernel bench's page runner, imported by its full path (explicit, and safe should a launcher script ever
// sit next to it again: Vite tries .mjs before .ts).
const PAGE_RUNNER = '/bench/kernels/run.ts';

export async function main(argv: string[]): Promise<number> {
  const { envs, options } = parseArgs(argv);
  const { runPage } = (await import(/* @vite-ignore */ PAGE_RUNNER)) as typeof import('../kernels/run');
  mkdirSync(RESULTS, { recursive: true });
  const reports = new Map<Env, ModelBenchReport>();
  for (const env of envs) {
    console.log(`\n--- ${env} ---`);
    const report =
      env === 'node'
        ? await runNode(options, (s) => console.log(`  ${s}`))
        : await runPage<ModelBenchReport>({ root: HERE, outDir: PAGE_OUT, fn: 'runModelBench' }, options);
    reports.set(env, report);
    writeFileSync(join(RESULTS, `model-${env}.json`), JSON.stringify(report, null, 2) + '\n');
  }
  for (const r of reports.values()) console.log('\n' + textTable(r));
  // The Markdown summary shows both environments: one not run this time comes from its last JSON (dated).
  const all: ModelBenchReport[] = [];
  for (const env of ['node', 'chromium'] as const) {
    const file = join(RESULTS, `model-${env}.json`);
    const r = reports.get(env) ?? (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ModelBenchReport) : null);
    if (r) all.push(r);
  }
  writeFileSync(join(RESULTS, 'model.md'), markdown(all));
  console.log(`\nwrote ${[...reports.keys()].map((e) => `bench/results/model-${e}.json`).join(', ')}, bench/results/model.md`);
  return 0;
}
