#!/usr/bin/env node
// `npm start`: install dependencies if needed, build the studio, and serve the built app locally.
//   npm start                       -> http://127.0.0.1:4173/
//   npm start -- --port 5000 --host 0.0.0.0     (or PORT=5000 HOST=0.0.0.0 npm start)
import { ensureDependencies, runTool, ROOT, TOOLS } from './common.mjs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : fallback;
}

const port = Number(option('port', process.env.PORT ?? 4173));
const host = option('host', process.env.HOST ?? '127.0.0.1');
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`invalid port: ${port}`);
  process.exit(2);
}

await ensureDependencies();

console.log('\n== building the studio (vite build)');
const built = await runTool('vite', ['build']);
if (built !== 0) {
  console.error(`\nThe build failed (exit ${built}); see the errors above.`);
  process.exit(built);
}

const server = spawn(
  process.execPath,
  [join(ROOT, TOOLS.vite), 'preview', '--port', String(port), '--host', host, '--strictPort'],
  { cwd: ROOT, stdio: ['inherit', 'ignore', 'inherit'] },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => {
  if (code) console.error(`\nThe server stopped (exit ${code}). Is port ${port} already in use? Try: npm start -- --port ${port + 1}`);
  process.exit(code ?? (signal ? 0 : 1));
});

// Print the address once the server really answers, not before.
const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/`;
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(url)).ok) break;
  } catch {
    // not listening yet
  }
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`\nSOAR Studio is running at ${url}`);
console.log('Open it in Chrome or Edge (version 113 or newer). Press Ctrl+C to stop.');
if (shownHost !== host) {
  console.log(
    'Other machines can reach it too, but browsers give WebGPU only to https pages or http://localhost: ' +
      'open it over HTTPS or through an SSH tunnel from elsewhere.',
  );
}
