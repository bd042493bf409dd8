#!/usr/bin/env node
// `npm test`: the whole suite, from a fresh clone if need be.
//   1. Chromium (Debian's, which brings SwiftShader WebGPU) on Linux: installed with apt when we may, else explained.
//   2. npm dependencies, when missing.
//   3. type-check (tsc --noEmit), unit tests (vitest, Dawn on SwiftShader), build (vite), e2e (Playwright).
// The last line is always `N passed, N failed`: unit + e2e test counts, where a failed type-check or build,
// or a test runner that crashed without reporting, counts as one failure. Exit status 1 on any failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDependencies, run, runTool, ROOT, seconds } from './common.mjs';

const CHROMIUM = process.env.SOAR_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'artifacts');
const VITEST_JSON = join(ARTIFACTS, 'vitest.json');
const PLAYWRIGHT_JSON = join(ARTIFACTS, 'playwright.json'); // written by the json reporter in playwright.config.ts

let passed = 0;
let failed = 0;
const summary = [];

function note(line) {
  summary.push(line);
}

function canSudo() {
  try {
    execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function ensureChromium() {
  if (process.platform !== 'linux' || existsSync(CHROMIUM)) return;
  const install = 'apt-get update && apt-get install -y chromium';
  const manual = 'sudo apt-get update && sudo apt-get install -y chromium';
  const root = process.getuid?.() === 0;
  if (!root && !canSudo()) {
    console.error(`The end-to-end tests need Debian's Chromium at ${CHROMIUM} (it brings SwiftShader WebGPU).`);
    console.error(`Install it, then run npm test again:\n\n    ${manual}\n`);
    console.error('(Playwright\'s downloaded browsers are not used. Set SOAR_CHROMIUM to use a Chromium elsewhere.)');
    process.exit(1);
  }
  console.log(`\n== installing Chromium (${install})`);
  const code = await run(root ? 'sh' : 'sudo', root ? ['-c', install] : ['sh', '-c', install], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (code !== 0 || !existsSync(CHROMIUM)) {
    console.error(`Installing Chromium failed (exit ${code}); install it by hand: ${manual}`);
    process.exit(1);
  }
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

async function typecheck() {
  console.log('\n== type-check (tsc --noEmit -p tsconfig.json)');
  const t = Date.now();
  const code = await runTool('tsc', ['--noEmit', '-p', 'tsconfig.json']);
  if (code === 0) {
    note(`type-check: ok (${seconds(t)})`);
  } else {
    failed += 1;
    note(`type-check: FAILED, exit ${code} (${seconds(t)}; counted as 1 failure)`);
  }
}

async function unitTests() {
  console.log('\n== unit tests (vitest run)');
  const t = Date.now();
  rmSync(VITEST_JSON, { force: true });
  const code = await runTool('vitest', ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${VITEST_JSON}`]);
  const report = readJson(VITEST_JSON);
  if (!report) {
    failed += 1;
    note(`unit: FAILED, vitest exit ${code} without a report (${seconds(t)}; counted as 1 failure)`);
    return;
  }
  const ok = report.numPassedTests ?? 0;
  const bad = report.numFailedTests ?? 0;
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  passed += ok;
  failed += bad;
  let line = `unit: ${ok} passed, ${bad} failed${skipped ? `, ${skipped} skipped` : ''} in ${report.testResults?.length ?? '?'} files (${seconds(t)})`;
  if (code !== 0 && bad === 0) {
    // e.g. an error outside any test, or a file that failed to load: vitest fails the run without a failed test.
    failed += 1;
    line += `; vitest exited ${code} (counted as 1 failure)`;
  }
  note(line);
}

async function build() {
  console.log('\n== build (vite build)');
  const t = Date.now();
  const code = await runTool('vite', ['build']);
  if (code === 0) {
    note(`build: ok (${seconds(t)})`);
    return true;
  }
  failed += 1;
  note(`build: FAILED, exit ${code} (${seconds(t)}; counted as 1 failure)`);
  return false;
}

async function e2eTests() {
  console.log('\n== end-to-end tests (playwright test, built app, Chromium + SwiftShader)');
  const t = Date.now();
  rmSync(PLAYWRIGHT_JSON, { force: true });
  const code = await runTool('playwright', ['test'], { env: { SOAR_E2E_PREBUILT: '1' } });
  const report = readJson(PLAYWRIGHT_JSON);
  if (!report?.stats) {
    failed += 1;
    note(`e2e: FAILED, playwright exit ${code} without a report (${seconds(t)}; counted as 1 failure)`);
    return;
  }
  const { expected = 0, unexpected = 0, flaky = 0, skipped = 0 } = report.stats;
  passed += expected + flaky;
  failed += unexpected;
  let line = `e2e: ${expected + flaky} passed, ${unexpected} failed${flaky ? ` (${flaky} flaky)` : ''}${skipped ? `, ${skipped} skipped` : ''} (${seconds(t)})`;
  if (code !== 0 && unexpected === 0) {
    // e.g. the web server did not start, or an error outside the tests.
    failed += 1;
    const errors = (report.errors ?? []).map((e) => e.message?.split('\n')[0]).filter(Boolean);
    line += `; playwright exited ${code}${errors.length ? `: ${errors.join('; ')}` : ''} (counted as 1 failure)`;
  }
  note(line);
}

const started = Date.now();
await ensureChromium();
await ensureDependencies();
mkdirSync(ARTIFACTS, { recursive: true });

await typecheck();
await unitTests();
if (await build()) {
  await e2eTests();
} else {
  note('e2e: not run, the build failed');
}

console.log('\n== summary');
for (const line of summary) console.log(line);
console.log(`total time ${seconds(started)}; screenshots in artifacts/screenshots/`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
