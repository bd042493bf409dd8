// The bundle's two shell scripts for the reference trainer, HY-SOAR's soar/train_soar_sd3_5m.py:
//   train.sh   the command line (torchrun, as the reference README launches it), printed before it runs
//   launch.sh  what a user runs: checks the environment and the data against the run, makes `sora` importable,
//              picks the GPU count, then runs train.sh
// The scripts carry no Python of the reference: they only call it.
import type { TrainConfig } from '../train/config';
import { referenceArgs, type ArgValue } from './bundle-args';

export interface ScriptInfo {
  runName: string;
  /** Side of the exported images (= every row's bw and bh). */
  size: number;
  /** Rows of data.jsonl the reference reads (it skips rows without a caption). */
  images: number;
}

function shellValue(v: ArgValue): string {
  const s = String(v);
  return /^[A-Za-z0-9_.+/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function runSlug(runName: string): string {
  return runName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'run';
}

/**
 * train.sh: torchrun -m sora.train_soar_sd3_5m with the run's values. The command is built as a bash array so the
 * exact argv can be printed (%q, copy-pastable) before it runs; DRY_RUN=1 prints only. Extra arguments go last
 * ("$@"): argparse keeps the last value of a repeated flag, so they override.
 */
export function trainScript(cfg: TrainConfig, info: ScriptInfo): string {
  const { args } = referenceArgs(cfg, info.size);
  const soar = cfg.method === 'soar';
  const flagLines = args.map(([k, v]) => (v === null ? `  --${k}` : `  --${k} ${shellValue(v)}`));
  return [
    '#!/usr/bin/env bash',
    `# SOAR Studio export of run "${info.runName.replace(/[\r\n]+/g, ' ')}" (${soar ? 'SOAR' : 'SFT: the reference script with --lambda_aux 0'}), ${info.images} images at ${info.size}x${info.size}.`,
    '# The command line of the reference trainer, soar/train_soar_sd3_5m.py of https://github.com/Tencent-Hunyuan/HY-SOAR.',
    '# Start it with ./launch.sh (it checks the environment, makes `sora` importable and sets GPUS). This script prints',
    '# the exact command, then runs it; DRY_RUN=1 prints only. Arguments are passed on after these flags, and argparse',
    '# keeps the last value of a repeated flag: `./launch.sh --learning_rate 1e-5` overrides the one below.',
    '# Values that differ from the studio run, and why: README.md.',
    'set -euo pipefail',
    'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    'MODEL="${MODEL:-stabilityai/stable-diffusion-3.5-medium}"',
    `OUT="\${OUT:-./output/${runSlug(info.runName)}}"`,
    'GPUS="${GPUS:-1}"',
    'CMD=(',
    '  torchrun --nnodes=1 --node_rank=0 --nproc_per_node="$GPUS" --master_addr=localhost --master_port="${MASTER_PORT:-29522}"',
    '  -m sora.train_soar_sd3_5m',
    '  --pretrained_model_name_or_path "$MODEL"',
    '  --jsonl_path "$HERE/data.jsonl"',
    '  --image_dir "$HERE/images"',
    '  --output_dir "$OUT"',
    ...flagLines,
    '  "$@"',
    ')',
    "printf '%q ' \"${CMD[@]}\"",
    "printf '\\n'",
    'if [ "${DRY_RUN:-0}" = 1 ]; then exit 0; fi',
    'exec "${CMD[@]}"',
    '',
  ].join('\n');
}

/** Python run by launch.sh: imports what the reference needs (each with why), prints the CUDA GPU count. */
const ENV_CHECK = String.raw`import importlib, importlib.util, sys
if sys.version_info < (3, 10):
    sys.exit(f"launch.sh: Python {sys.version.split()[0]}; the reference needs 3.10 or newer (its setup.py)")
need = [
    ("torch", "the training itself"),
    ("torchvision", "the image transforms of its data loader"),
    ("transformers", "the three text encoders"),
    ("diffusers", "SD3Transformer2DModel, the VAE and the scheduler"),
    ("accelerate", "the Accelerator the script is written for"),
    ("deepspeed", "the script always builds a DeepSpeed ZeRO-2 plugin"),
    ("PIL", "reading images/"),
    ("sora.utils", "the reference's own modules, through the sora alias"),
]
missing = []
for name, why in need:
    try:
        m = importlib.import_module(name)
        print(f"  {name} {getattr(m, '__version__', '')}", file=sys.stderr)
    except Exception as e:
        missing.append(f"{name} ({why}): {type(e).__name__}: {e}")
if missing:
    sys.exit("launch.sh: cannot import\n  " + "\n  ".join(missing) + "\nIn the HY-SOAR checkout: pip install -e . (its setup.py pins torch, diffusers, accelerate, deepspeed).")
if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
    print("launch.sh: warning: no tensorboard; --report_to tensorboard needs it for the loss logs (pip install tensorboard)", file=sys.stderr)
import torch
n = torch.cuda.device_count()
if n and not torch.cuda.is_bf16_supported():
    print("launch.sh: warning: this GPU has no bf16; --mixed_precision bf16 will fail (pass --mixed_precision fp16)", file=sys.stderr)
print(n)`;

/** launch.sh: the checks a user would otherwise learn about from a stack trace, then train.sh. */
export function launchScript(cfg: TrainConfig, info: ScriptInfo): string {
  const batch = cfg.train_batch_size;
  return [
    '#!/usr/bin/env bash',
    '# Runs this bundle on the reference trainer (https://github.com/Tencent-Hunyuan/HY-SOAR) after checking what it',
    '# needs. From a checkout of it, with its Python environment active:',
    '#   MODEL=/path/to/stable-diffusion-3.5-medium GPUS=8 /path/to/bundle/launch.sh [more flags for the script]',
    '# HY_SOAR=/path/to/checkout if not run from there; PYTHON=... for another interpreter; DRY_RUN=1 to check and',
    '# print the command without training.',
    'set -euo pipefail',
    'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    'HY_SOAR="$(cd "${HY_SOAR:-$PWD}" && pwd)"',
    'PYTHON="${PYTHON:-python}"',
    'MODEL="${MODEL:-stabilityai/stable-diffusion-3.5-medium}"',
    `BATCH=${batch}     # --train_batch_size in train.sh`,
    `IMAGES=${info.images}  # rows of data.jsonl with a caption (the reference skips the others)`,
    'fail() { echo "launch.sh: $*" >&2; exit 1; }',
    '',
    '[ -f "$HY_SOAR/soar/train_soar_sd3_5m.py" ] || fail "no soar/train_soar_sd3_5m.py in $HY_SOAR: run this from a checkout of https://github.com/Tencent-Hunyuan/HY-SOAR, or set HY_SOAR"',
    'command -v "$PYTHON" >/dev/null || fail "no $PYTHON: activate the reference\'s environment (conda activate hy-soar in its README), or set PYTHON"',
    'command -v torchrun >/dev/null || fail "no torchrun on PATH: it comes with PyTorch; activate the reference\'s environment"',
    '',
    '# The import path. The reference\'s modules import each other as `sora.*` (sora.utils.data, ...) while the folder in',
    '# its checkout is `soar/`, so `python -m sora.train_soar_sd3_5m` fails with "No module named \'sora\'". A `sora`',
    '# symlink to that folder, in a folder of this bundle put first on PYTHONPATH, makes the name resolve without',
    '# changing the checkout. Not needed where the checkout has a sora/ of its own.',
    'if [ -d "$HY_SOAR/sora" ]; then SHIM="$HY_SOAR"; else SHIM="$HERE/.pyshim"; mkdir -p "$SHIM"; ln -sfn "$HY_SOAR/soar" "$SHIM/sora"; fi',
    'export PYTHONPATH="$SHIM:$HY_SOAR${PYTHONPATH:+:$PYTHONPATH}"',
    '',
    '# The base model: a diffusers folder (one subfolder per part, as the script loads them), or a Hub id.',
    'HUB_ID=\'^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$\'',
    'if [ -d "$MODEL" ]; then',
    '  for part in transformer vae scheduler text_encoder text_encoder_2 text_encoder_3 tokenizer tokenizer_2 tokenizer_3; do',
    '    [ -d "$MODEL/$part" ] || fail "MODEL=$MODEL has no $part/: the script loads SD3.5-Medium in the diffusers layout"',
    '  done',
    'elif [[ "$MODEL" =~ $HUB_ID ]]; then',
    '  echo "launch.sh: MODEL=$MODEL is no folder here: it is fetched from the Hugging Face Hub (accept its licence there, then huggingface-cli login)" >&2',
    'else',
    '  fail "MODEL=$MODEL: no such folder"',
    'fi',
    '',
    '# Python packages, and the GPUs torch sees.',
    'echo "launch.sh: checking the Python environment ($PYTHON)" >&2',
    `GPU_COUNT="$("$PYTHON" - <<'PY'`,
    ENV_CHECK,
    'PY',
    ')" || exit 1',
    'GPU_COUNT="$(printf \'%s\' "$GPU_COUNT" | tail -n 1)"',
    '[ "$GPU_COUNT" -ge 1 ] 2>/dev/null || fail "torch sees no CUDA GPU: the reference trains on CUDA with DeepSpeed"',
    'GPUS="${GPUS:-$GPU_COUNT}"',
    '[ "$GPUS" -ge 1 ] 2>/dev/null && [ "$GPUS" -le "$GPU_COUNT" ] || fail "GPUS=$GPUS, but torch sees $GPU_COUNT GPU(s)"',
    '',
    '# The reference gives each GPU images // (batch x GPUs) batches per epoch and divides by that count: with fewer',
    '# images than batch x GPUs it fails with a ZeroDivisionError before the first step.',
    'NEED=$(( BATCH * GPUS ))',
    '[ "$IMAGES" -ge "$NEED" ] || fail "$IMAGES images, but $GPUS GPU(s) x batch $BATCH need at least $NEED: use GPUS=$(( IMAGES / BATCH )) or fewer"',
    '',
    '# DeepSpeed ZeRO-2, as the reference README sets it (ACCELERATE_DEEPSPEED_CONFIG_FILE is passed on if set).',
    'export ACCELERATE_USE_DEEPSPEED=true ACCELERATE_DEEPSPEED_ZERO_STAGE=2',
    'echo "launch.sh: $GPUS GPU(s), $IMAGES images, batch $BATCH per GPU: $(( IMAGES / NEED )) steps per epoch" >&2',
    'export MODEL GPUS',
    'exec bash "$HERE/train.sh" "$@"',
    '',
  ].join('\n');
}
