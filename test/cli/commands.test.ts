// The commands on a user's own folder, on the tiny preset: `train` keeps a held-out split, `compare` reports on
// it without the built-in evaluator, and `sample` draws a LoRA trained by `train`, exported and re-imported
// through the studio's import, on the user's prompts, one grid column per model; bad input refused.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quietCommand as quiet } from './quiet';
import { parseLoraSpec } from '../../src/cli/main';
import { decodePng } from '../../src/data/ingest/png-decode';
import { getEngine, rand } from '../tensor/harness';
import { readSafetensors, writeSafetensors } from '../../src/codec/safetensors';
import { importLora } from '../../src/io/lora-format';
import { PRESETS } from '../../src/model/config';
import { f16ToF32, f32ToF16 } from '../../src/codec/half';
import { contentHash } from '../../src/io/base-model';
import { rgbPng, writeDataset, type FileSpec } from '../data/ingest/fixtures';
import { shardedFiles } from '../io/tuned-fixtures';


describe('train on a folder', () => {
  it('keeps a held-out split out of training, names it, and measures the validation loss on it', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soar-folder-'));
    const base = join(dir, 'base');
    const data = join(dir, 'photos');
    const files: Record<string, FileSpec> = {};
    for (let i = 0; i < 12; i++) {
      files[`img${i}.png`] = rgbPng(8, 8, (x) => [20 * i, x * 30, 100]);
      files[`img${i}.txt`] = `a picture number ${i}`;
    }
    writeDataset(data, files);
    expect(await quiet(['init-base', '--preset', 'tiny', '--seed', '2', '--out', base])).toBe(0);
    const run = join(dir, 'run');
    expect(await quiet(['train', '--base', base, '--data', data, '--held-out', '0.25', '--method', 'sft', '--steps', '2', '--train_batch_size', '2', '--validation_steps', '2', '--out', run])).toBe(0);
    const held = readFileSync(join(run, 'held-out.txt'), 'utf8').trim().split('\n');
    expect(held.length).toBe(3);
    for (const h of held) expect(h).toMatch(/^img\d+\.png$/);
    const metrics = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as { validation: Array<{ loss: number }> };
    expect(metrics.validation.length).toBeGreaterThan(0);
    await expect(quiet(['train', '--base', base, '--data', data, '--held-out', '1', '--steps', '1', '--out', run])).rejects.toThrow(/--held-out must be a fraction/);

    // The same images described by a Hugging Face metadata.jsonl instead of caption files.
    const hf = join(dir, 'hf');
    const hfFiles: Record<string, FileSpec> = {};
    const lines: string[] = [];
    for (let i = 0; i < 10; i++) {
      hfFiles[`train/p${i}.png`] = rgbPng(8, 8, (x, y) => [10 * i, y * 20, x * 20]);
      lines.push(JSON.stringify({ file_name: `p${i}.png`, text: `pattern ${i}` }));
    }
    hfFiles['train/metadata.jsonl'] = lines.join('\n') + '\n';
    writeDataset(hf, hfFiles);
    const hfRun = join(dir, 'hf-run');
    expect(await quiet(['train', '--base', base, '--data', hf, '--steps', '1', '--train_batch_size', '2', '--out', hfRun])).toBe(0);
    expect(readFileSync(join(hfRun, 'held-out.txt'), 'utf8').trim().split('\n')).toHaveLength(2); // 10 images: a quarter at most

    // compare on the same folder: SFT and SOAR on the training images, sampled on the held-out captions.
    const cmp = join(dir, 'compare');
    expect(await quiet(['compare', '--base', base, '--data', data, '--held-out', '0.25', '--steps', '1', '--train_batch_size', '2', '--trajectory_length', '1', '--eval-steps', '2', '--drift-samples', '3', '--out', cmp])).toBe(0);
    const report = readFileSync(join(cmp, 'report.md'), 'utf8');
    expect(report).toMatch(/No evaluator applies to this dataset/);
    expect(report).toMatch(/the 3 held-out images' captions/);
    expect(report).not.toMatch(/novel pairs/);
    expect(report).toMatch(/\| SOAR \| 2 \| \d\.\d{4} \|/);
    const grid = decodePng(new Uint8Array(readFileSync(join(cmp, 'samples-soar.png'))));
    expect(grid.width).toBeGreaterThan(32);
  });
});

