// Adapter and device acquisition, shared by the browser, the worker and Node (Dawn).
// The caller passes the GPU entry point (navigator.gpu, or Dawn's `create([])` in Node), so this file
// never imports a platform module.

/** Limits we ask for at the adapter's real maximum: the defaults (e.g. 128 MiB storage bindings, 8 storage
 *  buffers per stage) are far below what real GPUs offer and would cap model size for no reason. */
const LIMITS_AT_ADAPTER_MAX = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxBindGroups',
  'maxUniformBufferBindingSize',
] as const;

type LimitName = (typeof LIMITS_AT_ADAPTER_MAX)[number];

/** Optional features used when present: timings, faster reductions, half-precision storage. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The platform reports a fallback adapter, or the name is a known CPU rasteriser (SwiftShader, llvmpipe, WARP). */
  isSoftware: boolean;
  features: string[];
  limits: Record<LimitName, number>;
}

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  summary: AdapterSummary;
}

export class WebGpuUnavailableError extends Error {
  constructor(
    message: string,
    /** What the user can do about it, shown under the message. */
    readonly advice: string,
  ) {
    super(message);
    this.name = 'WebGpuUnavailableError';
  }
}

const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|warp|microsoft basic render|software/i;

export function summarizeAdapter(adapter: GPUAdapter, device?: GPUDevice): AdapterSummary {
  const info = adapter.info;
  const fallbackFlag =
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    false;
  const name = [info.vendor, info.architecture, info.device, info.description].join(' ');
  const limitsSource = device?.limits ?? adapter.limits;
  const limits = {} as Record<LimitName, number>;
  for (const key of LIMITS_AT_ADAPTER_MAX) limits[key] = Number(limitsSource[key]);
  return {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || '',
    device: info.device || '',
    description: info.description || '',
    isSoftware: Boolean(fallbackFlag) || SOFTWARE_NAMES.test(name),
    features: [...(device?.features ?? adapter.features)].map(String).sort(),
    limits,
  };
}

export function describeAdapter(s: AdapterSummary): string {
  const name = [s.vendor, s.architecture, s.device, s.description].filter(Boolean).join(' / ');
  return `${name}${s.isSoftware ? ' (software adapter)' : ''}`;
}

/** Requests a high-performance adapter and a device with the adapter's real limits and optional features. */
export async function requestGpuContext(gpu: GPU | undefined | null): Promise<GpuContext> {
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'WebGPU is not available in this browser.',
      'Use Chrome or Edge 113 or newer on Windows, macOS or ChromeOS, or Chrome on Linux with a supported GPU ' +
        '(on Linux you may need to enable chrome://flags/#enable-unsafe-webgpu and Vulkan). ' +
        'Firefox and Safari need WebGPU turned on in their settings.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'The browser supports WebGPU but found no usable GPU adapter.',
      'Update your GPU driver, check that hardware acceleration is on (chrome://settings/system), ' +
        'and look at chrome://gpu for the reason WebGPU is disabled.',
    );
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const key of LIMITS_AT_ADAPTER_MAX) {
    const value = adapter.limits[key];
    if (typeof value === 'number') requiredLimits[key] = value;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'soar-studio' });
  return { adapter, device, summary: summarizeAdapter(adapter, device) };
}
