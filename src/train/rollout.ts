// One sampler step from level sigma0 to sigma1 (< sigma0) as a per-sample linear combination
//     z_next = c_z·z + c_v·v + c_eps·eps,
// which covers the deterministic Euler step and the four stochastic steps of soar-spec §1.4 (the same formulas
// serve SOAR's extra rollout paths and the stochastic samplers in src/sample). Coefficients are float32 host
// numbers per sample; the combination runs on the GPU.
import type { Engine } from '../tensor/engine';
import type { Tensor } from '../tensor/tensor';
import { add, mul } from '../tensor/ops/elementwise';

export type StochasticStep = 'simple' | 'sde' | 'flow_sde' | 'cps';
export type StepType = 'euler' | StochasticStep;

export interface StepCoefficients {
  z: number;
  v: number;
  eps: number;
}

const f = Math.fround;

/**
 * Coefficients of one step. `a` is sde_noise_scale; `sigmaMax` replaces sigma0 = 1 in flow_sde's g (the
 * reference uses the second grid level, 0.99967, so g stays finite).
 */
export function stepCoefficients(type: StepType, sigma0: number, sigma1: number, a = 0.5, sigmaMax = 0.99967): StepCoefficients {
  const dt = sigma1 - sigma0; // < 0: sampling runs from noise (1) to data (0)
  switch (type) {
    case 'euler': // z + dt·v
      return { z: 1, v: f(dt), eps: 0 };
    case 'simple': // z + dt·v + a·sqrt|dt|·eps
      return { z: 1, v: f(dt), eps: f(a * Math.sqrt(Math.abs(dt))) };
    case 'sde': {
      // x̂0 = z − sigma0·v; z̃ = (1 − sigma1)·x̂0 + sigma1·eps (a is ignored: cps with a = 1)
      return { z: f(1 - sigma1), v: f(-(1 - sigma1) * sigma0), eps: f(sigma1) };
    }
    case 'flow_sde': {
      const s0 = sigma0 >= 1 ? sigmaMax : sigma0;
      const g = a * Math.sqrt(sigma0 / (1 - s0));
      return {
        z: f(1 + (g * g * dt) / (2 * sigma0)),
        v: f((1 + (g * g * (1 - sigma0)) / (2 * sigma0)) * dt),
        eps: f(g * Math.sqrt(Math.max(-dt, 0))),
      };
    }
    case 'cps': {
      // x̂0 = z − sigma0·v, x̂1 = z + (1 − sigma0)·v; z̃ = (1 − sigma1)·x̂0 + r·x̂1 + s·eps
      const s = sigma1 * Math.sin((a * Math.PI) / 2);
      const r = Math.sqrt(Math.max(sigma1 * sigma1 - s * s, 0));
      return { z: f(1 - sigma1 + r), v: f(-(1 - sigma1) * sigma0 + r * (1 - sigma0)), eps: f(s) };
    }
  }
}

/** A per-sample scalar vector [B] as a tensor broadcastable over [B, ...] (shape [B, 1, 1, ...]). */
export function perSample(engine: Engine, values: ArrayLike<number>, rank: number, name: string): Tensor {
  return engine.fromArray(Float32Array.from(values), [values.length, ...new Array(rank - 1).fill(1)], name);
}

/** z_next = c_z·z + c_v·v + c_eps·eps per sample (eps may be omitted when every c_eps is 0). */
export function applyStep(engine: Engine, z: Tensor, v: Tensor, eps: Tensor | null, coefs: StepCoefficients[]): Tensor {
  const r = z.shape.length;
  const term = (k: keyof StepCoefficients, t: Tensor) => mul(t, perSample(engine, coefs.map((c) => c[k]), r, `c_${k}`));
  const allOne = coefs.every((c) => c.z === 1);
  let out = add(allOne ? z : term('z', z), term('v', v));
  if (eps && coefs.some((c) => c.eps !== 0)) out = add(out, term('eps', eps));
  return out;
}
