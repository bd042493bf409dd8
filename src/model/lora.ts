// LoRA adapters on the MMDiT's linear layers: y = x·Wᵀ + b + (alpha/rank)·(x·Aᵀ)·Bᵀ, A [rank, in] random,
// B [out, rank] zero (so a fresh adapter leaves the base unchanged). Module names are diffusers' names
// (`transformer_blocks.3.attn.to_q`), which is also how PEFT names the adapter weights in exported files.
import type { Engine } from '../tensor/engine';
import type { Tensor } from '../tensor/tensor';
import type { LoraAdapter } from '../tensor/ops/linear';
import { matmul } from '../tensor/ops/matmul';
import type { SD3Config } from './config';
import { parameterSpecs } from './params';
import { SeededRandom } from './random';

/** The 8 attention projections (PEFT's usual SD3 target set); modules absent in a block are skipped. */
export const ATTENTION_TARGETS = [
  'attn.to_q',
  'attn.to_k',
  'attn.to_v',
  'attn.to_out.0',
  'attn.add_q_proj',
  'attn.add_k_proj',
  'attn.add_v_proj',
  'attn.to_add_out',
] as const;

export const MLP_TARGETS = ['ff.net.0.proj', 'ff.net.2', 'ff_context.net.0.proj', 'ff_context.net.2'] as const;

/** What a full fine-tune is extracted into by default (CLI and studio alike): it changed every linear, and the
 * MLPs hold about half of the weights it changed, so attention alone would drop that part of the change. */
export const EXTRACTION_TARGETS = [...ATTENTION_TARGETS, ...MLP_TARGETS] as const;

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Module suffixes within a block, e.g. 'attn.to_q'. */
  targets: string[];
}

export const DEFAULT_LORA: LoraConfig = { rank: 4, alpha: 4, targets: [...ATTENTION_TARGETS] };

export interface LoraModule {
  /** Full module name, e.g. transformer_blocks.0.attn.to_q */
  name: string;
  A: Tensor;
  B: Tensor;
}

/** Names of the linear modules a target list selects in a model (those that exist). */
export function loraModuleNames(model: SD3Config, targets: readonly string[]): Array<{ name: string; out: number; in: number }> {
  const specs = parameterSpecs(model);
  const out: Array<{ name: string; out: number; in: number }> = [];
  for (const spec of specs) {
    const m = /^(transformer_blocks\.\d+)\.(.+)\.weight$/.exec(spec.name);
    if (!m || !targets.includes(m[2]) || spec.shape.length !== 2) continue;
    out.push({ name: `${m[1]}.${m[2]}`, out: spec.shape[0], in: spec.shape[1] });
  }
  return out;
}

export class LoraSet {
  readonly modules = new Map<string, LoraModule>();
  enabled = true;
  /** Multiplier on top of alpha/rank (the preview's adapter strength). */
  strength = 1;

  constructor(
    readonly name: string,
    readonly config: LoraConfig,
  ) {
    if (!Number.isInteger(config.rank) || config.rank < 1) throw new RangeError(`LoRA rank must be a positive integer, got ${config.rank}`);
    if (!(config.alpha > 0)) throw new RangeError(`LoRA alpha must be positive, got ${config.alpha}`);
    if (config.targets.length === 0) throw new RangeError('LoRA needs at least one target module');
  }

  /** A fresh adapter: A ~ U(±1/sqrt(in)) (PEFT's kaiming-uniform with a = sqrt(5)), B = 0. */
  static create(engine: Engine, name: string, model: SD3Config, config: LoraConfig, seed: number): LoraSet {
    const set = new LoraSet(name, config);
    const names = loraModuleNames(model, config.targets);
    if (names.length === 0) throw new RangeError(`LoRA targets ${config.targets.join(', ')} match no module of this model`);
    const rng = new SeededRandom(seed);
    for (const m of names) {
      const bound = 1 / Math.sqrt(m.in);
      const a = new Float32Array(config.rank * m.in);
      for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
      set.modules.set(m.name, {
        name: m.name,
        A: engine.parameter(a, [config.rank, m.in], `${m.name}.lora_A`),
        B: engine.parameter(new Float32Array(m.out * config.rank), [m.out, config.rank], `${m.name}.lora_B`),
      });
    }
    return set;
  }

  get scale(): number {
    return (this.config.alpha / this.config.rank) * this.strength;
  }

  adapterFor(module: string): LoraAdapter | null {
    if (!this.enabled) return null;
    const m = this.modules.get(module);
    return m ? { A: m.A, B: m.B, scale: this.scale } : null;
  }

  parameters(): Tensor[] {
    return [...this.modules.values()].flatMap((m) => [m.A, m.B]);
  }

  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Adds (sign 1) or removes (sign −1) scale·B·A into the base weights; the adapter is disabled while merged. */
  mergeInto(weights: Map<string, Tensor>, sign: 1 | -1): void {
    const engine = [...this.modules.values()][0]?.A.engine;
    if (!engine) return;
    engine.noGrad(() =>
      engine.scope(() => {
        for (const m of this.modules.values()) {
          const w = weights.get(`${m.name}.weight`);
          if (!w) throw new Error(`merge ${this.name}: the model has no ${m.name}.weight`);
          const delta = matmul(m.B, m.A); // [out, rank]·[rank, in]
          engine.axpy(w, delta, sign * this.scale);
        }
      }),
    );
  }

  release(): void {
    for (const m of this.modules.values()) {
      m.A.release();
      m.B.release();
    }
    this.modules.clear();
  }
}
