#!/usr/bin/env node
// Runs a TypeScript entry point of this project in Node: `node scripts/run-ts.mjs <module.ts> [args...]`.
// The module must export `main(argv: string[]): Promise<number>` (the exit code).
//
// Why Vite: the engine imports its WGSL with `?raw`, which only Vite resolves, so the CLI, benchmarks and tests
// share one loading path with the browser. The process exits explicitly: a process holding a Dawn instance may
// not exit by itself.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Dawn dlopens the Vulkan loader (libvulkan.so.1). Without a system copy, Debian's chromium ships one next to
// SwiftShader; the dynamic loader reads LD_LIBRARY_PATH only at process start, so re-run ourselves with it.
const CHROMIUM_LIB = '/usr/lib/chromium';
const systemVulkan = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => existsSync(`${d}/libvulkan.so.1`));
const current = process.env.LD_LIBRARY_PATH ?? '';
if (process.platform === 'linux' && !systemVulkan && existsSync(`${CHROMIUM_LIB}/libvulkan.so.1`) && !current.split(':').includes(CHROMIUM_LIB)) {
  const env = { ...process.env, LD_LIBRARY_PATH: current ? `${current}:${CHROMIUM_LIB}` : CHROMIUM_LIB };
  const r = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <module.ts> [args...]');
  process.exit(2);
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modulePath = '/' + relative(root, resolve(process.cwd(), entry)).split('\\').join('/');
const { createServer } = await import('vite');
const server = await createServer({
  configFile: false,
  root,
  logLevel: 'warn',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false },
  optimizeDeps: { noDiscovery: true, include: [] },
});
let code = 1;
try {
  const { main } = await server.ssrLoadModule(modulePath);
  code = await main(args);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  if (process.env.SOAR_DEBUG) console.error(err);
} finally {
  await server.close();
}
process.exit(code);
