// `train --resume` of Flow-GRPO stopped in the middle of a sampling round (several updates per round): the round
// file beside the checkpoint samples the round again, so the resumed run's steps are the uninterrupted run's.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../src/cli/main';
import { getEngine } from '../tensor/harness';

const quiet = async ([command, ...argv]: string[]): Promise<number> => {
  const log = console.log;
  const write = process.stderr.write.bind(process.stderr);
  console.log = () => undefined;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return await runCommand(await getEngine(), command, argv);
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
};

// 2 micro-batches per round, 2 passes: 4 updates per round. The random base moves little per update: a clip
// range of 1e-6 so the clip acts on the round's later updates all the same.
const GRPO = ['--train_clip_range', '1e-6', '--method', 'grpo', '--reward_fn', 'redness', '--train_batch_size', '2', '--sample_num_image_per_prompt', '3', '--sample_num_steps', '3', '--sample_sde_window_size', '1', '--sample_sde_window_range', '0,3', '--sample_guidance_scale', '1', '--train_cfg', 'false', '--learning_rate', '0.02', '--sample_num_batches_per_epoch', '2', '--train_num_inner_epochs', '2'];

describe('train --resume in a sampling round', () => {
  it('continues with exactly the steps of the run that did not stop', { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soar-grpo-'));
    const base = join(dir, 'base');
    expect(await quiet(['init-base', '--preset', 'tiny', '--seed', '2', '--out', base])).toBe(0);
    const history = (run: string) => (JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as { history: Array<Record<string, number>> }).history.map((h) => [h.step, h.loss, h.reward_mean, h.approx_kl, h.clipfrac]);
    const straight = join(dir, 'straight');
    expect(await quiet(['train', '--base', base, '--data', 'builtin:clean:8', ...GRPO, '--steps', '4', '--out', straight])).toBe(0);
    // Step 4 ends the round: nothing to keep beside the checkpoint.
    expect(existsSync(join(straight, 'checkpoint.round.safetensors'))).toBe(false);
    const stopped = join(dir, 'stopped');
    expect(await quiet(['train', '--base', base, '--data', 'builtin:clean:8', ...GRPO, '--steps', '2', '--out', stopped])).toBe(0);
    expect(existsSync(join(stopped, 'checkpoint.round.safetensors'))).toBe(true);
    expect(await quiet(['train', '--base', base, '--data', 'builtin:clean:8', ...GRPO, '--steps', '4', '--resume', '--out', stopped])).toBe(0);
    expect(history(stopped)).toEqual(history(straight));
    // The round's later updates are off policy: the ratio departs from 1 and the clip holds some samples.
    const h = history(straight);
    expect(h[0].slice(3)).toEqual([0, 0]);
    for (const later of h.slice(1)) expect(later[4]).toBeGreaterThan(0);
    expect(existsSync(join(stopped, 'checkpoint.round.safetensors'))).toBe(false);
  });
});
