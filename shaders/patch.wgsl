// Patch (un)folding between images [B, C, H, W] and token rows [B, N, K], N = (H/p)·(W/p) (row-major over the
// patch grid), K = C·p·p. Pure permutations (every element moves exactly once), so forward and backward are
// the same two gathers:
//   to_tokens: tokens[b, n, k] = img[b, c, ty·p + py, tx·p + px]   (patchify; backward of unpatchify)
//   to_image:  img[b, c, y, x] = tokens[b, n, k]                    (unpatchify; backward of patchify)
// ORDER says how k enumerates the patch:
//   0: k = (c·p + py)·p + px — (c, py, px), the flattening of a conv weight [D, C, p, p]: a linear layer
//      with that weight reshaped to [D, C·p·p] on these tokens equals SD3's stride-p `pos_embed.proj` conv.
//   1: k = (py·p + px)·C + c — (py, px, c), SD3's `proj_out` channel layout before unpatchify.
// One thread per output element, so writes are fully coalesced; reads come in runs of p (to_tokens, ORDER 0)
// or C (ORDER 1) contiguous floats, and the neighbouring threads of a workgroup touch the same image rows,
// which stay in L1/L2. The whole latent is a few MiB (SD3 at 1024²: 16x128x128 floats = 1 MiB per sample),
// tiny next to the transformer's traffic, so a simple gather beats a shared-memory transpose on clarity.
// Dispatch: grid1d(n, 256) with the y fold; workgroup 256 as everywhere (WebGPU's guaranteed maximum).

struct Params {
  n: u32,  // elements (= B·C·H·W)
  c: u32,
  h: u32,
  w: u32,
  p: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

override ORDER: u32 = 0u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> u: Params;

// Index in the patch vector of (c, py, px) for the configured ORDER.
fn patch_k(c: u32, py: u32, px: u32) -> u32 {
  if (ORDER == 0u) { return (c * u.p + py) * u.p + px; }
  return (py * u.p + px) * u.c + c;
}

@compute @workgroup_size(256)
fn to_tokens(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let pp = u.p * u.p;
  let kk = u.c * pp;
  let wp = u.w / u.p;
  let ntok = (u.h / u.p) * wp;
  let k = i % kk;
  let tok = (i / kk) % ntok;
  let b = i / (kk * ntok);
  var c: u32;
  var py: u32;
  var px: u32;
  if (ORDER == 0u) {
    c = k / pp;
    py = (k / u.p) % u.p;
    px = k % u.p;
  } else {
    py = k / (u.p * u.c);
    px = (k / u.c) % u.p;
    c = k % u.c;
  }
  let y = (tok / wp) * u.p + py;
  let x = (tok % wp) * u.p + px;
  Y[i] = X[((b * u.c + c) * u.h + y) * u.w + x];
}

@compute @workgroup_size(256)
fn to_image(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let x = i % u.w;
  let y = (i / u.w) % u.h;
  let c = (i / (u.w * u.h)) % u.c;
  let b = i / (u.w * u.h * u.c);
  let wp = u.w / u.p;
  let ntok = (u.h / u.p) * wp;
  let tok = (y / u.p) * wp + x / u.p;
  let kk = u.c * u.p * u.p;
  Y[i] = X[(b * ntok + tok) * kk + patch_k(c, y % u.p, x % u.p)];
}
