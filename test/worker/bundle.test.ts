// The reference-trainer bundle: a real zip (fflate) with data.jsonl rows {md5, caption_en, bw, bh} whose md5 is
// the MD5 of each JPEG file, the JPEGs themselves, train.sh with the reference's flag names, the studio config.
import { unzipSync } from 'fflate';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createJsImageDecoder } from '../../src/data/ingest';
import { DEFAULT_TRAIN } from '../../src/train/config';
import { buildBundle, dataJsonl, trainScript } from '../../src/worker/bundle';
import { StudioDataset } from '../../src/worker/dataset';
import { jpegJsEncoder } from '../../src/worker/images';

describe('reference bundle', () => {
  it('zips data.jsonl, images/<md5>.jpg, train.sh and the config; captions include edits', async () => {
    const ds = StudioDataset.builtin('clean', 5, 16);
    ds.setCaption(ds.id(1), '  an edited   caption ');
    const cfg = { ...DEFAULT_TRAIN, method: 'soar' as const, max_train_steps: 300, learning_rate: 2e-4 };
    const { zip, rows } = await buildBundle(ds, cfg, 'My SOAR run', jpegJsEncoder());
    const files = unzipSync(zip);
    const names = Object.keys(files).sort();
    expect(names.filter((n) => !n.startsWith('images/'))).toEqual(['data.jsonl', 'studio_config.json', 'train.sh']);
    const lines = new TextDecoder().decode(files['data.jsonl']).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5);
    expect(lines).toEqual(rows);
    expect(Object.keys(lines[0])).toEqual(['md5', 'caption_en', 'bw', 'bh']);
    expect(lines[1].caption_en).toBe('an edited caption');
    expect(lines[0].caption_en).toBe(ds.caption(0));
    const decoder = createJsImageDecoder();
    for (const row of lines) {
      expect(row).toMatchObject({ bw: 16, bh: 16 });
      const jpeg = files[`images/${row.md5}.jpg`];
      expect(jpeg, row.md5).toBeDefined();
      expect(createHash('md5').update(jpeg).digest('hex')).toBe(row.md5);
      expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]); // a JPEG
      const img = await decoder.decode(jpeg, 'image/jpeg');
      expect([img.width, img.height]).toEqual([16, 16]);
    }
    // The decoded JPEG is close to the training image (quality 95).
    const img0 = await decoder.decode(files[`images/${lines[0].md5}.jpg`], 'image/jpeg');
    const train = ds.image(0);
    let err = 0;
    for (let p = 0; p < 256; p++) for (let c = 0; c < 3; c++) err = Math.max(err, Math.abs(img0.rgba[4 * p + c] - ((train[c * 256 + p] + 1) / 2) * 255));
    expect(err).toBeLessThan(48);
    const config = JSON.parse(new TextDecoder().decode(files['studio_config.json']));
    expect(config.config).toEqual(cfg);
  });

  it('train.sh is the reference command line with the run\'s values under the same names', () => {
    const cfg = { ...DEFAULT_TRAIN, method: 'soar' as const, learning_rate: 2e-5, adam_weight_decay: 0.01, trajectory_length: 6, lambda_aux: 1, cfg_scale_sampling: 4.5 };
    const sh = trainScript(cfg, { runName: 'SOAR (aesthetic)', resolution: 32, images: 10 });
    expect(sh.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(sh).toContain('accelerate launch soar/train_soar_sd3_5m.py \\');
    const flags = Object.fromEntries([...sh.matchAll(/^ {2}--(\w+) (.+?)(?: \\)?$/gm)].map((m) => [m[1], m[2]]));
    expect(flags).toMatchObject({
      pretrained_model_name_or_path: '"$MODEL"',
      jsonl_path: '"$HERE/data.jsonl"',
      image_dir: '"$HERE/images"',
      output_dir: '"$OUT"',
      resolution: '32',
      train_batch_size: String(cfg.train_batch_size),
      gradient_accumulation_steps: '1',
      max_train_steps: String(cfg.max_train_steps),
      checkpointing_steps: String(cfg.checkpointing_steps),
      seed: '42',
      learning_rate: '0.00002',
      lr_scheduler: 'constant',
      lr_warmup_steps: '0',
      adam_weight_decay: '0.01',
      max_grad_norm: '1',
      weighting_scheme: 'logit_normal',
      mixed_precision: 'bf16',
      num_rollout_paths: '1',
      trajectory_length: '6',
      num_sampling_steps: String(cfg.num_sampling_steps),
      sde_rollout_type: 'flow_sde',
      sde_noise_scale: '0.5',
      lambda_aux: '1',
      cfg_scale_sampling: '4.5',
    });
    // Flags beyond the README command appear only when changed from the defaults.
    expect(flags.logit_std).toBeUndefined();
    expect(trainScript({ ...cfg, logit_std: 1.5 }, { runName: 'x', resolution: 32, images: 1 })).toContain('  --logit_std 1.5 \\');
    expect(sh).toContain('OUT="${OUT:-./output/soar-aesthetic}"');
    expect(sh.trimEnd().endsWith('"$@"')).toBe(true);
    // SFT is the same script with the aux loss off (soar-spec §3).
    const sft = trainScript({ ...cfg, method: 'sft' }, { runName: 'sft', resolution: 32, images: 1 });
    expect(sft).toContain('  --lambda_aux 0 \\');
    expect(dataJsonl([{ md5: 'ab', caption_en: 'say "hi"', bw: 32, bh: 32 }])).toBe('{"md5":"ab","caption_en":"say \\"hi\\"","bw":32,"bh":32}\n');
  });
});
