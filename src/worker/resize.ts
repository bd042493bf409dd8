// Square CHW image resizing for the reference-trainer bundle: the studio keeps its training images only at the
// model resolution, and the reference trainer (SD3.5-Medium) wants larger files; bilinear is enough for that (it
// adds no detail, and the bundle's README says so).

/**
 * Bilinear resize of a CHW float image from `from`×`from` to `to`×`to`, pixel centres aligned (the
 * align_corners=false convention), edges clamped. Same size returns a copy.
 */
export function resizeChw(image: Float32Array, from: number, to: number): Float32Array {
  const plane = from * from;
  if (!(from > 0 && to > 0) || image.length % plane !== 0) throw new RangeError(`resizeChw: ${image.length} values are not whole ${from}×${from} planes`);
  const channels = image.length / plane;
  if (from === to) return image.slice();
  const out = new Float32Array(channels * to * to);
  // Source coordinate of each output row/column, split into the two neighbours and the weight of the second.
  const scale = from / to;
  const i0 = new Int32Array(to);
  const i1 = new Int32Array(to);
  const w = new Float32Array(to);
  for (let o = 0; o < to; o++) {
    const s = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), from - 1);
    i0[o] = Math.floor(s);
    i1[o] = Math.min(i0[o] + 1, from - 1);
    w[o] = s - i0[o];
  }
  for (let c = 0; c < channels; c++) {
    const src = c * plane;
    const dst = c * to * to;
    for (let y = 0; y < to; y++) {
      const r0 = src + i0[y] * from;
      const r1 = src + i1[y] * from;
      const wy = w[y];
      for (let x = 0; x < to; x++) {
        const a = image[r0 + i0[x]] + (image[r0 + i1[x]] - image[r0 + i0[x]]) * w[x];
        const b = image[r1 + i0[x]] + (image[r1 + i1[x]] - image[r1 + i0[x]]) * w[x];
        out[dst + y * to + x] = a + (b - a) * wy;
      }
    }
  }
  return out;
}
