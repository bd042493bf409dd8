/// <reference types="vitest/config" />
// One config for the app build (vite build -> dist/), the preview server and the unit tests (vitest).
import react from '@vitejs/plugin-react';
import { existsSync } from 'node:fs';
import { defineConfig } from 'vite';

// Dawn (the `webgpu` package used by the unit tests) dlopens the Vulkan loader, libvulkan.so.1, which comes from
// Debian's libvulkan1 package. Debian's chromium ships its own copy next to SwiftShader, so when the system has
// none, the test processes are pointed at chromium's. The loader reads LD_LIBRARY_PATH only when a process
// starts, so it is set here, in the parent, before vitest forks the test processes.
const CHROMIUM_LIB = '/usr/lib/chromium';
const SYSTEM_VULKAN = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some(
  (dir) => existsSync(`${dir}/libvulkan.so.1`),
);
if (process.platform === 'linux' && !SYSTEM_VULKAN && existsSync(`${CHROMIUM_LIB}/libvulkan.so.1`)) {
  const current = process.env.LD_LIBRARY_PATH;
  if (!current?.split(':').includes(CHROMIUM_LIB)) {
    process.env.LD_LIBRARY_PATH = current ? `${current}:${CHROMIUM_LIB}` : CHROMIUM_LIB;
  }
}

export default defineConfig({
  plugins: [react()],
  // The studio worker is an ES module worker (new Worker(url, { type: 'module' })), so it can import the same
  // modules as the page and be code-split by the same bundler.
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: true,
  },
  preview: { port: 4173, strictPort: true, host: '127.0.0.1' },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Forks, not threads: each test file gets its own process, so a Dawn instance can never outlive its file.
    pool: 'forks',
    // SwiftShader runs WebGPU on the CPU; compiling a pipeline alone can take seconds on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 10_000,
  },
});
