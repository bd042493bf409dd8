// float64 reference of the sinusoidal timestep embedding (spec of shaders/timestep.wgsl): diffusers'
// get_timestep_embedding, whose frequencies and arguments torch computes in float32. Those float32 roundings are
// reproduced here (Math.fround), so only the final sin/cos is exact float64.

export interface TimestepOptions {
  /** [cos | sin] when true (SD3's Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)). */
  flipSinToCos?: boolean;
  downscaleFreqShift?: number;
  maxPeriod?: number;
}

/** freq_k = exp(−ln(maxPeriod)·k / (half − shift)) for k < half = floor(dim/2), rounded as torch's float32. */
export function timestepFrequencies(dim: number, downscaleFreqShift = 0, maxPeriod = 10000): Float64Array {
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  const denom = half - downscaleFreqShift;
  if (half > 0 && !(denom > 0)) throw new RangeError(`timestep embedding: dim ${dim} with downscale_freq_shift ${downscaleFreqShift} has no frequencies`);
  const out = new Float64Array(half);
  const c = f(-Math.log(maxPeriod));
  for (let k = 0; k < half; k++) out[k] = f(Math.exp(f(f(c * k) / f(denom))));
  return out;
}

/** t [B] (e.g. 1000·sigma) -> [B, dim]. */
export function timestepEmbeddingRef(t: ArrayLike<number>, dim: number, opts: TimestepOptions = {}): Float64Array {
  const { flipSinToCos = true, downscaleFreqShift = 0, maxPeriod = 10000 } = opts;
  const freqs = timestepFrequencies(dim, downscaleFreqShift, maxPeriod);
  const half = freqs.length;
  const out = new Float64Array(t.length * dim); // an odd dim keeps its trailing 0
  for (let b = 0; b < t.length; b++) {
    for (let k = 0; k < half; k++) {
      const arg = Math.fround(Math.fround(t[b]) * freqs[k]);
      const [first, second] = flipSinToCos ? [Math.cos(arg), Math.sin(arg)] : [Math.sin(arg), Math.cos(arg)];
      out[b * dim + k] = first;
      out[b * dim + half + k] = second;
    }
  }
  return out;
}
