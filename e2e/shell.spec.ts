// The studio shell in a real browser: the GPU panel on SwiftShader, the software-adapter warning, the messages
// shown when WebGPU is missing, and the promise that nothing leaves the machine.
import { chromium, expect, test, type Page } from '@playwright/test';
import { formatLimit } from '../src/ui/format';
import { CHROMIUM_PATH, E2E_ORIGIN, E2E_PORT, QUIET_ARGS, WEBGPU_ARGS } from './browsers';
import { SHOTS, watch } from './helpers';


function expectOnlyOwnOrigin(requests: string[], origin: string) {
  expect(requests.length).toBeGreaterThan(0);
  const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:') && !u.startsWith('blob:'));
  expect(foreign, 'requests outside the studio origin').toEqual([]);
}

/** Waits until the worker has answered: a self-test result, an error, or "unavailable". */
async function waitForGpuAnswer(page: Page) {
  const panel = page.getByTestId('gpu-panel');
  await expect(panel).not.toHaveAttribute('data-phase', 'searching');
  if ((await panel.getAttribute('data-phase')) === 'ready') {
    await expect(page.getByTestId('selftest').or(page.getByTestId('gpu-error')).first()).toBeVisible();
  }
  return panel;
}

test.describe('with WebGPU (SwiftShader)', () => {
  test('shows the adapter, its limits and features, and a self-test that matches the CPU', async ({ page, context }) => {
    const seen = watch(context, page);
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('SOAR Studio');

    // What the browser itself reports, asked on the main thread by the test (the app asks in its worker).
    const reported = await page.evaluate(async () => {
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) return null;
      const limits: Record<string, number> = {};
      for (const key in adapter.limits) limits[key] = Number(adapter.limits[key as keyof GPUSupportedLimits]);
      const { vendor, architecture, device, description } = adapter.info;
      return { info: { vendor, architecture, device, description }, features: [...adapter.features].map(String), limits };
    });
    expect(reported, 'the test browser must expose a WebGPU adapter').not.toBeNull();
    console.log(`adapter (main thread): ${JSON.stringify(reported!.info)}; features: ${reported!.features.sort().join(', ')}`);

    await waitForGpuAnswer(page);
    const name = (await page.getByTestId('adapter-name').textContent()) ?? '';
    console.log(`adapter (studio worker): ${await page.getByTestId('adapter-name').getAttribute('title')}`);
    expect(name.toLowerCase()).toContain('swiftshader');
    await expect(page.getByTestId('adapter-facts')).toContainText(reported!.info.vendor);

    // Limits: every row shows the adapter's real maximum (the worker asks for it), formatted for reading.
    const rows = page.getByTestId('limits').locator('tr');
    await expect(rows).toHaveCount(11);
    for (const row of await rows.all()) {
      const limit = (await row.getAttribute('data-limit'))!;
      const value = Number(await row.getAttribute('data-value'));
      expect(value, limit).toBe(reported!.limits[limit]);
      await expect(row.locator('td')).toHaveText(formatLimit(limit, value));
    }
    await expect(page.locator('[data-limit="maxStorageBufferBindingSize"] td')).toHaveText(
      formatLimit('maxStorageBufferBindingSize', reported!.limits.maxStorageBufferBindingSize),
    );

    // Features: the device's, a subset of the adapter's, with every optional feature the studio uses when present.
    const chips = await page.getByTestId('features').locator('[data-feature]').evaluateAll((els) =>
      els.map((e) => e.getAttribute('data-feature')!),
    );
    expect(chips.length).toBeGreaterThan(0);
    for (const f of chips) expect(reported!.features).toContain(f);
    for (const f of ['timestamp-query', 'subgroups', 'shader-f16']) {
      expect(chips.includes(f), f).toBe(reported!.features.includes(f));
    }

    // The self-test: 1024 values computed by the GPU in the worker, all equal to the CPU's.
    const selftest = page.getByTestId('selftest');
    await expect(selftest).toHaveAttribute('data-ok', 'true');
    await expect(selftest).toHaveAttribute('data-n', '1024');
    await expect(selftest).toHaveAttribute('data-max-abs-error', '0');
    await expect(page.getByTestId('selftest-text')).toHaveText(
      'compute self-test passed: 1024 values match the CPU, max error 0',
    );
    console.log(`studio: ${await selftest.textContent()}`);
    await expect(page.getByTestId('gpu-error')).toHaveCount(0);
    await expect(page.getByTestId('gpu-unavailable')).toHaveCount(0);

    await page.screenshot({ path: `${SHOTS}/shell-swiftshader.png`, fullPage: true });
    expect(seen.pageErrors).toEqual([]);
    expect(seen.consoleErrors).toEqual([]);
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
    // The worker is a separate script: its request proves the GPU work really left the main thread.
    expect(seen.requests.some((u) => /\/assets\/studio\.worker-[\w-]+\.js$/.test(u))).toBe(true);
  });

  test('warns that a software adapter makes training very slow', async ({ page, context }) => {
    const seen = watch(context, page);
    await page.goto('/');
    await waitForGpuAnswer(page);
    await expect(page.getByTestId('software-badge')).toHaveText('software adapter');
    const warning = page.getByTestId('software-warning');
    await expect(warning).toBeVisible();
    await expect(warning).toContainText('Training will be very slow on this adapter.');
    await expect(warning).toContainText('runs WebGPU on the CPU, typically 100 to 1000 times slower than a GPU');
    await warning.screenshot({ path: `${SHOTS}/software-warning.png` });
    expect(seen.pageErrors).toEqual([]);
    expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
  });
});

