// Patch ops: patchify / unpatchify vs the float64 reference (forward and gradients, both patch orders),
// patchify + linear == SD3's stride-p conv, round trips, and the 2D sin-cos table vs diffusers' numbers.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd';
import { patchify, posEmbed, unpatchify } from '../../src/tensor/ops/patch';
import {
  conv2dPatchRef,
  cropPosEmbed,
  patchifyBackwardRef,
  patchifyRef,
  sincos2d,
  unpatchifyBackwardRef,
  unpatchifyRef,
  type PatchOrder,
} from '../../src/tensor/reference/patch';
import { FWD, dot, expectClose, f32, finiteDiff, getEngine, rand } from './harness';

const EXACT = { atol: 0, rtol: 0 }; // pure permutations move bits
const ORDERS: PatchOrder[] = ['c,py,px', 'py,px,c'];
const CASES = [
  { B: 2, C: 3, H: 4, W: 6, p: 2 },
  { B: 1, C: 2, H: 6, W: 3, p: 3 },
  { B: 1, C: 1, H: 2, W: 2, p: 1 },
];

describe('patchify and unpatchify', () => {
  for (const { B, C, H, W, p } of CASES) {
    for (const order of ORDERS) {
      it(`B=${B} C=${C} H=${H} W=${W} p=${p} (${order}): both ops, forward and gradient`, async () => {
        const e = await getEngine();
        const n = B * C * H * W;
        const img0 = f32(rand(n, 1));
        const img = e.parameter(img0, [B, C, H, W], 'img');
        const tok = patchify(img, p, order);
        expect(tok.shape).toEqual([B, (H / p) * (W / p), C * p * p]);
        expectClose(await tok.toArray(), patchifyRef(img0, B, C, H, W, p, order), EXACT, 'patchify');
        const w = f32(rand(n, 2));
        backward(tok, e.fromArray(w, tok.shape));
        expectClose(await img.grad!.toArray(), patchifyBackwardRef(w, B, C, H, W, p, order), EXACT, 'patchify grad');

        const tok0 = f32(rand(n, 3));
        const tokens = e.parameter(tok0, [B, (H / p) * (W / p), C * p * p], 'tokens');
        const out = unpatchify(tokens, p, C, H, W, order);
        expect(out.shape).toEqual([B, C, H, W]);
        expectClose(await out.toArray(), unpatchifyRef(tok0, B, C, H, W, p, order), EXACT, 'unpatchify');
        backward(out, e.fromArray(w, out.shape));
        expectClose(await tokens.grad!.toArray(), unpatchifyBackwardRef(w, B, C, H, W, p, order), EXACT, 'unpatchify grad');
      });
    }
  }

  it('reference gradients match finite differences', () => {
    const [B, C, H, W, p] = [1, 2, 4, 2, 2];
    const n = B * C * H * W;
    const x = rand(n, 4);
    const w = rand(n, 5);
    for (const order of ORDERS) {
      const tol = { atol: 1e-7, rtol: 1e-6 };
      expectClose(patchifyBackwardRef(w, B, C, H, W, p, order), finiteDiff((v) => dot(patchifyRef(v, B, C, H, W, p, order), w), x), tol, `patchify ${order}`);
      expectClose(unpatchifyBackwardRef(w, B, C, H, W, p, order), finiteDiff((v) => dot(unpatchifyRef(v, B, C, H, W, p, order), w), x), tol, `unpatchify ${order}`);
    }
  });

  it("patchify then a linear layer with the conv weight flattened equals SD3's stride-p conv (pos_embed.proj)", async () => {
    const e = await getEngine();
    const [B, C, H, W, p, D] = [2, 3, 6, 4, 2, 5];
    const img0 = f32(rand(B * C * H * W, 6));
    const weight = rand(D * C * p * p, 7); // [D, C, p, p]
    const bias = rand(D, 8);
    const tokens = await patchify(e.fromArray(img0, [B, C, H, W]), p).toArray();
    const K = C * p * p;
    const N = (H / p) * (W / p);
    const viaLinear = new Float64Array(B * N * D);
    for (let r = 0; r < B * N; r++) {
      for (let d = 0; d < D; d++) {
        let acc = bias[d];
        for (let k = 0; k < K; k++) acc += tokens[r * K + k] * weight[d * K + k]; // weight.reshape(D, C·p·p)
        viaLinear[r * D + d] = acc;
      }
    }
    expectClose(viaLinear, conv2dPatchRef(img0, B, C, H, W, p, weight, bias, D), { atol: 1e-12, rtol: 1e-12 }, 'conv');
  });

  it('unpatchify inverts patchify when both use the same order; the SD3 defaults differ', async () => {
    const e = await getEngine();
    const [B, C, H, W, p] = [2, 3, 4, 6, 2];
    const img0 = f32(rand(B * C * H * W, 9));
    const img = e.fromArray(img0, [B, C, H, W]);
    for (const order of ORDERS) {
      const back = unpatchify(patchify(img, p, order), p, C, H, W, order);
      expectClose(await back.toArray(), img0, EXACT, `round trip ${order}`);
    }
    const mixed = await unpatchify(patchify(img, p), p, C, H, W).toArray();
    expect(Array.from(mixed)).not.toEqual(Array.from(Float32Array.from(img0)));
  });

  it('names the op and the shapes on bad input', async () => {
    const e = await getEngine();
    expect(() => patchify(e.zeros([2, 4, 4], 'lat'), 2)).toThrow(/patchify: lat\[2, 4, 4\] is not \[B, C, H, W\]/);
    expect(() => patchify(e.zeros([1, 4, 5, 4], 'lat'), 2)).toThrow(/patchify: lat\[1, 4, 5, 4\] with C=4, H=5, W=4 does not tile into 2x2 patches/);
    expect(() => unpatchify(e.zeros([1, 4, 15], 'out'), 2, 4, 4, 4)).toThrow(/unpatchify: out\[1, 4, 15\] is not \[B, 4, 16\] for C=4, H=4, W=4, p=2/);
  });
});

