// `npm run bench:kernels [-- --full] [--env node|chromium] [--only matmul,attention,layernorm] [--reps N]
//  [--budget MS]`: the kernel benchmark in Node (Dawn) and then in headless Chromium, one after the other (never
// both at once: they would share the same CPU cores). Prints a table per environment and writes
// bench/results/kernels-<env>.json and bench/results/kernels.md. Loaded through Vite by scripts/run-ts.mjs.
import { chromium } from '@playwright/test';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { BenchOptions, BenchReport } from './bench';
import type { Op } from './cases';
import { ORT_DIST, runNode } from './node';
import { markdown, textTable } from './report';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const RESULTS = join(ROOT, 'bench/results');
const PAGE_OUT = join(ROOT, 'bench/dist/kernels'); // ignored by git (dist/)

/** Flags from shared/design/webgpu-without-a-gpu.md: WebGPU on SwiftShader, and no background network. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

type Env = 'node' | 'chromium';

interface Args {
  envs: Env[];
  options: Partial<BenchOptions>;
}

function parseArgs(argv: string[]): Args {
  const options: Partial<BenchOptions> = {};
  let envs: Env[] = ['node', 'chromium'];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--full') options.full = true;
    else if (flag === '--env') envs = value().split(',') as Env[];
    else if (flag === '--only') options.only = value().split(',') as Op[];
    else if (flag === '--reps') options.reps = Number(value());
    else if (flag === '--budget') options.budgetMs = Number(value());
    else throw new Error(`bench:kernels: unknown argument ${argv[i]} (--full, --env node,chromium, --only matmul,attention,layernorm, --reps N, --budget MS)`);
  }
  for (const e of envs) if (e !== 'node' && e !== 'chromium') throw new Error(`bench:kernels: unknown environment ${e}`);
  return { envs, options };
}

// ------------------------------------------------------------------ the browser run

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.json': 'application/json',
};

/** Static files on 127.0.0.1: the built page (in `pageOut`) at /, onnxruntime-web's dist at /ort/. */
function serve(pageOut: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/favicon.ico') {
      res.writeHead(204).end(); // the browser asks for one; a 404 would be logged as a page error
      return;
    }
    const [base, rel] = path.startsWith('/ort/') ? [ORT_DIST, path.slice(5)] : [pageOut, path.slice(1) || 'browser.html'];
    const file = normalize(join(base, rel));
    if (!file.startsWith(base + sep) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** A benchmark page: `root`/browser.html built into `outDir`, which sets `window[fn]` (an async function). */
export interface BenchPage {
  root: string;
  outDir: string;
  fn: string;
}

/** Builds and serves a benchmark page, opens it in headless Chromium and returns `await window[fn](arg)`. */
export async function runPage<T>(page: BenchPage, arg: unknown): Promise<T> {
  await build({
    configFile: false,
    root: page.root,
    base: '/',
    logLevel: 'warn',
    build: { outDir: page.outDir, emptyOutDir: true, target: 'es2022', rollupOptions: { input: join(page.root, 'browser.html') } },
  });
  const server = await serve(page.outDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const tab = await browser.newPage();
    tab.on('console', (m) => console.log(`  ${m.text()}`));
    tab.on('pageerror', (e) => console.error(`  [page error] ${e.message}`));
    const { port } = server.address() as AddressInfo;
    await tab.goto(`http://127.0.0.1:${port}/browser.html`);
    type Entry = Record<string, ((a: unknown) => Promise<T>) | undefined>;
    await tab.waitForFunction((fn) => typeof (window as unknown as Entry)[fn] === 'function', page.fn);
    return (await tab.evaluate(([fn, a]) => (window as unknown as Entry)[fn as string]!(a), [page.fn, arg] as const)) as T;
  } finally {
    await browser.close();
    server.close();
  }
}

function runChromium(options: Partial<BenchOptions>): Promise<BenchReport> {
  return runPage<BenchReport>({ root: HERE, outDir: PAGE_OUT, fn: 'runKernelBench' }, options);
}

// ------------------------------------------------------------------ main

export async function main(argv: string[]): Promise<number> {
  const { envs, options } = parseArgs(argv);
  mkdirSync(RESULTS, { recursive: true });
  const reports = new Map<Env, BenchReport>();
  for (const env of envs) {
    console.log(`\n--- ${env} ---`);
    const report = env === 'node' ? await runNode(options, (s) => console.log(`  ${s}`)) : await runChromium(options);
    reports.set(env, report);
    writeFileSync(join(RESULTS, `kernels-${env}.json`), JSON.stringify(report, null, 2) + '\n');
  }
  for (const r of reports.values()) console.log('\n' + textTable(r));
  // The Markdown summary shows both environments: one not run this time comes from its last JSON (dated).
  const all: BenchReport[] = [];
  for (const env of ['node', 'chromium'] as const) {
    const file = join(RESULTS, `kernels-${env}.json`);
    const r = reports.get(env) ?? (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchReport) : null);
    if (r) all.push(r);
  }
  writeFileSync(join(RESULTS, 'kernels.md'), markdown(all));
  console.log(`\nwrote ${[...reports.keys()].map((e) => `bench/results/kernels-${e}.json`).join(', ')}, bench/results/kernels.md`);
  return 0;
}