test.describe('without WebGPU', () => {
  test('no adapter: Chromium launched without the WebGPU flags', async () => {
    // Headless Chromium on a GPU-less Linux machine: navigator.gpu exists but requestAdapter() resolves null.
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: QUIET_ARGS, headless: true });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const seen = watch(context, page);
      await page.goto(E2E_ORIGIN);
      const probe = await page.evaluate(async () =>
        navigator.gpu ? ((await navigator.gpu.requestAdapter()) ? 'adapter' : 'null adapter') : 'no navigator.gpu',
      );
      console.log(`without WebGPU flags, main thread: ${probe}`);
      expect(probe).toBe('null adapter');

      await expect(page.getByRole('heading', { level: 1 })).toHaveText('SOAR Studio');
      const panel = await waitForGpuAnswer(page);
      await expect(panel).toHaveAttribute('data-phase', 'unavailable');
      const box = page.getByTestId('gpu-unavailable');
      await expect(box).toBeVisible();
      await expect(box).toHaveAttribute('data-reason', 'no-adapter');
      await expect(box.getByRole('heading')).toHaveText('No GPU adapter: the studio cannot train here');
      await expect(page.getByTestId('gpu-unavailable-message')).toHaveText(
        'The browser supports WebGPU but found no usable GPU adapter.',
      );
      await expect(page.getByTestId('gpu-unavailable-advice')).toContainText('chrome://gpu');
      await expect(page.getByTestId('adapter-name')).toHaveCount(0);
      await expect(page.getByTestId('about')).toBeVisible(); // the rest of the shell still renders
      await page.screenshot({ path: `${SHOTS}/no-adapter.png`, fullPage: true });
      expect(seen.pageErrors).toEqual([]);
      expectOnlyOwnOrigin(seen.requests, E2E_ORIGIN);
    } finally {
      await browser.close();
    }
  });

  test('WebGPU missing: the page is not a secure context, so the worker has no navigator.gpu', async () => {
    // Browsers expose WebGPU to secure contexts only. The same build, served as http://studio.test (a plain-http
    // host that is not localhost), gets no navigator.gpu even with the WebGPU flags: the "missing" path, for real.
    const origin = `http://studio.test:${E2E_PORT}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...QUIET_ARGS, ...WEBGPU_ARGS] });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      // studio.test does not resolve: answer its requests (the page's and the worker's) from the real server.
      await context.route(`${origin}/**`, async (route) => {
        const response = await route.fetch({ url: route.request().url().replace(origin, E2E_ORIGIN) });
        await route.fulfill({ response });
      });
      const page = await context.newPage();
      const seen = watch(context, page);
      await page.goto(origin);
      const probe = await page.evaluate(() => ({ secure: isSecureContext, gpu: 'gpu' in navigator }));
      console.log(`at ${origin}: isSecureContext ${probe.secure}, navigator.gpu ${probe.gpu ? 'present' : 'absent'}`);
      expect(probe).toEqual({ secure: false, gpu: false });

      await expect(page.getByRole('heading', { level: 1 })).toHaveText('SOAR Studio');
      await waitForGpuAnswer(page);
      const box = page.getByTestId('gpu-unavailable');
      await expect(box).toBeVisible();
      await expect(box).toHaveAttribute('data-reason', 'insecure-context');
      await expect(box.getByRole('heading')).toHaveText('WebGPU is blocked on this address: the studio cannot train here');
      await expect(page.getByTestId('gpu-unavailable-message')).toHaveText(
        `WebGPU is only available to secure pages, and this page was opened over plain HTTP from ${origin}.`,
      );
      await expect(page.getByTestId('gpu-unavailable-advice')).toContainText('http://localhost');
      await expect(page.getByTestId('about')).toBeVisible();
      await page.screenshot({ path: `${SHOTS}/webgpu-missing.png`, fullPage: true });
      expect(seen.pageErrors).toEqual([]);
      expectOnlyOwnOrigin(seen.requests, origin);
    } finally {
      await browser.close();
    }
  });
});