describe('extract-lora', () => {
  it('turns a full fine-tune back into a LoRA: a rank-2 change comes back exactly, untouched modules stay 0', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soar-extract-'));
    const base = join(dir, 'base');
    expect(await quiet(['init-base', '--preset', 'tiny', '--seed', '3', '--out', base])).toBe(0);
    const file = readSafetensors(new Uint8Array(readFileSync(join(base, 'transformer.safetensors'))));
    const name = 'transformer_blocks.0.attn.to_q.weight';
    const w = file.tensors.get(name)!;
    const [out, inF] = w.shape;
    const delta = new Float64Array(out * inF);
    const u = rand(out * 2, 5);
    const v = rand(2 * inF, 6);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) delta[o * inF + i] = 0.05 * (u[o * 2] * v[i] + u[o * 2 + 1] * v[inF + i]);
    const tensors = new Map([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: k === name ? Float32Array.from(t.data, (x, i) => x + delta[i]) : t.data }]));
    const tuned = join(dir, 'tuned.safetensors');
    writeFileSync(tuned, writeSafetensors(tensors, {}, 'F32'));
    const lora = join(dir, 'extracted.safetensors');
    expect(await quiet(['extract-lora', '--base', base, '--tuned', tuned, '--rank', '2', '--targets', 'attn.to_q,attn.to_k', '--out', lora])).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'extracted.extraction.json'), 'utf8')) as { modules: Array<{ module: string; energyKept: number }> };
    expect(report.modules.find((m) => m.module === 'transformer_blocks.0.attn.to_q')!.energyKept).toBeCloseTo(1, 6);
    // The file is a LoRA the studio imports; its B·A·scale is the change that was made.
    const e = await getEngine();
    const back = importLora(new Uint8Array(readFileSync(lora)), { config: PRESETS.tiny.config, id: JSON.parse(readFileSync(join(base, 'model.json'), 'utf8')).id, hash: JSON.parse(readFileSync(join(base, 'model.json'), 'utf8')).transformer_hash }, e, 'x');
    const m = back.set.modules.get('transformer_blocks.0.attn.to_q')!;
    const [A, B] = [await m.A.toArray(), await m.B.toArray()];
    const r = m.A.shape[0];
    let err = 0;
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) {
      let x = 0;
      for (let j = 0; j < r; j++) x += B[o * r + j] * A[j * inF + i];
      err = Math.max(err, Math.abs(back.set.scale * x - delta[o * inF + i]));
    }
    expect(err).toBeLessThan(1e-5);
    const untouched = back.set.modules.get('transformer_blocks.1.attn.to_k')!;
    expect((await untouched.B.toArray()).every((x) => x === 0)).toBe(true);
    back.set.release();
    await expect(quiet(['extract-lora', '--base', base, '--tuned', join(dir, 'nope.safetensors'), '--out', lora])).rejects.toThrow(/no such file/);

    // The reference trainer's output folder, sharded with its index: the same LoRA; a shard missing is named.
    for (const [path, bytes] of shardedFiles(tensors, 3, 'out/transformer')) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), bytes);
    }
    const fromFolder = join(dir, 'from-folder.safetensors');
    expect(await quiet(['extract-lora', '--base', base, '--tuned', join(dir, 'out'), '--rank', '2', '--targets', 'attn.to_q,attn.to_k', '--out', fromFolder])).toBe(0);
    const [a, b] = [readSafetensors(new Uint8Array(readFileSync(lora))), readSafetensors(new Uint8Array(readFileSync(fromFolder)))];
    for (const [k, t] of a.tensors) expect(b.tensors.get(k)!.data, k).toEqual(t.data);
    expect(JSON.parse(b.metadata.extraction)).toMatchObject({ tuned: 'out', rank: 2 });
    rmSync(join(dir, 'out/transformer/diffusion_pytorch_model-00003-of-00003.safetensors'));
    await expect(quiet(['extract-lora', '--base', base, '--tuned', join(dir, 'out'), '--out', fromFolder])).rejects.toThrow(/shard\(s\) that were not picked: diffusion_pytorch_model-00003-of-00003\.safetensors\. Pick the whole transformer folder/);
  });

  it('takes the base as a diffusers pipeline folder (config.json, F16 shards + index): the same LoRA as from the bundle; a mismatch refused by name', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soar-extract-diffusers-'));
    const base = join(dir, 'base');
    expect(await quiet(['init-base', '--preset', 'tiny', '--seed', '4', '--out', base])).toBe(0);
    // The bundle's weights rounded to F16 (model.json's hash updated), so that the F16 diffusers copy holds the same values.
    const file = readSafetensors(new Uint8Array(readFileSync(join(base, 'transformer.safetensors'))));
    const rounded = new Map([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data, (x) => f16ToF32(f32ToF16(x))) }]));
    const bytes = writeSafetensors(rounded, {}, 'F32');
    writeFileSync(join(base, 'transformer.safetensors'), bytes);
    const manifest = JSON.parse(readFileSync(join(base, 'model.json'), 'utf8')) as { id: string; transformer_hash: string };
    writeFileSync(join(base, 'model.json'), JSON.stringify({ ...manifest, transformer_hash: contentHash(bytes) }));
    const write = (files: Map<string, Uint8Array>, root: string) => {
      for (const [path, b] of files) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), b);
      }
    };
    const pipeline = join(dir, 'sd3-tiny');
    write(shardedFiles(rounded, 2, 'transformer', 'F16'), pipeline);
    writeFileSync(join(pipeline, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusion3Pipeline' }));
    writeFileSync(join(pipeline, 'transformer', 'config.json'), JSON.stringify({ _class_name: 'SD3Transformer2DModel', _name_or_path: 'test/tiny-sd3', ...PRESETS.tiny.config }));
    const name = 'transformer_blocks.1.attn.to_k.weight';
    const [out, inF] = rounded.get(name)!.shape;
    const [u, v] = [rand(out, 8), rand(inF, 9)]; // a rank-1 change 0.05·u·vᵀ
    const tuned = new Map([...rounded].map(([k, t]) => [k, k === name ? { shape: t.shape, data: Float32Array.from(t.data, (x, i) => x + 0.05 * u[Math.floor(i / inF)] * v[i % inF]) } : t]));
    write(shardedFiles(tuned, 3, 'out/transformer'), dir);
    const args = (b: string, lora: string) => ['extract-lora', '--base', b, '--tuned', join(dir, 'out'), '--rank', '2', '--targets', 'attn.to_q,attn.to_k', '--out', lora];
    const [fromBundle, fromDiffusers] = [join(dir, 'bundle.safetensors'), join(dir, 'diffusers.safetensors')];
    expect(await quiet(args(base, fromBundle))).toBe(0);
    expect(await quiet(args(pipeline, fromDiffusers))).toBe(0);
    const [a, b] = [readSafetensors(new Uint8Array(readFileSync(fromBundle))), readSafetensors(new Uint8Array(readFileSync(fromDiffusers)))];
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    for (const [k, t] of a.tensors) expect(b.tensors.get(k)!.data, k).toEqual(t.data);
    const changed = [...b.tensors].find(([k]) => k.includes('transformer_blocks.1.attn.to_k.lora_B'))![1];
    expect(changed.data.some((x) => Math.abs(x) > 1e-3)).toBe(true); // the change is there, not two empty LoRAs
    expect([a.metadata.base_model_id, a.metadata.base_model_hash]).toEqual([manifest.id, contentHash(bytes)]);
    expect(b.metadata.base_model_id).toBe('test/tiny-sd3');
    expect(b.metadata.base_model_hash).toMatch(/^fnv1a64-header-vectors:[0-9a-f]{16}$/);
    // The transformer folder itself and the pipeline folder are the same base.
    expect(await quiet(args(join(pipeline, 'transformer'), fromDiffusers))).toBe(0);
    expect(readSafetensors(new Uint8Array(readFileSync(fromDiffusers))).metadata.base_model_hash).toBe(b.metadata.base_model_hash);

    // A fine-tune short of one tensor, and a base that is not there.
    write(shardedFiles(new Map([...tuned].filter(([k]) => k !== 'proj_out.bias')), 2, 'short/transformer'), dir);
    await expect(quiet(['extract-lora', '--base', pipeline, '--tuned', join(dir, 'short'), '--out', fromDiffusers])).rejects.toThrow(
      /--tuned .*short: proj_out\.bias is in the base test\/tiny-sd3 \(transformer\/diffusion_pytorch_model\.safetensors\.index\.json \(2 shards\)\) but not in the fine-tune .*\. Pick the fine-tune of this base/,
    );
    await expect(quiet(['extract-lora', '--base', join(dir, 'nope'), '--tuned', join(dir, 'out'), '--out', fromDiffusers])).rejects.toThrow(/--base .*nope.*: no such file or folder/);
    writeFileSync(join(pipeline, 'transformer', 'config.json'), JSON.stringify({ _class_name: 'FluxTransformer2DModel' }));
    await expect(quiet(args(pipeline, fromDiffusers))).rejects.toThrow(/--base .*sd3-tiny: transformer\/config\.json is the config of a "FluxTransformer2DModel"/);
  });
});

