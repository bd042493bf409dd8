// README.md of the reference-trainer bundle: what is in it, what to install, how to run it, what the run makes
// and how it comes back to the studio, and every value that does not carry over from the studio run, with why.
// Plain facts about this export; written here rather than in a template so the numbers are the run's.
import type { TrainConfig } from '../train/config';
import { referenceArgs, referenceCheckpointSteps, REFERENCE_DATALOADER_WORKERS } from './bundle-args';
import { runSlug } from './bundle-scripts';

export interface ReadmeInfo {
  runName: string;
  datasetName: string;
  /** Rows in data.jsonl; `uncaptioned` images were left out (the reference skips rows without a caption). */
  images: number;
  uncaptioned: number;
  /** The studio's training resolution, and the side of the exported files (= bw = bh). */
  studioResolution: number;
  size: number;
  /** True for the built-in dataset: drawn at the studio resolution, there are no other originals. */
  builtin: boolean;
  /** The GPU count the export was checked for. */
  gpus: number;
}

function imagesSection(i: ReadmeInfo): string[] {
  const r = `${i.studioResolution}×${i.studioResolution}`;
  const s = `${i.size}×${i.size}`;
  const how = i.size > i.studioResolution ? `upscaled to ${s} (bilinear)` : i.size < i.studioResolution ? `downscaled to ${s} (bilinear)` : 'as they are';
  const lines = [
    '## The images',
    '',
    i.builtin
      ? `The built-in dataset is drawn at ${r}; there are no larger originals. images/ holds those drawings ${how}.`
      : `The studio keeps its training images only at its model resolution (${r}), not the files they came from, so ` +
        `images/ holds those ${r} images ${how}: the reference trains on what the studio trained on, with no more ` +
        `detail than that. For a real run, copy each original file over images/<md5>.jpg (sources.jsonl maps each md5 ` +
        `to its original path and size; the reference opens the file by that name, reads any format PIL reads, and ` +
        `resizes and crops it to the row's bw×bh) and leave data.jsonl as it is.`,
    '',
    `Every row of data.jsonl has bw = bh = ${i.size}, the size of its file. The reference sizes each image by its ` +
      `row's bw×bh and does not use --resolution (train.sh passes ${i.size} for the record).`,
  ];
  if (i.uncaptioned > 0) lines.push('', `${i.uncaptioned} image(s) without a caption are not in data.jsonl: the reference skips such rows.`);
  return lines;
}

