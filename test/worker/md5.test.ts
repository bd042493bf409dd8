// MD5 against RFC 1321's test suite and node:crypto (every length around the 64-byte block and padding edges).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { md5 } from '../../src/worker/md5';

const text = (s: string) => new TextEncoder().encode(s);

describe('md5', () => {
  it('matches the RFC 1321 test suite', () => {
    expect(md5(text(''))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5(text('a'))).toBe('0cc175b9c0f1b6a831c399e269772661');
    expect(md5(text('abc'))).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(md5(text('message digest'))).toBe('f96b697d7cb7938d525a2f31aaf161d0');
    expect(md5(text('abcdefghijklmnopqrstuvwxyz'))).toBe('c3fcd3d76192e4007dfb496cca67e13b');
    expect(md5(text('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'))).toBe('d174ab98d277d9f5a5611c2c9f419d9f');
    expect(md5(text('1234567890'.repeat(8)))).toBe('57edf4a22be3c955ac49da2e2107b67a');
  });

  it('matches node:crypto for every length from 0 to 200 and a 1 MB buffer', () => {
    let seed = 7;
    const bytes = Uint8Array.from({ length: 1 << 20 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    for (let n = 0; n <= 200; n++) {
      const b = bytes.subarray(0, n);
      expect(md5(b), `length ${n}`).toBe(createHash('md5').update(b).digest('hex'));
    }
    expect(md5(bytes)).toBe(createHash('md5').update(bytes).digest('hex'));
  });
});
