// Host-side seeded random numbers for weight initialisation (not the training noise, which is Philox on the
// GPU). mulberry32: tiny, fast and good enough for initial weights; reproducible from the seed.

export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(this.uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

/** How a freshly created weight is filled (shared by the MMDiT and the text encoder). */
export type BasicInit = 'zeros' | 'ones' | 'normal0.02' | 'normal0.01' | 'xavier';

/** Values for one weight of `shape`: xavier-uniform uses fan_out = shape[0], fan_in = the rest. */
export function initialValues(init: BasicInit, shape: readonly number[], rng: SeededRandom): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  switch (init) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'normal0.02':
    case 'normal0.01': {
      const std = init === 'normal0.02' ? 0.02 : 0.01;
      for (let i = 0; i < n; i++) out[i] = std * rng.normal();
      break;
    }
    case 'xavier': {
      const fanOut = shape[0];
      const bound = Math.sqrt(6 / (n / fanOut + fanOut));
      for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * bound;
      break;
    }
  }
  return out;
}