describe('2D sin-cos position table (diffusers get_2d_sincos_pos_embed + cropped_pos_embed)', () => {
  // Golden values from diffusers' numpy get_2d_sincos_pos_embed(8, 7, base_size=3, interpolation_scale=1.5)
  // (numpy 2.4), then PatchEmbed.cropped_pos_embed to a 3 x 4 grid.
  const [D, M, base, interp] = [8, 7, 3, 1.5];
  const GOLDEN: Array<[number, number, number]> = [
    [0, 0, 0.0],
    [1, 0, 0.2818428643768472],
    [1, 2, 0.9594605775121009],
    [8, 5, 0.002857139097598968],
    [48, 7, 0.999853064799601],
    [30, 3, 0.999983673512354],
    [17, 6, 0.8411291995997082],
  ];
  const CROP_ROW5 = [0.5408342348453491, 0.005714254871627246, 0.8411291995997082, 0.999983673512354, 0.7559754097378214, 0.00857132429671682, 0.6546000151785311, 0.9999632655251894];

  it('matches diffusers: first half the column, second half the row, each [sin | cos]', () => {
    const table = sincos2d(D, M, base, interp);
    expect(table.length).toBe(M * M * D);
    for (const [n, k, v] of GOLDEN) expect(table[n * D + k]).toBeCloseTo(v, 14);
    const crop = cropPosEmbed(table, D, M, 3, 4);
    expect(crop.length).toBe(12 * D);
    expectClose(crop.subarray(5 * D, 6 * D), CROP_ROW5, { atol: 1e-14, rtol: 0 }, 'crop row 5');
  });

  it('is uploaded as [1, h·w, D] without gradient', async () => {
    const e = await getEngine();
    const pe = posEmbed(e, D, M, base, interp, 3, 4);
    expect(pe.shape).toEqual([1, 12, D]);
    expect(pe.requiresGrad).toBe(false);
    expectClose(await pe.toArray(), cropPosEmbed(sincos2d(D, M, base, interp), D, M, 3, 4), FWD, 'upload');
  });

  it('refuses an embed dim that is not a multiple of 4 and a grid larger than the table', () => {
    expect(() => sincos2d(6, 4, 2)).toThrow(/embedDim 6 must be a multiple of 4/);
    expect(() => cropPosEmbed(sincos2d(8, 4, 2), 8, 4, 5, 4)).toThrow(/grid 5x4 is larger than pos_embed_max_size 4/);
  });
});
