// Display formatting for GPU facts. Pure functions, shared by the panel and the e2e assertions.

const BYTE_LIMITS = new Set([
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxUniformBufferBindingSize',
]);

/** What each limit bounds, in the studio's terms. */
export const LIMIT_MEANING: Record<string, string> = {
  maxBufferSize: 'largest single buffer',
  maxStorageBufferBindingSize: 'largest tensor a kernel can bind',
  maxStorageBuffersPerShaderStage: 'tensors one kernel can bind',
  maxComputeWorkgroupStorageSize: 'shared memory per workgroup',
  maxComputeInvocationsPerWorkgroup: 'threads per workgroup',
  maxComputeWorkgroupSizeX: 'workgroup size, x',
  maxComputeWorkgroupSizeY: 'workgroup size, y',
  maxComputeWorkgroupSizeZ: 'workgroup size, z',
  maxComputeWorkgroupsPerDimension: 'workgroups per dispatch dimension',
  maxBindGroups: 'bind groups per pipeline',
  maxUniformBufferBindingSize: 'largest uniform block',
};

/** Bytes in binary units, exact when possible: 1073741824 -> "1 GiB", 32768 -> "32 KiB", 1000 -> "1,000 B". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = Number.isInteger(value) ? 0 : 1;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })} ${units[unit]}`;
}

export function formatLimit(name: string, value: number): string {
  return BYTE_LIMITS.has(name) ? formatBytes(value) : value.toLocaleString('en-US');
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms).toLocaleString('en-US')} ms`;
}
