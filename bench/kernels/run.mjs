// Launcher for `npm run bench:kernels`: loads bench/kernels/run.ts through Vite (the engine imports WGSL with
// `?raw`, which only Vite resolves) and exits explicitly (a process holding a Dawn instance may not exit).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Dawn dlopens the Vulkan loader (libvulkan.so.1). Without a system copy, Debian's chromium ships one next to
// SwiftShader; the dynamic loader reads LD_LIBRARY_PATH only at process start, so re-run ourselves with it
// (the same reason as in vite.config.ts, which does this for vitest's forks).
const CHROMIUM_LIB = '/usr/lib/chromium';
const systemVulkan = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => existsSync(`${d}/libvulkan.so.1`));
const current = process.env.LD_LIBRARY_PATH ?? '';
if (process.platform === 'linux' && !systemVulkan && existsSync(`${CHROMIUM_LIB}/libvulkan.so.1`) && !current.split(':').includes(CHROMIUM_LIB)) {
  const env = { ...process.env, LD_LIBRARY_PATH: current ? `${current}:${CHROMIUM_LIB}` : CHROMIUM_LIB };
  const r = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
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
  // Other benchmarks (bench/model/run.mjs) reuse this launcher with their own entry module.
  const { main } = await server.ssrLoadModule(process.env.SOAR_BENCH_ENTRY ?? '/bench/kernels/run.ts');
  code = await main(process.argv.slice(2));
} catch (err) {
  console.error(err);
} finally {
  await server.close();
}
process.exit(code);
