// Tensor-key conventions for SD3 LoRA files, and which of the base model's modules they address.
//
// Our adapter modules carry diffusers' SD3Transformer2DModel names (`transformer_blocks.3.attn.to_q`). Files use:
//  - PEFT/diffusers: `transformer.<module>.lora_A.weight` [rank, in] and `.lora_B.weight` [out, rank]. This is
//    what diffusers' `load_lora_weights` reads (and ComfyUI too); other trainers drop the `transformer.` prefix
//    or write PEFT's `base_model.model.` instead.
//  - kohya: sd-scripts (networks/lora_sd3.py) names modules after the ORIGINAL Stability MMDiT, not diffusers:
//    `lora_unet_` + the SAI module path with dots turned into underscores, e.g.
//    `lora_unet_joint_blocks_0_x_block_attn_qkv`, with `.lora_down.weight` [rank, in], `.lora_up.weight`
//    [out, rank] and a scalar `.alpha` (loaders apply alpha / rows-of-lora_down). ComfyUI maps `lora_unet_*`
//    keys through the SAI state dict, so a `lora_unet_transformer_blocks_*` key (diffusers path under kohya's
//    prefix) would be read by no loader; we therefore write the real SAI names. The SAI model fuses q, k and v
//    into one `qkv` linear, so our three adapters become one kohya module (see `KohyaModule`). We also read
//    OneTrainer's `lora_transformer_<diffusers path with underscores>` keys, which ComfyUI accepts as well.
import type { SD3Config } from '../model/config';
import { parameterSpecs } from '../model/params';

/** A linear layer of the base inside the transformer blocks (the only place our adapters go). */
export interface BaseLinear {
  out: number;
  in: number;
}

/** Every 2D weight under transformer_blocks.*, by module name, with its [out, in]. */
export function blockLinears(config: SD3Config): Map<string, BaseLinear> {
  const out = new Map<string, BaseLinear>();
  for (const spec of parameterSpecs(config)) {
    const m = /^(transformer_blocks\.\d+\..+)\.weight$/.exec(spec.name);
    if (m && spec.shape.length === 2) out.set(m[1], { out: spec.shape[0], in: spec.shape[1] });
  }
  return out;
}

/** Splits `transformer_blocks.3.attn.to_q` into block 3 and suffix `attn.to_q`. */
export function splitModule(module: string): { block: number; suffix: string } | null {
  const m = /^transformer_blocks\.(\d+)\.(.+)$/.exec(module);
  return m ? { block: Number(m[1]), suffix: m[2] } : null;
}

// ------------------------------------------------------------------ PEFT

export const PEFT_PREFIX = 'transformer.';

export function peftKey(module: string, part: 'lora_A' | 'lora_B'): string {
  return `${PEFT_PREFIX}${module}.${part}.weight`;
}

/** Prefixes writers put before the diffusers module path (the longest first); some write none. */
const PEFT_PREFIXES = ['base_model.model.transformer.', 'base_model.model.', 'transformer.'];

/** The diffusers module path of a PEFT-style key stem (`transformer.transformer_blocks.0.attn.to_q`). */
export function stripPeftPrefix(stem: string): string {
  for (const p of PEFT_PREFIXES) if (stem.startsWith(p)) return stem.slice(p.length);
  return stem;
}

// ------------------------------------------------------------------ kohya (SAI MMDiT names)

