// The export bundle for the reference PyTorch trainer (HY-SOAR's soar/train_soar_sd3_5m.py,
// github.com/Tencent-Hunyuan/HY-SOAR), for a run that outgrows one browser: a zip of
//   data.jsonl          one {"md5", "caption_en", "bw", "bh"} per captioned image: the reference's data format; its
//                       loader sizes each image by its row's bw×bh (not --resolution), so these are the file's size
//   images/<md5>.jpg    the images at the size picked (default 512, SD3.5-Medium's), JPEG, named by their MD5
//   sources.jsonl       each image's original file (path, size), for swapping the originals in: the studio keeps
//                       only its model-resolution copies, which are what images/ is made from
//   train.sh, launch.sh the command line, and the checks that run before it (bundle-scripts.ts)
//   README.md           requirements, how to run, what does not carry over and why, how to come back (bundle-readme.ts)
//   studio_config.json  the studio's whole TrainConfig (LoRA fields included) for the record
// Everything the reference would reject or fail on later is refused here, with the reason (BundleError).
import { zipSync, type Zippable } from 'fflate';
import type { TrainConfig } from '../train/config';
import { BundleError, referenceArgs } from './bundle-args';
import { bundleReadme } from './bundle-readme';
import { launchScript, trainScript } from './bundle-scripts';
import type { StudioDataset } from './dataset';
import { chwToRgbaBytes, type ImageEncoder } from './images';
import { md5 } from './md5';
import { resizeChw } from './resize';

export { BundleError } from './bundle-args';
export { trainScript, launchScript } from './bundle-scripts';

export interface BundleRow {
  md5: string;
  caption_en: string;
  bw: number;
  bh: number;
}

export interface BundleOptions {
  /** Side of the exported square images in px (every row's bw = bh). */
  size?: number;
  /** GPUs the run is meant for: a dataset smaller than batch × GPUs is refused. */
  gpus?: number;
  onProgress?: (done: number, total: number) => void;
}

/** SD3.5-Medium's training size in the reference README (its results are at 512×512). */
export const DEFAULT_BUNDLE_SIZE = 512;
/** SD3's VAE downsamples 8× and its transformer patches 2×2 latents: a side must be a multiple of 16. */
export const BUNDLE_SIZE_STEP = 16;
export const BUNDLE_SIZE_MIN = 64;
export const BUNDLE_SIZE_MAX = 2048;

export function dataJsonl(rows: readonly BundleRow[]): string {
  return rows.map((r) => JSON.stringify({ md5: r.md5, caption_en: r.caption_en, bw: r.bw, bh: r.bh })).join('\n') + (rows.length ? '\n' : '');
}

/**
 * Refuses what the reference cannot run: a method it lacks (referenceArgs), a size its model cannot take, and fewer
 * captioned images than batch × GPUs (its batches per epoch are then 0, and it divides by that before the first step).
 */
export function checkBundle(cfg: TrainConfig, captioned: number, size: number, gpus: number): void {
  referenceArgs(cfg, size);
  if (!Number.isInteger(size) || size < BUNDLE_SIZE_MIN || size > BUNDLE_SIZE_MAX || size % BUNDLE_SIZE_STEP !== 0) {
    throw new BundleError(`the image size ${size} does not fit SD3.5-Medium`, `Pick a multiple of ${BUNDLE_SIZE_STEP} from ${BUNDLE_SIZE_MIN} to ${BUNDLE_SIZE_MAX} (the reference trains at ${DEFAULT_BUNDLE_SIZE}).`);
  }
  if (!Number.isInteger(gpus) || gpus < 1) throw new BundleError(`a GPU count must be a whole number ≥ 1, got ${gpus}`, 'Pick how many GPUs the run will use (1 or more).');
  const need = cfg.train_batch_size * gpus;
  if (captioned < need) {
    throw new BundleError(
      `the reference trainer needs at least ${need} captioned images (train_batch_size ${cfg.train_batch_size} × ${gpus} GPU(s)); this dataset has ${captioned}: with fewer, an epoch has no batch and the script divides by zero before its first step`,
      `Add images, or export a run with train_batch_size ≤ ${Math.max(1, Math.floor(captioned / gpus))}${gpus > 1 ? `, or for fewer GPUs (at most ${Math.floor(captioned / cfg.train_batch_size)})` : ''}.`,
    );
  }
}

/** Original path and size of image i: the file it was ingested from, or the built-in drawing. */
function source(dataset: StudioDataset, i: number): { path: string; width: number; height: number } {
  const s = dataset.stored;
  if (s.kind === 'files') return { path: s.paths[i], width: s.sizes[2 * i], height: s.sizes[2 * i + 1] };
  return { path: dataset.path(i), width: dataset.resolution, height: dataset.resolution };
}

export interface BundleResult {
  zip: Uint8Array;
  rows: BundleRow[];
  script: string;
}

/** Resizes and encodes every captioned image, names it by its MD5, and zips the bundle. Throws BundleError first. */
export async function buildBundle(dataset: StudioDataset, cfg: TrainConfig, runName: string, encode: ImageEncoder, options: BundleOptions = {}): Promise<BundleResult> {
  const { size = DEFAULT_BUNDLE_SIZE, gpus = 1, onProgress } = options;
  const keep = Array.from({ length: dataset.size }, (_, i) => i).filter((i) => dataset.caption(i) !== '');
  checkBundle(cfg, keep.length, size, gpus);
  const r = dataset.resolution;
  const files: Zippable = {};
  const rows: BundleRow[] = [];
  const sources: string[] = [];
  for (const [n, i] of keep.entries()) {
    const image = resizeChw(dataset.image(i), r, size);
    const jpeg = await encode(chwToRgbaBytes(image, { width: size, height: size }), size, size);
    const hash = md5(jpeg);
    files[`images/${hash}.jpg`] = [jpeg, { level: 0 }]; // already compressed
    rows.push({ md5: hash, caption_en: dataset.caption(i), bw: size, bh: size });
    sources.push(JSON.stringify({ md5: hash, ...source(dataset, i) }));
    onProgress?.(n + 1, keep.length);
  }
  const info = { runName, size, images: rows.length };
  const script = trainScript(cfg, info);
  const readme = bundleReadme(cfg, { ...info, datasetName: dataset.name, uncaptioned: dataset.size - keep.length, studioResolution: r, builtin: dataset.stored.kind === 'builtin', gpus });
  const text = (s: string) => new TextEncoder().encode(s);
  const executable = { os: 3, attrs: 0o755 << 16 }; // unix, rwxr-xr-x
  files['data.jsonl'] = text(dataJsonl(rows));
  files['sources.jsonl'] = text(sources.join('\n') + '\n');
  files['train.sh'] = [text(script), executable];
  files['launch.sh'] = [text(launchScript(cfg, info)), executable];
  files['README.md'] = text(readme);
  files['studio_config.json'] = text(JSON.stringify({ run: runName, dataset: dataset.name, config: cfg }, null, 2) + '\n');
  return { zip: zipSync(files), rows, script };
}
