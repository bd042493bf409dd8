// Node entry to the device seam: Dawn through the `webgpu` package, pointed at SwiftShader when no Vulkan
// driver for a real GPU is configured. Used by tests, benchmarks and the CLI; never bundled for the browser.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describeAdapter, requestGpuContext, type GpuContext } from './device';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let instance: GPU | null = null;
let shared: Promise<GpuContext> | null = null;
let logged = false;

function dawn(): GPU {
  if (instance) return instance;
  // The Vulkan loader reads these when Dawn creates its instance, so they must be set before `create`.
  if (!process.env.VK_ICD_FILENAMES && !process.env.SOAR_REAL_VULKAN && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const require = createRequire(import.meta.url);
  const { create, globals } = require('webgpu') as { create: (flags: string[]) => GPU; globals: object };
  Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, GPUShaderStage...
  // Dawn zero-fills workgroup memory before every dispatch (WGSL guarantees it), and SwiftShader compiles that
  // fill slowly (~80 ms of CPU per KiB of workgroup memory, per pipeline). Our kernels initialise what they
  // read, so the Node runs skip it: tiled-kernel tests compile ~50x faster, and a kernel that reads workgroup
  // memory it never wrote fails here instead of being hidden by the fill. SOAR_WORKGROUP_INIT=1 restores it.
  instance = create(process.env.SOAR_WORKGROUP_INIT ? [] : ['enable-dawn-features=disable_workgroup_init']);
  return instance;
}

/** One device per process, created on first use; the adapter is logged once so every run says what it ran on. */
export function nodeGpu(): Promise<GpuContext> {
  shared ??= requestGpuContext(dawn()).then((ctx) => {
    if (!logged && !process.env.SOAR_QUIET_ADAPTER) {
      logged = true;
      process.stderr.write(`[soar] WebGPU adapter: ${describeAdapter(ctx.summary)}\n`);
    }
    return ctx;
  });
  return shared;
}

/** A second, independent device (tests of device loss; a worker that must not share the main device). */
export function freshNodeGpuContext(): Promise<GpuContext> {
  return requestGpuContext(dawn());
}

/** Destroys the device and drops the Dawn instance: a process holding one may otherwise never exit. */
export async function closeNodeGpu(): Promise<void> {
  if (shared) {
    const ctx = await shared.catch(() => null);
    ctx?.device.destroy();
  }
  shared = null;
  instance = null;
}
