// Joining typed arrays end to end: PNG chunks, decoded IDAT data, host batches of images. A leaf module (imports
// nothing from the project), so every layer may use it.

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return join(parts, new Uint8Array(total(parts)));
}

export function concatFloats(parts: readonly Float32Array[]): Float32Array {
  return join(parts, new Float32Array(total(parts)));
}

function total(parts: readonly ArrayLike<number>[]): number {
  return parts.reduce((n, p) => n + p.length, 0);
}

function join<T extends Uint8Array | Float32Array>(parts: readonly T[], out: T): T {
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
