// LoRA files: export a trained LoraSet as safetensors that other tools load, and import ours or other
// trainers' SD3 LoRAs back (src/io/lora-import.ts). Key conventions are in src/io/lora-keys.ts.
//
// The effective update of a module is scale·B·A with scale = alpha/rank·strength. Files carry it as:
//  - PEFT (default): the scale is folded into lora_B and no alpha is written, because diffusers'
//    `load_lora_weights` applies scale 1 to a PEFT file that carries no alpha: any loader then gives our delta.
//  - kohya: lora_down = A, lora_up = B·strength, `.alpha` = alpha, as sd-scripts writes (loaders apply
//    alpha / rows of lora_down). A fused qkv module stacks n of our adapters (n·rank rows), so its `.alpha` is
//    n·alpha to keep the same scale.
// `__metadata__` records what the file is and how it was made (all values strings, as safetensors requires).
import type { LoraSet } from '../model/lora';
import { writeSafetensors, type TensorToWrite } from '../codec/safetensors';
import { kohyaTarget, peftKey, swapRowHalves } from './lora-keys';
import { exportMetadata, type LoraExportInfo, type LoraNaming } from './lora-meta';

export { LORA_FORMAT, type LoraExportInfo, type LoraNaming } from './lora-meta';
export { importLora, LoraImportError, type LoraImportResult, type LoraImportOptions, type BaseModelRef } from './lora-import';

export interface LoraExportOptions {
  naming: LoraNaming;
  dtype: 'F32' | 'F16';
}

interface ModuleData {
  name: string;
  rank: number;
  in: number;
  out: number;
  A: Float32Array;
  B: Float32Array;
}

/** Reads every adapter back from the GPU and writes a safetensors file. */
export async function exportLora(set: LoraSet, info: LoraExportInfo, opts: Partial<LoraExportOptions> = {}): Promise<Uint8Array> {
  const naming = opts.naming ?? 'peft';
  const dtype = opts.dtype ?? 'F32';
  if (set.modules.size === 0) throw new RangeError(`export ${set.name}: the LoRA has no modules (released?)`);
  const modules: ModuleData[] = [];
  // Sequential reads keep it simple; an adapter set is small next to the base weights.
  for (const m of set.modules.values()) {
    const [rank, inDim] = m.A.shape;
    const out = m.B.shape[0];
    modules.push({ name: m.name, rank, in: inDim, out, A: await m.A.toArray(), B: await m.B.toArray() });
  }
  const tensors = naming === 'peft' ? peftTensors(modules, set.scale) : kohyaTensors(modules, set.config.alpha, set.strength);
  return writeSafetensors(tensors, exportMetadata(set, info, naming), dtype);
}

function scaled(data: Float32Array, k: number): Float32Array {
  if (k === 1) return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] * k;
  return out;
}

function peftTensors(modules: ModuleData[], scale: number): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const m of modules) {
    out.set(peftKey(m.name, 'lora_A'), { shape: [m.rank, m.in], data: m.A });
    out.set(peftKey(m.name, 'lora_B'), { shape: [m.out, m.rank], data: scaled(m.B, scale) });
  }
  return out;
}

function kohyaTensors(modules: ModuleData[], alpha: number, strength: number): Map<string, TensorToWrite> {
  // Group our modules by the kohya module they land in (a fused qkv takes up to three).
  const groups = new Map<string, { slots: number; swapHalves: boolean; parts: Array<{ m: ModuleData; slot: number }> }>();
  for (const m of modules) {
    const t = kohyaTarget(m.name, m);
    if (!t) throw new RangeError(`export: ${m.name} has no counterpart in the original SD3 MMDiT, so it has no kohya name; export with PEFT naming`);
    let g = groups.get(t.key);
    if (!g) groups.set(t.key, (g = { slots: t.slots, swapHalves: t.swapHalves, parts: [] }));
    g.parts.push({ m, slot: t.slot });
  }
  const out = new Map<string, TensorToWrite>();
  for (const [key, g] of groups) {
    g.parts.sort((a, b) => a.slot - b.slot);
    const { rank, in: inDim, out: outDim } = g.parts[0].m;
    const rows = rank * g.parts.length;
    const down = new Float32Array(rows * inDim);
    const up = new Float32Array(g.slots * outDim * rows);
    g.parts.forEach(({ m, slot }, j) => {
      down.set(m.A, j * rank * inDim);
      // B [out, rank] goes to rows slot·out.., columns j·rank.. of up [slots·out, rows].
      for (let r = 0; r < outDim; r++) {
        for (let c = 0; c < rank; c++) up[(slot * outDim + r) * rows + j * rank + c] = m.B[r * rank + c] * strength;
      }
    });
    out.set(`${key}.lora_down.weight`, { shape: [rows, inDim], data: down });
    out.set(`${key}.lora_up.weight`, { shape: [g.slots * outDim, rows], data: g.swapHalves ? swapRowHalves(up, g.slots * outDim, rows) : up });
    out.set(`${key}.alpha`, { shape: [], data: [alpha * g.parts.length] });
  }
  return out;
}
