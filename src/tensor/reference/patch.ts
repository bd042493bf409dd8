// float64 reference of the patch ops (spec of shaders/patch.wgsl) and the SD3 2D sin-cos position table.

/**
 * How a token's patch vector of length C·p·p is ordered:
 * 'c,py,px' flattens a conv weight [D, C, p, p] (patchify for SD3's pos_embed.proj);
 * 'py,px,c' is SD3's proj_out layout (unpatchify).
 */
export type PatchOrder = 'c,py,px' | 'py,px,c';

export function patchIndex(order: PatchOrder, c: number, py: number, px: number, C: number, p: number): number {
  return order === 'c,py,px' ? (c * p + py) * p + px : (py * p + px) * C + c;
}

/** Calls f(imageIndex, tokenIndex) for every element of a [B, C, H, W] image and its patch token. */
function forEachPatchElement(B: number, C: number, H: number, W: number, p: number, order: PatchOrder, f: (img: number, tok: number) => void): void {
  const hp = H / p;
  const wp = W / p;
  const K = C * p * p;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const n = Math.floor(y / p) * wp + Math.floor(x / p);
          const k = patchIndex(order, c, y % p, x % p, C, p);
          f(((b * C + c) * H + y) * W + x, (b * hp * wp + n) * K + k);
        }
}

/** [B, C, H, W] -> [B, (H/p)(W/p), C·p·p]. */
export function patchifyRef(img: Float64Array, B: number, C: number, H: number, W: number, p: number, order: PatchOrder): Float64Array {
  const out = new Float64Array(img.length);
  forEachPatchElement(B, C, H, W, p, order, (i, t) => (out[t] = img[i]));
  return out;
}

/** Gradient of patchify: every token gradient added back to its pixel. */
export function patchifyBackwardRef(g: Float64Array, B: number, C: number, H: number, W: number, p: number, order: PatchOrder): Float64Array {
  const gi = new Float64Array(g.length);
  forEachPatchElement(B, C, H, W, p, order, (i, t) => (gi[i] += g[t]));
  return gi;
}

/** [B, (H/p)(W/p), p·p·C] -> [B, C, H, W]. */
export function unpatchifyRef(tokens: Float64Array, B: number, C: number, H: number, W: number, p: number, order: PatchOrder): Float64Array {
  const out = new Float64Array(tokens.length);
  forEachPatchElement(B, C, H, W, p, order, (i, t) => (out[i] = tokens[t]));
  return out;
}

export function unpatchifyBackwardRef(g: Float64Array, B: number, C: number, H: number, W: number, p: number, order: PatchOrder): Float64Array {
  const gt = new Float64Array(g.length);
  forEachPatchElement(B, C, H, W, p, order, (i, t) => (gt[t] += g[i]));
  return gt;
}

/**
 * Naive stride-p conv (kernel p, no padding) with weight [D, C, p, p] and bias [D], output laid out as diffusers'
 * PatchEmbed does after `flatten(2).transpose(1, 2)`: [B, (H/p)(W/p), D].
 */
export function conv2dPatchRef(img: Float64Array, B: number, C: number, H: number, W: number, p: number, weight: Float64Array, bias: Float64Array, D: number): Float64Array {
  const hp = H / p;
  const wp = W / p;
  const out = new Float64Array(B * hp * wp * D);
  for (let b = 0; b < B; b++)
    for (let ty = 0; ty < hp; ty++)
      for (let tx = 0; tx < wp; tx++)
        for (let d = 0; d < D; d++) {
          let acc = bias[d];
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < p; ky++)
              for (let kx = 0; kx < p; kx++) {
                acc += weight[((d * C + c) * p + ky) * p + kx] * img[((b * C + c) * H + ty * p + ky) * W + tx * p + kx];
              }
          out[((b * hp + ty) * wp + tx) * D + d] = acc;
        }
  return out;
}

/**
 * diffusers' get_1d_sincos_pos_embed_from_grid: omega_k = 1 / 10000^(k / (D/2)) for k < D/2 (float64), out =
 * [sin(pos·omega) | cos(pos·omega)] per position: [M, D].
 */
export function sincos1d(embedDim: number, pos: ArrayLike<number>): Float64Array {
  if (embedDim % 2 !== 0) throw new RangeError(`sincos1d: embedDim ${embedDim} must be even`);
  const half = embedDim / 2;
  const out = new Float64Array(pos.length * embedDim);
  for (let m = 0; m < pos.length; m++) {
    for (let k = 0; k < half; k++) {
      const a = pos[m] * (1 / 10000 ** (k / half));
      out[m * embedDim + k] = Math.sin(a);
      out[m * embedDim + half + k] = Math.cos(a);
    }
  }
  return out;
}

/**
 * SD3's `pos_embed.pos_embed` before cropping: diffusers' get_2d_sincos_pos_embed(embedDim, grid_size = M,
 * base_size, interpolation_scale) -> [M·M, D], token n = row·M + col. Positions are
 * `arange(M) / (M / baseSize) / interpolationScale` in float32 (numpy/torch compute them in float32; they are
 * rounded the same way here); the first D/2 channels encode the column (x), the last D/2 the row (y), each
 * [sin | cos] over D/4 frequencies. baseSize = sample_size / patch_size in diffusers' PatchEmbed.
 */
export function sincos2d(embedDim: number, posEmbedMaxSize: number, baseSize: number, interpolationScale = 1): Float64Array {
  if (embedDim % 4 !== 0) throw new RangeError(`sincos2d: embedDim ${embedDim} must be a multiple of 4 (two halves, each [sin | cos])`);
  const M = posEmbedMaxSize;
  const f = Math.fround;
  const step = f(M / baseSize);
  const pos = Array.from({ length: M }, (_, k) => f(f(k / step) / f(interpolationScale)));
  const half = embedDim / 2;
  const e1 = sincos1d(half, pos); // [M, D/2], row m = position m
  const out = new Float64Array(M * M * embedDim);
  for (let row = 0; row < M; row++) {
    for (let col = 0; col < M; col++) {
      const n = row * M + col;
      out.set(e1.subarray(col * half, (col + 1) * half), n * embedDim); // first half: column
      out.set(e1.subarray(row * half, (row + 1) * half), n * embedDim + half); // second half: row
    }
  }
  return out;
}

/**
 * diffusers' PatchEmbed.cropped_pos_embed: the centre h x w window (patch-grid units) of the M x M table, top =
 * (M − h) // 2, left = (M − w) // 2 -> [h·w, D].
 */
export function cropPosEmbed(table: Float64Array, embedDim: number, posEmbedMaxSize: number, h: number, w: number): Float64Array {
  const M = posEmbedMaxSize;
  if (h > M || w > M) throw new RangeError(`cropPosEmbed: grid ${h}x${w} is larger than pos_embed_max_size ${M}`);
  if (table.length !== M * M * embedDim) throw new RangeError(`cropPosEmbed: table has ${table.length} values, expected ${M}·${M}·${embedDim}`);
  const top = Math.floor((M - h) / 2);
  const left = Math.floor((M - w) / 2);
  const out = new Float64Array(h * w * embedDim);
  for (let y = 0; y < h; y++) {
    const src = ((top + y) * M + left) * embedDim;
    out.set(table.subarray(src, src + w * embedDim), y * w * embedDim);
  }
  return out;
}