export function bundleReadme(cfg: TrainConfig, i: ReadmeInfo): string {
  const { translated } = referenceArgs(cfg, i.size);
  const B = cfg.train_batch_size;
  const A = cfg.gradient_accumulation_steps;
  const slug = runSlug(i.runName);
  const soar = cfg.method === 'soar';
  const row = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [
    `# ${i.runName}: bundle for the reference trainer`,
    '',
    `The studio run "${i.runName}" (${soar ? 'SOAR' : 'SFT'}, dataset ${i.datasetName}) for soar/train_soar_sd3_5m.py of ` +
      `HY-SOAR (https://github.com/Tencent-Hunyuan/HY-SOAR), which fine-tunes Stable Diffusion 3.5 Medium on GPUs` +
      `${soar ? '' : ' (SFT is that script with --lambda_aux 0)'}.`,
    '',
    '## Files',
    '',
    '- `data.jsonl`: one row per image, `{"md5", "caption_en", "bw", "bh"}`, the reference\'s data format.',
    `- \`images/<md5>.jpg\`: the ${i.images} images, ${i.size}×${i.size} JPEG, named by the MD5 of the file.`,
    '- `sources.jsonl`: each image\'s original file in the studio, `{"md5", "path", "width", "height"}`.',
    '- `launch.sh`: checks the environment and the data, then runs `train.sh`, the command line.',
    '- `studio_config.json`: the studio run\'s whole config (LoRA fields included), the values it trained with.',
    '',
    ...imagesSection(i),
    '',
    '## Requirements',
    '',
    '- A checkout of HY-SOAR and its environment (its README: Python 3.10, torch 2.6.0, then `pip install -e .`, which ' +
      'installs the versions its setup.py pins of diffusers, transformers, accelerate and DeepSpeed).',
    '- DeepSpeed: required. The script always builds a DeepSpeed ZeRO-2 plugin, on one GPU too.',
    '- tensorboard, for the loss logs (`--report_to tensorboard`).',
    '- CUDA GPUs with bf16 (`--mixed_precision bf16`). The reference README trains on 8.',
    '- SD3.5-Medium in the diffusers layout: a local folder, or `stabilityai/stable-diffusion-3.5-medium` from the ' +
      'Hugging Face Hub after accepting its licence there and `huggingface-cli login`.',
    '',
    '## Run',
    '',
    '    cd HY-SOAR',
    `    MODEL=/path/to/stable-diffusion-3.5-medium GPUS=8 OUT=./output/${slug} /path/to/this/bundle/launch.sh`,
    '',
    '`launch.sh` checks that Python, torch, torchvision, transformers, diffusers, accelerate, DeepSpeed and the ' +
      'reference\'s modules import, that the model folder has its parts, how many GPUs torch sees (GPUS defaults to ' +
      'all of them) and that there are enough images for them; it makes the reference\'s `sora.*` imports resolve ' +
      '(its folder is `soar/`: see the comment in launch.sh), then `train.sh` prints the exact command and runs it. ' +
      '`DRY_RUN=1` checks and prints without training; more flags after `launch.sh` override those in `train.sh`.',
    '',
    `The reference needs at least train_batch_size × GPUs images (it divides by the batches per epoch, which is 0 ` +
      `with fewer). This bundle: ${i.images} images at batch ${B}, so at most ${Math.floor(i.images / B)} GPU(s); ` +
      `the export was checked for ${i.gpus}.`,
    '',
    '## What differs from the studio run',
    '',
    row(['flag', 'studio', 'here', 'why']),
    row(['---', '---', '---', '---']),
    ...translated.map((t) => row([`--${t.flag}`, t.studio, t.reference, t.why])),
    '',
    `- No LoRA: the reference trains every transformer weight. The run's rank ${cfg.rank}, lora_alpha ${cfg.lora_alpha} ` +
      `and lora_targets (${cfg.lora_targets.length} modules) have no flag there; they are in studio_config.json.`,
    `- The same number of steps; a step's batch is ${B} per GPU × GPUs × ${A} accumulation (the studio's was ${B} × ${A}).`,
    `- The noise schedule is SD3.5-Medium's own (shift 3.0); the studio run used shift ${cfg.shift}.`,
    `- From the reference README's command, for the GPU run: --mixed_precision bf16, --gradient_checkpointing, ` +
      `--allow_tf32, --dataloader_num_workers ${REFERENCE_DATALOADER_WORKERS}.`,
    '',
    '## What the run makes',
    '',
    `- \`$OUT/transformer/\`: the whole fine-tuned SD3.5-Medium transformer (diffusers \`save_pretrained\`: ` +
      '`config.json` and `diffusion_pytorch_model.safetensors`, gigabytes), not a LoRA.',
    `- \`$OUT/checkpoint-<step>/transformer/\` every ${referenceCheckpointSteps(cfg)} steps: the weights at that step (no optimizer state).`,
    '- `$OUT/logs/`: the tensorboard logs (loss, loss_main, loss_aux, lr).',
    '',
    '## Back into the studio',
    '',
    'The studio trains LoRAs; it turns the fine-tune into one (a truncated SVD of each module\'s difference from ' +
      'the base, reporting how much of it each module keeps): in the studio, Files → "A full fine-tune as a LoRA" ' +
      '(pick `$OUT/transformer/`, sharded or not), or on the command line:',
    '',
    `    npm run soar -- extract-lora --base "$MODEL" --tuned $OUT/transformer --rank 8 --out lora.safetensors`,
    '',
    'then "Import a LoRA…" in the studio\'s Files panel (`lora.extraction.json` has the energy kept per module). ' +
      '`--base` (the SD3.5-Medium folder the run started from, or its `transformer/`; in the studio, the loaded base) ' +
      'must hold the same transformer the run started from: the difference is taken against it, and the LoRA applies ' +
      'to that base only, not to the studio\'s small built-in one. Both are read one tensor at a time, so their size ' +
      '(~5 GB each) is no obstacle.',
    '',
  ].join('\n');
}
