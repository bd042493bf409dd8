// Reading kohya-named LoRA files (lora_down / lora_up / alpha) into per-module adapters: sd-scripts' names
// after the original SD3 MMDiT (a fused qkv is split back into q, k and v) and OneTrainer's diffusers paths.
import type { SD3Config } from '../model/config';
import type { LoadedTensor, SafetensorsFile } from '../codec/safetensors';
import { kohyaModules, oneTrainerModules, splitModule, swapRowHalves, type KohyaModule } from './lora-keys';
import type { OurMetadata } from './lora-meta';
import type { Collected, Matrix } from './lora-import';

interface Group {
  down?: [string, LoadedTensor];
  up?: [string, LoadedTensor];
  alpha?: [string, number];
}

export function collectKohya(file: SafetensorsFile, config: SD3Config, ours: OurMetadata | null): Collected {
  const out: Collected = { found: [], problems: [], warnings: [] };
  const groups = new Map<string, Group>();
  let skipped = 0;
  for (const [key, t] of file.tensors) {
    if (/^lora_te\d?_/.test(key)) {
      skipped++;
      continue;
    }
    const m = /^(.+)\.(lora_down\.weight|lora_up\.weight|alpha)$/.exec(key);
    if (!m) {
      out.problems.push(`${key} [${t.shape.join(', ')}] is not a LoRA weight (DoRA, LoHa and other variants are not supported)`);
      continue;
    }
    const g = groups.get(m[1]) ?? {};
    if (m[2] === 'alpha') {
      if (t.data.length === 1) g.alpha = [key, t.data[0]];
      else out.problems.push(`${key} should be a scalar, has shape [${t.shape.join(', ')}]`);
    } else g[m[2] === 'lora_down.weight' ? 'down' : 'up'] = [key, t];
    groups.set(m[1], g);
  }
  if (skipped) out.warnings.push(`ignored ${skipped} text-encoder tensor(s): only the transformer's adapters are imported`);

  const sai = kohyaModules(config);
  const oneTrainer = oneTrainerModules(config);
  for (const [stem, g] of groups) {
    if (!g.down || !g.up) {
      // A group may hold only an alpha, or only a non-scalar one (already reported): name the stem then.
      const [have, missing] = g.down ? [g.down[0], 'lora_up'] : g.up ? [g.up[0], 'lora_down'] : [g.alpha?.[0] ?? `${stem}.alpha`, 'lora_down/lora_up'];
      out.problems.push(`${have} has no matching ${missing} (${stem}.${missing}.weight)`);
      continue;
    }
    if (ours && !g.alpha) {
      out.problems.push(`${stem}.alpha is missing (our kohya files always write it)`);
      continue;
    }
    const rows = g.down[1].shape[0];
    // As kohya loaders do: scale = alpha / rows of lora_down, and 1 where the file has no alpha.
    const scale = g.alpha ? g.alpha[1] / rows : 1;
    const target = sai.get(stem);
    if (target) unpack(target, g as Required<Pick<Group, 'down' | 'up'>>, scale, ours, out);
    else if (oneTrainer.has(stem)) out.found.push({ module: oneTrainer.get(stem)!, A: g.down[1], B: g.up[1], scale, keyA: g.down[0], keyB: g.up[0] });
    else out.problems.push(`${g.down[0]}: ${unknownModule(stem, config)}`);
  }
  return out;
}

function unknownModule(stem: string, config: SD3Config): string {
  const block = /^lora_(?:unet_joint_blocks|transformer_transformer_blocks)_(\d+)_/.exec(stem);
  if (block && Number(block[1]) >= config.num_layers) {
    return `the base has no block ${block[1]}: it has ${config.num_layers} blocks (0–${config.num_layers - 1})`;
  }
  return `no linear module of the base is named ${stem} (kohya SD3 names follow the original MMDiT, e.g. lora_unet_joint_blocks_0_x_block_attn_qkv)`;
}

/** Rows [r0, r1) and columns [c0, c1) of a row-major matrix with `cols` columns. */
function block(data: Float32Array, cols: number, r0: number, r1: number, c0: number, c1: number): Float32Array {
  const w = c1 - c0;
  const out = new Float32Array((r1 - r0) * w);
  for (let r = r0; r < r1; r++) out.set(data.subarray(r * cols + c0, r * cols + c1), (r - r0) * w);
  return out;
}

/** One kohya module into our adapters (a fused qkv into up to three). */
function unpack(t: KohyaModule, g: Required<Pick<Group, 'down' | 'up'>>, scale: number, ours: OurMetadata | null, out: Collected): void {
  const [keyA, down] = g.down;
  const [keyB, up] = g.up;
  const fmt = (s: number[]) => `[${s.join(', ')}]`;
  const rows = down.shape[0];
  const upRows = t.slots * t.out;
  if (down.shape.length !== 2 || up.shape.length !== 2 || up.shape[1] !== rows) {
    out.problems.push(`rank mismatch: ${keyA} ${fmt(down.shape)} and ${keyB} ${fmt(up.shape)} (lora_up needs as many columns as lora_down has rows)`);
    return;
  }
  if (down.shape[1] !== t.in || up.shape[0] !== upRows) {
    const covers = t.parts.map((p) => p.module).join(', ');
    out.problems.push(`${keyA} ${fmt(down.shape)} and ${keyB} ${fmt(up.shape)} do not fit the base (${covers}): need [rank, ${t.in}] and [${upRows}, rank]`);
    return;
  }
  const upData = t.swapHalves ? swapRowHalves(up.data, upRows, rows) : up.data;
  const add = (module: string, A: Matrix, B: Matrix) => out.found.push({ module, A, B, scale, keyA, keyB });
  if (t.slots === 1) {
    add(t.parts[0].module, down, { shape: up.shape, data: upData });
    return;
  }
  if (!ours) {
    // Another trainer's fused qkv: one lora_down shared by q, k and v, each with its row block of lora_up.
    for (const p of t.parts) add(p.module, down, { shape: [t.out, rows], data: block(upData, rows, p.slot * t.out, (p.slot + 1) * t.out, 0, rows) });
    return;
  }
  // Ours: the parts we trained, stacked in slot order, lora_up block-diagonal; split back to rank r each.
  const present = t.parts.filter((p) => ours.targets.includes(splitModule(p.module)!.suffix)).sort((a, b) => a.slot - b.slot);
  const r = ours.rank;
  if (rows !== present.length * r) {
    out.problems.push(`${keyA} has ${rows} rows; ${present.length} targeted part(s) of rank ${r} make ${present.length * r}`);
    return;
  }
  for (let s = 0; s < t.slots; s++) {
    const j = present.findIndex((p) => p.slot === s);
    for (let row = s * t.out; row < (s + 1) * t.out; row++) {
      for (let c = 0; c < rows; c++) {
        if (Math.floor(c / r) !== j && upData[row * rows + c] !== 0) {
          out.problems.push(`${keyB} is not block-diagonal (row ${row}, column ${c}), so it cannot be split into per-projection adapters`);
          return;
        }
      }
    }
  }
  present.forEach((p, j) => {
    add(p.module, { shape: [r, t.in], data: block(down.data, t.in, j * r, (j + 1) * r, 0, t.in) }, { shape: [t.out, r], data: block(upData, rows, p.slot * t.out, (p.slot + 1) * t.out, j * r, (j + 1) * r) });
  });
}
