// End-to-end tests: the BUILT studio (vite build + vite preview) in Debian's Chromium with SwiftShader WebGPU.
// `npm test` builds first and sets SOAR_E2E_PREBUILT=1; a bare `npx playwright test` builds here.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_PATH, E2E_ORIGIN, E2E_PORT, QUIET_ARGS, WEBGPU_ARGS } from './e2e/browsers';

// Vite run by Node directly (not npx): no npm start-up noise, and it is the project's own copy.
const vite = 'node node_modules/vite/bin/vite.js';
const preview = `${vite} preview --port ${E2E_PORT} --strictPort --host 127.0.0.1`;

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  // One worker: two cores, and SwiftShader already uses both.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // SwiftShader compiles pipelines on the CPU: be generous.
  timeout: 120_000,
  expect: { timeout: 30_000 },
  forbidOnly: Boolean(process.env.CI),
  reporter: [['list'], ['json', { outputFile: 'artifacts/playwright.json' }]],
  use: {
    baseURL: E2E_ORIGIN,
    headless: true,
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: { executablePath: CHROMIUM_PATH, args: [...QUIET_ARGS, ...WEBGPU_ARGS] },
  },
  projects: [{ name: 'chromium-swiftshader' }],
  webServer: {
    command: process.env.SOAR_E2E_PREBUILT ? preview : `${vite} build && ${preview}`,
    url: E2E_ORIGIN,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
