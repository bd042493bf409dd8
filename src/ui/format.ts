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

/** "1h 02m", "3m 05s", "42s"; for ETAs. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A metric value with 4 significant digits, exponent form for very small or large values. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/** Parameter counts: 1234567 -> "1.23 M". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** Axis tick labels: short ("0.5", "1.25", "2e-4", "1.5e+5"). */
export function formatTick(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace('.0e', 'e');
  return Number(v.toPrecision(3)).toString();
}
