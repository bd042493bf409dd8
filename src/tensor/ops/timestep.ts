// Sinusoidal timestep embedding on the GPU (SD3: t = 1000·sigma -> [B, 256], then linear_1 -> SiLU -> linear_2).
// No gradient flows to t: timesteps are sampled, never learned, so the op records nothing on the tape and
// refuses a t that requires grad instead of silently dropping its gradient.
import timestepWgsl from '../../../shaders/timestep.wgsl?raw';
import { grid1d, uniforms } from '../dispatch';
import type { Engine } from '../engine';
import type { Tensor } from '../tensor';
import { timestepFrequencies, type TimestepOptions } from '../reference/timestep';

export type { TimestepOptions } from '../reference/timestep';

const KERNEL = { name: 'timestep', code: timestepWgsl };
const WG = 256; // matches @workgroup_size in shaders/timestep.wgsl

// The frequency table per engine and configuration, uploaded once (an upload per step would also force a
// flush whenever the pool hands back a buffer used earlier in the same batch).
const freqCache = new WeakMap<Engine, Map<string, Tensor>>();

function frequencies(e: Engine, dim: number, shift: number, maxPeriod: number): Tensor {
  let perEngine = freqCache.get(e);
  if (!perEngine) freqCache.set(e, (perEngine = new Map()));
  const key = `${dim}|${shift}|${maxPeriod}`;
  let f = perEngine.get(key);
  if (!f || f.released) {
    const table = timestepFrequencies(dim, shift, maxPeriod);
    f = e.keep(e.fromArray(table.length ? table : [0], [Math.max(1, table.length)], 'timestep.freqs'));
    perEngine.set(key, f);
  }
  return f;
}

/**
 * t [B] (float; SD3 passes 1000·sigma) -> [B, dim] = [cos(t·f_k) | sin(t·f_k)] with f_k = exp(−ln(10000)·k/(dim/2))
 * for the defaults (flip_sin_to_cos=True, downscale_freq_shift=0), as diffusers' get_timestep_embedding.
 */
export function timestepEmbedding(t: Tensor, dim = 256, opts: TimestepOptions = {}): Tensor {
  const { flipSinToCos = true, downscaleFreqShift = 0, maxPeriod = 10000 } = opts;
  if (t.shape.length !== 1) throw new RangeError(`timestepEmbedding: t ${t.describe()} must be 1-D [B]`);
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`timestepEmbedding: dim ${dim} must be a positive integer`);
  const e = t.engine;
  if (t.requiresGrad && e.gradEnabled) {
    throw new Error(`timestepEmbedding: t ${t.describe()} requires grad, but the op has no backward (timesteps are sampled, not learned); pass t.detach()`);
  }
  const freqs = frequencies(e, dim, downscaleFreqShift, maxPeriod);
  const y = e.empty([t.shape[0], dim], 'timestep_emb');
  if (y.size === 0) return y;
  e.gpu.dispatch({
    kernel: KERNEL,
    buffers: [t.buffer, freqs.buffer, y.buffer],
    uniforms: uniforms([
      ['u32', y.size],
      ['u32', dim],
      ['u32', Math.floor(dim / 2)],
      ['u32', flipSinToCos ? 1 : 0],
    ]),
    workgroups: grid1d(y.size, WG),
    detail: t.describe(),
  });
  return y;
}
