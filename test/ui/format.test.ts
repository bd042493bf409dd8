import { describe, expect, it } from 'vitest';
import { formatBytes, formatLimit, formatMs } from '../../src/ui/format';

describe('display formatting', () => {
  it('shows bytes in exact binary units', () => {
    expect(formatBytes(1073741824)).toBe('1 GiB');
    expect(formatBytes(134217728)).toBe('128 MiB');
    expect(formatBytes(32768)).toBe('32 KiB');
    expect(formatBytes(1000)).toBe('1,000 B');
    expect(formatBytes(4294967292)).toBe('4 GiB'); // 4 GiB - 4 bytes, a common maxBufferSize, rounds to 4.0
  });

  it('formats byte limits as bytes and counts as grouped integers', () => {
    expect(formatLimit('maxStorageBufferBindingSize', 2 ** 30)).toBe('1 GiB');
    expect(formatLimit('maxComputeWorkgroupsPerDimension', 65535)).toBe('65,535');
  });

  it('formats durations', () => {
    expect(formatMs(3.14159)).toBe('3.1 ms');
    expect(formatMs(1234.5)).toBe('1,235 ms');
  });
});