/** Where each diffusers block module lives in the SAI MMDiT; `slot` is its row block in a fused qkv. */
const SAI_MODULE: Record<string, { sai: string; slot?: number }> = {
  'attn.to_q': { sai: 'x_block.attn.qkv', slot: 0 },
  'attn.to_k': { sai: 'x_block.attn.qkv', slot: 1 },
  'attn.to_v': { sai: 'x_block.attn.qkv', slot: 2 },
  'attn.to_out.0': { sai: 'x_block.attn.proj' },
  'attn.add_q_proj': { sai: 'context_block.attn.qkv', slot: 0 },
  'attn.add_k_proj': { sai: 'context_block.attn.qkv', slot: 1 },
  'attn.add_v_proj': { sai: 'context_block.attn.qkv', slot: 2 },
  'attn.to_add_out': { sai: 'context_block.attn.proj' },
  'attn2.to_q': { sai: 'x_block.attn2.qkv', slot: 0 },
  'attn2.to_k': { sai: 'x_block.attn2.qkv', slot: 1 },
  'attn2.to_v': { sai: 'x_block.attn2.qkv', slot: 2 },
  'attn2.to_out.0': { sai: 'x_block.attn2.proj' },
  'ff.net.0.proj': { sai: 'x_block.mlp.fc1' },
  'ff.net.2': { sai: 'x_block.mlp.fc2' },
  'ff_context.net.0.proj': { sai: 'context_block.mlp.fc1' },
  'ff_context.net.2': { sai: 'context_block.mlp.fc2' },
  'norm1.linear': { sai: 'x_block.adaLN_modulation.1' },
  'norm1_context.linear': { sai: 'context_block.adaLN_modulation.1' },
};

export const KOHYA_PREFIX = 'lora_unet_';
export const ONETRAINER_PREFIX = 'lora_transformer_';

/**
 * One kohya module. For a fused qkv, lora_down stacks the parts' A (rows), lora_up is [3·out, rows] with each
 * part's B in its slot's row block and the columns of its own A rows (block-diagonal, so the product is exact).
 */
export interface KohyaModule {
  key: string;
  /** The diffusers modules it covers, with their row block in lora_up (0 for unfused modules). */
  parts: Array<{ module: string; slot: number }>;
  /** 3 for a fused qkv, else 1: lora_up has slots·out rows. */
  slots: number;
  /** Rows per slot, and the input width. */
  out: number;
  in: number;
  /**
   * The context-pre-only last block's norm1_context is diffusers' AdaLayerNormContinuous, whose two output
   * chunks are ordered (scale, shift); SAI's adaLN_modulation orders them (shift, scale). The two row halves of
   * lora_up are swapped between the conventions (diffusers' SD3 checkpoint converter does the same swap).
   */
  swapHalves: boolean;
}

/** The kohya key (and slot) of a diffusers module, from its name and weight shape alone. */
export function kohyaTarget(module: string, base: BaseLinear): { key: string; slot: number; slots: number; swapHalves: boolean } | null {
  const s = splitModule(module);
  const target = s && SAI_MODULE[s.suffix];
  if (!s || !target) return null;
  const sai = `joint_blocks.${s.block}.${target.sai}`;
  return {
    key: KOHYA_PREFIX + sai.replace(/\./g, '_'),
    slot: target.slot ?? 0,
    slots: target.slot === undefined ? 1 : 3,
    // Only the pre-only block's norm1_context projects to 2·D (the others to 6·D or 9·D).
    swapHalves: s.suffix === 'norm1_context.linear' && base.out === 2 * base.in,
  };
}

/** Every kohya module of a model, by key. */
export function kohyaModules(config: SD3Config): Map<string, KohyaModule> {
  const out = new Map<string, KohyaModule>();
  for (const [module, base] of blockLinears(config)) {
    const t = kohyaTarget(module, base);
    if (!t) continue;
    let k = out.get(t.key);
    if (!k) out.set(t.key, (k = { key: t.key, parts: [], slots: t.slots, out: base.out, in: base.in, swapHalves: t.swapHalves }));
    k.parts.push({ module, slot: t.slot });
  }
  return out;
}

/** OneTrainer's keys (diffusers path, dots → underscores) for every block linear of a model. */
export function oneTrainerModules(config: SD3Config): Map<string, string> {
  const out = new Map<string, string>();
  for (const module of blockLinears(config).keys()) out.set(ONETRAINER_PREFIX + module.replace(/\./g, '_'), module);
  return out;
}

/** Swaps the two row halves of a row-major [rows, cols] matrix (rows even), returning a new array. */
export function swapRowHalves(data: Float32Array, rows: number, cols: number): Float32Array {
  const half = (rows / 2) * cols;
  const out = new Float32Array(data.length);
  out.set(data.subarray(half), 0);
  out.set(data.subarray(0, half), half);
  return out;
}
