// ema: an exponential moving average of the parameters, after each AdamW update, over the optimiser's arenas
// (layout: arenaLayout in src/tensor/ops/optim.ts, as adamw.wgsl):
//   ema = ema + (1 − decay) · (param − ema)        for every tensor the step applied to (coef.z ≠ 0)
// so a refused step (non-finite gradient) or a parameter without gradient leaves its average alone. Sampling
// from the average of the last ~1/(1 − decay) steps' weights gives cleaner samples than the last weights
// (the recipe of most diffusion pretraining). Spec: refEma in src/tensor/reference/optim.ts.
// One thread per vec4, no workgroup memory: bandwidth-bound (read param and ema, write ema), the same shape on a
// GPU and on a CPU rasteriser. Dispatch grid1d(n_chunks · 256, 64).

struct EmaParams {
  n_chunks: u32,
  one_minus_decay: f32, // from float64 on the CPU
}

@group(0) @binding(0) var<storage, read_write> ema: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> chunks: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> ep: EmaParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let c = i / 256u;
  if (c >= ep.n_chunks) { return; }
  let ch = chunks[c];
  if (coef[ch.x].z == 0.0 || (i % 256u) * 4u >= ch.y) { return; }
  ema[i] = ema[i] + ep.one_minus_decay * (param[i] - ema[i]);
}
