// How the e2e tests launch Debian's Chromium (see shared design note "webgpu-without-a-gpu"): no downloaded
// browsers, SwiftShader for WebGPU, and no background traffic to a network that is not there.
export const CHROMIUM_PATH = process.env.SOAR_CHROMIUM ?? '/usr/bin/chromium';

/** Flags every launch gets: no sandbox (containers, root), and none of Chromium's own network chatter. */
export const QUIET_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** WebGPU on SwiftShader, Chromium's CPU Vulkan. Without these, headless Linux Chromium has navigator.gpu but
 *  requestAdapter() resolves to null. ('--enable-features=Vulkan' is not needed: checked with chromium 156.) */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** The e2e server's port; not 4173, so a running `npm start` does not collide with a test run. */
export const E2E_PORT = Number(process.env.SOAR_E2E_PORT ?? 4180);
export const E2E_ORIGIN = `http://127.0.0.1:${E2E_PORT}`;