describe('sample with LoRAs', () => {
  it('reads FILE[:weight] and leaves a drive letter alone', () => {
    expect(parseLoraSpec('runs/a/lora.safetensors:0.5')).toEqual({ file: 'runs/a/lora.safetensors', weight: 0.5 });
    expect(parseLoraSpec('x.safetensors')).toEqual({ file: 'x.safetensors', weight: 1 });
    expect(parseLoraSpec('C:\\\\loras\\\\x.safetensors')).toEqual({ file: 'C:\\\\loras\\\\x.safetensors', weight: 1 });
    expect(parseLoraSpec('C:x.safetensors:-1')).toEqual({ file: 'C:x.safetensors', weight: -1 });
  });

  it('trains, exports, re-imports and samples a LoRA beside the base on a prompts file', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soar-sample-'));
    const base = join(dir, 'base');
    const run = join(dir, 'run');
    expect(await quiet(['init-base', '--preset', 'tiny', '--seed', '2', '--out', base])).toBe(0);
    expect(await quiet(['train', '--base', base, '--data', 'builtin:clean:8', '--method', 'sft', '--steps', '4', '--train_batch_size', '2', '--learning_rate', '0.05', '--out', run])).toBe(0);
    const lora = join(run, 'lora.safetensors');
    const prompts = join(dir, 'prompts.txt');
    writeFileSync(prompts, 'a red circle\n\n  a blue square  \n');
    const out = join(dir, 'grid.png');
    const strip = join(dir, 'strip.png');
    expect(await quiet(['sample', '--base', base, '--prompt', 'a green triangle', '--prompts-file', prompts, '--lora', `${lora}:0.5`, '--lora', lora, '--steps', '2', '--out', out, '--trajectory', strip])).toBe(0);
    // The trajectory strip: one row per model (4), one x̂0 per step (2).
    const s = decodePng(new Uint8Array(readFileSync(strip)));
    expect([s.width, s.height]).toEqual([2 * 32 + 3 * 2, 4 * 32 + 5 * 2]);
    const png = decodePng(new Uint8Array(readFileSync(out)));
    // 4 columns (base, LoRA ×0.5, LoRA, both) by 3 rows (prompts): tiny's 8 px images ×4, 2 px gaps.
    expect([png.width, png.height]).toEqual([4 * 32 + 5 * 2, 3 * 32 + 4 * 2]);
    // The LoRA changes the samples: its column differs from the base's (same noise, same prompt).
    const px = (col: number, row: number) => Array.from(png.rgba.slice(((2 + row * 34 + 16) * png.width + 2 + col * 34) * 4, ((2 + row * 34 + 16) * png.width + 2 + col * 34 + 32) * 4));
    expect(px(2, 0)).not.toEqual(px(0, 0));

    await expect(quiet(['sample', '--base', base, '--prompt', 'x', '--lora', join(dir, 'missing.safetensors'), '--out', out])).rejects.toThrow(/--lora .*no such file/);
    await expect(quiet(['sample', '--base', base, '--prompt', 'x', '--bogus', '3', '--out', out])).rejects.toThrow(/unknown option --bogus/);
    await expect(quiet(['sample', '--base', base, '--out', out])).rejects.toThrow(/give --prompt/);
  });
});
