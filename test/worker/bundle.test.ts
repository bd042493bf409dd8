// The reference-trainer bundle (src/worker/bundle.ts): a real zip (fflate) whose data.jsonl rows {md5, caption_en,
// bw, bh} name JPEGs by their MD5 with bw/bh the files' size (the reference sizes images by them), at the size
// picked; what the studio cannot give (originals, a run the reference lacks, too few images) is said or refused.
// The flags themselves are checked against the reference's argparse in bundle-reference.test.ts.
import { unzipSync } from 'fflate';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createJsImageDecoder } from '../../src/data/ingest';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { buildBundle, BundleError, checkBundle, dataJsonl, DEFAULT_BUNDLE_SIZE } from '../../src/worker/bundle';
import { referenceArgs, referenceCheckpointSteps } from '../../src/worker/bundle-args';
import { StudioDataset } from '../../src/worker/dataset';
import { jpegJsEncoder } from '../../src/worker/images';
import type { StoredDataset } from '../../src/worker/persistence';
import { resizeChw } from '../../src/worker/resize';

const SOAR: TrainConfig = { ...DEFAULT_TRAIN, method: 'soar', train_batch_size: 2 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const jsonl = (b: Uint8Array) => text(b).trim().split('\n').map((l) => JSON.parse(l));

/** An ingested-folder dataset of n images at 8×8 (constant grey levels), `blank` of them without a caption. */
function filesDataset(n: number, blank: number[] = []): StudioDataset {
  const r = 8;
  const images = new Float32Array(n * 3 * r * r);
  for (let i = 0; i < n; i++) images.fill(-0.5 + i / n, i * 3 * r * r, (i + 1) * 3 * r * r);
  const stored: StoredDataset = {
    kind: 'files',
    name: 'photos',
    format: 'captions',
    resolution: r,
    ids: Array.from({ length: n }, (_, i) => `id${i}`),
    paths: Array.from({ length: n }, (_, i) => `photos/${i}.png`),
    captions: Array.from({ length: n }, (_, i) => (blank.includes(i) ? '' : `photo ${i}`)),
    rawCaptions: Array.from({ length: n }, () => ''),
    sizes: Int32Array.from({ length: 2 * n }, (_, k) => (k % 2 ? 600 + k : 800 + k)),
    images,
    report: { format: 'captions', formatReason: '', decoder: 'js', resolution: { width: r, height: r }, taken: [], skipped: [], warnings: [] },
  };
  return StudioDataset.fromStored(stored, {});
}

describe('reference bundle', () => {
  it('zips data.jsonl, images/<md5>.jpg at the size picked, sources, scripts, README and config; captions include edits', async () => {
    const ds = StudioDataset.builtin('clean', 5, 16);
    ds.setCaption(ds.id(1), '  an edited   caption ');
    const cfg = { ...SOAR, max_train_steps: 300, learning_rate: 2e-4 };
    const { zip, rows } = await buildBundle(ds, cfg, 'My SOAR run', jpegJsEncoder(), { size: 64 });
    const files = unzipSync(zip);
    const names = Object.keys(files).sort();
    expect(names.filter((n) => !n.startsWith('images/'))).toEqual(['README.md', 'data.jsonl', 'launch.sh', 'sources.jsonl', 'studio_config.json', 'train.sh']);
    const lines = jsonl(files['data.jsonl']);
    expect(lines).toHaveLength(5);
    expect(lines).toEqual(rows);
    expect(Object.keys(lines[0])).toEqual(['md5', 'caption_en', 'bw', 'bh']);
    expect(lines[1].caption_en).toBe('an edited caption');
    expect(lines[0].caption_en).toBe(ds.caption(0));
    const decoder = createJsImageDecoder();
    for (const row of lines) {
      expect(row).toMatchObject({ bw: 64, bh: 64 });
      const jpeg = files[`images/${row.md5}.jpg`];
      expect(jpeg, row.md5).toBeDefined();
      expect(createHash('md5').update(jpeg).digest('hex')).toBe(row.md5);
      expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]); // a JPEG
      const img = await decoder.decode(jpeg, 'image/jpeg');
      expect([img.width, img.height]).toEqual([row.bw, row.bh]); // bw/bh are the file's own size
    }
    // The decoded JPEG is close to the training image, upscaled 4× (quality 95).
    const img0 = await decoder.decode(files[`images/${lines[0].md5}.jpg`], 'image/jpeg');
    const big = resizeChw(ds.image(0), 16, 64);
    let err = 0;
    for (let p = 0; p < 64 * 64; p++) for (let c = 0; c < 3; c++) err = Math.max(err, Math.abs(img0.rgba[4 * p + c] - ((big[c * 4096 + p] + 1) / 2) * 255));
    expect(err).toBeLessThan(48);
    expect(jsonl(files['sources.jsonl'])[0]).toEqual({ md5: lines[0].md5, path: 'clean/00000.png', width: 16, height: 16 });
    expect(JSON.parse(text(files['studio_config.json'])).config).toEqual(cfg); // the studio's own values, untranslated
    const readme = text(files['README.md']);
    expect(readme).toContain('The built-in dataset is drawn at 16×16');
    expect(readme).toContain('| --learning_rate | 0.0002 | 0.00002 |');
  });

  it('exports at 512 by default and says plainly that the images are the studio copies, with where the originals were', async () => {
    const ds = filesDataset(3, [1]);
    const { zip, rows } = await buildBundle(ds, { ...SOAR, train_batch_size: 1 }, 'photos run', jpegJsEncoder());
    expect(DEFAULT_BUNDLE_SIZE).toBe(512);
    const files = unzipSync(zip);
    expect(rows.map((r) => [r.caption_en, r.bw, r.bh])).toEqual([['photo 0', 512, 512], ['photo 2', 512, 512]]); // no caption: left out
    const img = await createJsImageDecoder().decode(files[`images/${rows[1].md5}.jpg`], 'image/jpeg');
    expect([img.width, img.height]).toEqual([512, 512]);
    expect(jsonl(files['sources.jsonl'])).toEqual([
      { md5: rows[0].md5, path: 'photos/0.png', width: 800, height: 601 },
      { md5: rows[1].md5, path: 'photos/2.png', width: 804, height: 605 },
    ]);
    const readme = text(files['README.md']);
    expect(readme).toContain('The studio keeps its training images only at its model resolution (8×8), not the files they came from');
    expect(readme).toContain('upscaled to 512×512');
    expect(readme).toContain('1 image(s) without a caption are not in data.jsonl');
    expect(text(files['launch.sh'])).toContain('IMAGES=2 ');
  });

  it('refuses what the reference cannot run, saying why and what to change', async () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(BundleError);
        return e as BundleError;
      }
      throw new Error('not refused');
    };
    // Fewer images than batch × GPUs: the reference's epoch would have 0 batches (ZeroDivisionError).
    const few = refusal(() => checkBundle({ ...SOAR, train_batch_size: 4 }, 10, 512, 3));
    expect(few.message).toContain('at least 12 captioned images (train_batch_size 4 × 3 GPU(s)); this dataset has 10');
    expect(few.advice).toContain('train_batch_size ≤ 3, or for fewer GPUs (at most 2)');
    expect(() => checkBundle({ ...SOAR, train_batch_size: 4 }, 12, 512, 3)).not.toThrow();
    await expect(buildBundle(filesDataset(3, [0, 1]), SOAR, 'x', jpegJsEncoder())).rejects.toThrow(/at least 2 captioned images .* has 1/);
    // Sizes SD3.5 cannot take (VAE 8× × patch 2).
    expect(refusal(() => checkBundle(SOAR, 10, 500, 1)).advice).toContain('multiple of 16');
    expect(() => checkBundle(SOAR, 10, 32, 1)).toThrow(BundleError);
    expect(() => checkBundle(SOAR, 10, 1024, 0)).toThrow(BundleError);
    // A method the reference script lacks.
    expect(refusal(() => checkBundle({ ...SOAR, method: 'grpo' }, 10, 512, 1)).message).toContain('train_soar_sd3_5m.py trains SOAR (and SFT, with --lambda_aux 0) only');
  });

  it('translates what does not carry over: learning rate, checkpoint interval, uniform weighting', () => {
    const a = referenceArgs({ ...SOAR, learning_rate: 1e-3, max_train_steps: 200, checkpointing_steps: 50 }, 512);
    const args = Object.fromEntries(a.args);
    expect(args.learning_rate).toBe(2e-5); // the reference README's full fine-tuning rate
    expect(args.checkpointing_steps).toBe(50);
    expect(a.translated.map((t) => t.flag)).toEqual(['learning_rate']);
    // Each reference checkpoint is a whole transformer: at most about five per run, at most 1000 apart.
    expect(referenceCheckpointSteps({ ...SOAR, max_train_steps: 5000, checkpointing_steps: 50 })).toBe(1000);
    expect(referenceCheckpointSteps({ ...SOAR, max_train_steps: 2000, checkpointing_steps: 50 })).toBe(400);
    expect(referenceCheckpointSteps({ ...SOAR, max_train_steps: 2000, checkpointing_steps: 700 })).toBe(700);
    expect(referenceCheckpointSteps({ ...SOAR, max_train_steps: 50000, checkpointing_steps: 5000 })).toBe(1000);
    // uniform → mode at scale 0: diffusers' "mode" draws 1 − u then, with a loss weight of 1.
    const u = referenceArgs({ ...SOAR, weighting_scheme: 'uniform', logit_std: 2 }, 512);
    expect(u.args.filter(([k]) => /weighting|mode_scale|logit/.test(k))).toEqual([['weighting_scheme', 'mode'], ['mode_scale', 0]]);
    expect(u.translated.find((t) => t.flag === 'weighting_scheme')).toMatchObject({ studio: 'uniform', reference: 'mode --mode_scale 0' });
    // SFT is the same script with the aux loss off.
    expect(Object.fromEntries(referenceArgs({ ...SOAR, method: 'sft' }, 512).args).lambda_aux).toBe(0);
  });

  it('resizes bilinearly with aligned pixel centres', () => {
    const flat = new Float32Array(3 * 4).fill(0.25);
    expect([...resizeChw(flat, 2, 5)].every((v) => Math.abs(v - 0.25) < 1e-7)).toBe(true);
    // One channel [[0, 1], [2, 3]] to 4×4: centres at -0.25, 0.25, 0.75, 1.25 of the source, clamped.
    const up = resizeChw(Float32Array.from([0, 1, 2, 3]), 2, 4);
    expect([...up.subarray(0, 4)]).toEqual([0, 0.25, 0.75, 1]);
    expect([...up.subarray(4, 8)]).toEqual([0.5, 0.75, 1.25, 1.5]);
    expect([...resizeChw(Float32Array.from([1, 2, 3, 4]), 2, 2)]).toEqual([1, 2, 3, 4]);
    expect(() => resizeChw(new Float32Array(5), 2, 4)).toThrow(RangeError);
    expect(dataJsonl([{ md5: 'ab', caption_en: 'say "hi"', bw: 32, bh: 32 }])).toBe('{"md5":"ab","caption_en":"say \\"hi\\"","bw":32,"bh":32}\n');
  });
});
