// `train --resume` of Flow-GRPO stopped in the middle of a sampling round (several updates per round): the
// checkpoint file holds the round (the LoRA that sampled it, where it began) and the resume samples it again, so
// the resumed run's steps are the uninterrupted run's. A checkpoint at a round's end holds no round.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quietCommand as quiet } from './quiet';
import { readSafetensors } from '../../src/codec/safetensors';
import { checkpointFromBytes } from '../../src/io/checkpoint-file';


// 2 micro-batches per round, 2 passes: 4 updates per round. The random base moves little per update: a clip
// range of 1e-6 so the clip acts on the round's later updates all the same.
const GRPO = ['--train_clip_range', '1e-6', '--method', 'grpo', '--reward_fn', 'redness', '--train_batch_size', '2', '--sample_num_image_per_prompt', '3', '--sample_num_steps', '3', '--sample_sde_window_size', '1', '--sample_sde_window_range', '0,3', '--sample_guidance_scale', '1', '--train_cfg', 'false', '--learning_rate', '0.02', '--sample_num_batches_per_epoch', '2', '--train_num_inner_epochs', '2'];

/** The run's checkpoint file: its round/ tensors and round metadata, and the checkpoint as read back. */
function checkpointOf(run: string) {
  const bytes = new Uint8Array(readFileSync(join(run, 'checkpoint.safetensors')));
  const f = readSafetensors(bytes);
  return { roundTensors: [...f.tensors.keys()].filter((k) => k.startsWith('round/')), roundMeta: f.metadata.round, ck: checkpointFromBytes(bytes) };
}

describe('train --resume in a sampling round', () => {
  it('continues with exactly the steps of the run that did not stop', { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'soar-grpo-'));
    const base = join(dir, 'base');
    expect(await quiet(['init-base', '--preset', 'tiny', '--seed', '2', '--out', base])).toBe(0);
    const history = (run: string) => (JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as { history: Array<Record<string, number>> }).history.map((h) => [h.step, h.loss, h.reward_mean, h.approx_kl, h.clipfrac]);
    const straight = join(dir, 'straight');
    expect(await quiet(['train', '--base', base, '--data', 'builtin:clean:8', ...GRPO, '--steps', '4', '--out', straight])).toBe(0);
    // Step 4 ends the round: the checkpoint holds no round.
    const atEnd = checkpointOf(straight);
    expect([atEnd.roundTensors, atEnd.roundMeta, atEnd.ck.round]).toEqual([[], undefined, undefined]);
    const stopped = join(dir, 'stopped');
    expect(await quiet(['train', '--base', base, '--data', 'builtin:clean:8', ...GRPO, '--steps', '2', '--out', stopped])).toBe(0);
    // Step 2 is in the middle of the round that began at step 0: the one checkpoint file holds it, nothing beside it.
    const mid = checkpointOf(stopped);
    expect(mid.ck.step).toBe(2);
    expect(mid.ck.round?.step).toBe(0);
    expect(mid.roundTensors.sort()).toEqual(Object.keys(mid.ck.tensors).map((n) => `round/${n}`).sort());
    expect(Object.keys(mid.ck.round?.tensors ?? {}).sort()).toEqual(Object.keys(mid.ck.tensors).sort());
    // The policy that sampled the round is not the LoRA after two updates.
    expect(Object.entries(mid.ck.round?.tensors ?? {}).some(([n, t]) => t.data.some((v, k) => v !== mid.ck.tensors[n].data[k]))).toBe(true);
    expect(readdirSync(stopped).filter((f) => f.startsWith('checkpoint'))).toEqual(['checkpoint.safetensors']);
    expect(await quiet(['train', '--base', base, '--data', 'builtin:clean:8', ...GRPO, '--steps', '4', '--resume', '--out', stopped])).toBe(0);
    expect(history(stopped)).toEqual(history(straight));
    // The round's later updates are off policy: the ratio departs from 1 and the clip holds some samples.
    const h = history(straight);
    expect(h[0].slice(3)).toEqual([0, 0]);
    for (const later of h.slice(1)) expect(later[4]).toBeGreaterThan(0);
    // The resumed run ends the round: its checkpoint is written without one.
    const resumed = checkpointOf(stopped);
    expect([resumed.ck.step, resumed.roundTensors, resumed.roundMeta, resumed.ck.round]).toEqual([4, [], undefined, undefined]);
    expect(resumed.ck.tensors).toEqual(atEnd.ck.tensors);
    expect(resumed.ck.adam).toEqual(atEnd.ck.adam);
  });
});
