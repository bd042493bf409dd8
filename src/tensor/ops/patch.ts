// Patch ops of SD3's MMDiT: patchify (image -> tokens, before pos_embed.proj as a linear layer), unpatchify
// (proj_out's tokens -> image) and the cropped 2D sin-cos position table. Kernels: shaders/patch.wgsl.
import patchWgsl from '../../../shaders/patch.wgsl?raw';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import type { Engine } from '../engine';
import type { Tensor } from '../tensor';
import { cropPosEmbed, sincos2d, type PatchOrder } from '../reference/patch';

export type { PatchOrder } from '../reference/patch';

const WG = 256; // matches @workgroup_size in shaders/patch.wgsl

function dispatchPatch(entry: 'to_tokens' | 'to_image', order: PatchOrder, x: Tensor, y: Tensor, C: number, H: number, W: number, p: number): void {
  if (y.size === 0) return;
  y.engine.gpu.dispatch({
    kernel: { name: 'patch', code: patchWgsl, entryPoint: entry, constants: { ORDER: order === 'c,py,px' ? 0 : 1 } },
    buffers: [x.buffer, y.buffer],
    uniforms: uniforms([
      ['u32', y.size],
      ['u32', C],
      ['u32', H],
      ['u32', W],
      ['u32', p],
    ]),
    workgroups: grid1d(y.size, WG),
    detail: `${x.describe()} -> ${y.describe()} p=${p} ${order}`,
  });
}

function checkPatch(op: string, what: string, C: number, H: number, W: number, p: number): void {
  if (!Number.isInteger(p) || p < 1 || H % p !== 0 || W % p !== 0 || C < 1) {
    throw new RangeError(`${op}: ${what} with C=${C}, H=${H}, W=${W} does not tile into ${p}x${p} patches`);
  }
}

/**
 * img [B, C, H, W] -> tokens [B, (H/p)·(W/p), C·p·p], tokens row-major over the patch grid. With the default
 * order (c, py, px), `tokens @ weight.reshape(D, C·p·p)ᵀ + bias` equals SD3's stride-p conv `pos_embed.proj`
 * with weight [D, C, p, p] (flatten(2).transpose(1, 2) layout).
 */
export function patchify(img: Tensor, p: number, order: PatchOrder = 'c,py,px'): Tensor {
  if (img.shape.length !== 4) throw new RangeError(`patchify: ${img.describe()} is not [B, C, H, W]`);
  const [B, C, H, W] = img.shape;
  checkPatch('patchify', img.describe(), C, H, W, p);
  const y = img.engine.empty([B, (H / p) * (W / p), C * p * p], 'patchify');
  dispatchPatch('to_tokens', order, img, y, C, H, W, p);
  return record(y, 'patchify', [img], [], (g) => {
    const gi = img.engine.empty(img.shape, 'patchify.grad');
    dispatchPatch('to_image', order, g, gi, C, H, W, p);
    return [gi];
  });
}

/**
 * tokens [B, (H/p)·(W/p), p·p·C] -> image [B, C, H, W]; the default order (py, px, c) is SD3's proj_out layout
 * (diffusers: reshape(B, h, w, p, p, C) then einsum "nhwpqc->nchpwq").
 */
export function unpatchify(tokens: Tensor, p: number, C: number, H: number, W: number, order: PatchOrder = 'py,px,c'): Tensor {
  checkPatch('unpatchify', tokens.describe(), C, H, W, p);
  const n = (H / p) * (W / p);
  const K = C * p * p;
  if (tokens.shape.length !== 3 || tokens.shape[1] !== n || tokens.shape[2] !== K) {
    throw new RangeError(`unpatchify: ${tokens.describe()} is not [B, ${n}, ${K}] for C=${C}, H=${H}, W=${W}, p=${p}`);
  }
  const B = tokens.shape[0];
  const y = tokens.engine.empty([B, C, H, W], 'unpatchify');
  dispatchPatch('to_image', order, tokens, y, C, H, W, p);
  return record(y, 'unpatchify', [tokens], [], (g) => {
    const gt = tokens.engine.empty(tokens.shape, 'unpatchify.grad');
    dispatchPatch('to_tokens', order, g, gt, C, H, W, p);
    return [gt];
  });
}

/**
 * SD3's position embedding for an h x w patch grid: the M x M sin-cos table (M = pos_embed_max_size) computed
 * in float64 on the CPU, centre-cropped, uploaded as [1, h·w, D] (a constant: no gradient). Compute it once per
 * resolution and keep it; it is a few hundred KiB at most.
 */
export function posEmbed(e: Engine, embedDim: number, posEmbedMaxSize: number, baseSize: number, interpolationScale: number, h: number, w: number): Tensor {
  const table = sincos2d(embedDim, posEmbedMaxSize, baseSize, interpolationScale);
  return e.fromArray(cropPosEmbed(table, embedDim, posEmbedMaxSize, h, w), [1, h * w, embedDim], 'pos_embed');
}
