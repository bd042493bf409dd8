// Helpers shared by scripts/start.mjs and scripts/test.mjs. Plain Node, no dependencies: these scripts run
// before node_modules exists.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The JavaScript entry of a tool in node_modules, run with this Node: no .bin shims, no npx, no shell. */
export const TOOLS = {
  tsc: 'node_modules/typescript/bin/tsc',
  vite: 'node_modules/vite/bin/vite.js',
  vitest: 'node_modules/vitest/vitest.mjs',
  playwright: 'node_modules/@playwright/test/cli.js',
};

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command with inherited output; resolves to its exit code (never rejects). */
export function run(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      stdio: 'inherit',
      shell: process.platform === 'win32' && command === NPM,
      ...options,
      env: { ...process.env, ...options.env },
    });
    child.on('error', (e) => {
      console.error(`could not run ${command}: ${e.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export function runTool(tool, args, options) {
  return run(process.execPath, [join(ROOT, TOOLS[tool]), ...args], options);
}

/** Installs npm dependencies when node_modules is missing or incomplete: `npm ci` with a lock file. */
export async function ensureDependencies() {
  const missing = Object.values(TOOLS).filter((t) => !existsSync(join(ROOT, t)));
  if (missing.length === 0) return;
  const ci = existsSync(join(ROOT, 'package-lock.json'));
  console.log(`\n== installing npm dependencies (npm ${ci ? 'ci' : 'install'}): ${missing.length} tool(s) missing`);
  const code = await run(NPM, [ci ? 'ci' : 'install', '--no-audit', '--no-fund']);
  if (code !== 0) {
    console.error(`npm ${ci ? 'ci' : 'install'} failed (exit ${code}); check your network access to the npm registry.`);
    process.exit(code);
  }
}

export function seconds(startMs) {
  return `${((Date.now() - startMs) / 1000).toFixed(1)} s`;
}
