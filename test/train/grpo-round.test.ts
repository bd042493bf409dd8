// Flow-GRPO's sampling round (docs/methods.md, "Flow-GRPO", items 3 and 5), without the model: advantages
// normalised over the whole round with the prompt's samples pooled across micro-batches (by hand, global std
// on and off), the join of a round's micro-batches on the GPU, and each pass's seeded re-batching of the round's
// samples (a permutation, deterministic, different from pass to pass).
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type TrainConfig } from '../../src/train/config';
import { grpo, groupAdvantages, roundAdvantages, transitions, type GrpoPrepared } from '../../src/train/methods/grpo';
import { passBatches } from '../../src/train/round';
import { getEngine } from '../tensor/harness';

const EPS = 1e-4;

// A round of two micro-batches, each 2 prompts × 2 images. Prompt "a" is in both: tied within the second
// micro-batch (1, 1), yet not over the round, where its group is (1, 0, 1, 1).
const PROMPTS = ['a', 'a', 'b', 'b', 'a', 'a', 'c', 'c'];
const REWARDS = [1, 0, 0.5, 0.5, 1, 1, 0, 1];

describe('Flow-GRPO: advantages over a round', () => {
  it("pool a prompt's groups across micro-batches; the global std is over all of the round's rewards", () => {
    // Round mean 5/8; population variance Σ(r − 5/8)²/8 = 1.375/8.
    const S = Math.sqrt(1.375 / 8) + EPS;
    // "a": mean 0.75 over its 4 samples; "b" tied (0); "c": mean 0.5.
    const want = [0.25 / S, -0.75 / S, 0, 0, 0.25 / S, 0.25 / S, -0.5 / S, 0.5 / S];
    const got = roundAdvantages(PROMPTS, REWARDS, true, 5);
    want.forEach((w, i) => expect(got[i], `sample ${i}`).toBeCloseTo(w, 12));
    expect(got[2]).toBe(0);
    expect(got[3]).toBe(0);
    // Per micro-batch (what a round of one micro-batch does) the second "a" group is tied and gets nothing.
    const perBatch = [...groupAdvantages(REWARDS.slice(0, 4), [0, 0, 1, 1], true, 5), ...groupAdvantages(REWARDS.slice(4), [0, 0, 1, 1], true, 5)];
    expect(perBatch[4]).toBe(0);
    expect(got[4]).not.toBe(0);
  });

  it("with the group's std instead: each prompt's own (population) std over its pooled samples", () => {
    const sa = Math.sqrt(0.75 / 4) + EPS; // "a": squared deviations 1/16, 9/16, 1/16, 1/16
    const sc = 0.5 + EPS;
    const want = [0.25 / sa, -0.75 / sa, 0, 0, 0.25 / sa, 0.25 / sa, -0.5 / sc, 0.5 / sc];
    const got = roundAdvantages(PROMPTS, REWARDS, false, 5);
    want.forEach((w, i) => expect(got[i], `sample ${i}`).toBeCloseTo(w, 12));
    // Clipped to ±adv_clip_max (−0.75/0.433 = −1.73).
    const clipped = roundAdvantages(PROMPTS, REWARDS, false, 1);
    expect(clipped[1]).toBe(-1);
    expect(clipped[0]).toBeCloseTo(0.25 / sa, 12);
  });

  it('a round of one micro-batch with distinct prompts gets the per-group advantages', () => {
    const r = [0.1, 0.7, 0.3, 0.2, 0.2, 0.9];
    expect([...roundAdvantages(['x', 'x', 'x', 'y', 'y', 'y'], r, true, 5)]).toEqual([...groupAdvantages(r, [0, 0, 0, 1, 1, 1], true, 5)]);
    expect([...roundAdvantages(['x', 'x', 'x', 'y', 'y', 'y'], r, false, 5)]).toEqual([...groupAdvantages(r, [0, 0, 0, 1, 1, 1], false, 5)]);
  });
});

describe("Flow-GRPO: joining a round's micro-batches", () => {
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, method: 'grpo', sample_num_steps: 2, sample_num_image_per_prompt: 2, sample_sde_window_size: 1, sample_sde_window_range: [0, 2] };

  /** A sampled micro-batch as `prepare` keeps it: 2 prompts × 2 images, 2 SDE steps of which `window` is stochastic. */
  async function part(b: number, window: number): Promise<GrpoPrepared> {
    const e = await getEngine();
    const G = 4;
    const vals = (k: number, n: number) => Float32Array.from({ length: n }, (_, i) => 100 * b + 10 * k + i);
    const states = [0, 1, 2].map((k) => e.fromArray(vals(k, G * 2), [G, 1, 1, 2], `x${k}`));
    const logProbs = [0, 1].map((j) => (j === window ? e.fromArray(vals(5 + j, G), [G], 'logp') : null));
    const rewards = REWARDS.slice(4 * b, 4 * b + 4);
    const groups = { prompts: [PROMPTS[4 * b], PROMPTS[4 * b + 2]], perPrompt: 2, images: vals(9, G * 2), shape: [1, 1, 2] as [number, number, number], rewards, advantages: groupAdvantages(rewards, [0, 0, 1, 1], true, 5) };
    const context = e.fromArray(vals(7, G * 2), [G, 1, 2], 'context');
    const pooled = e.fromArray(vals(8, G * 3), [G, 3], 'pooled');
    return {
      states, logProbs, context, pooled, groups,
      transitions: transitions(cfg, new Set([window])),
      trained: [window],
      correct: [true, false, false, true],
      kept: [...groups.advantages.keys()].filter((i) => groups.advantages[i] !== 0),
      release() {
        for (const t of [...states, ...logProbs, context, pooled]) t?.release();
      },
    };
  }

  it("concatenates the samples, frees the parts, and gives each micro-batch the round's advantages and each sample its own schedule", async () => {
    const parts = [await part(0, 0), await part(1, 1)];
    const round = grpo.joinRound!(parts, cfg);
    expect(round.samples).toBe(8);
    expect(parts.every((p) => [...p.states, p.context, p.pooled].every((t) => t.released))).toBe(true);
    const b = round.batch([1, 2, 5, 6]) as GrpoPrepared;
    const S = Math.sqrt(1.375 / 8) + EPS;
    expect([...b.groups.advantages].map((a) => a.toFixed(9))).toEqual([0.25 / S, -0.75 / S, 0, 0, 0.25 / S, 0.25 / S, -0.5 / S, 0.5 / S].map((a) => a.toFixed(9)));
    expect(b.samples).toEqual([1, 2, 5, 6]);
    expect(b.kept).toEqual([1, 5, 6]); // sample 2 is of the tied prompt "b"
    expect(b.groups.prompts).toEqual(['a', 'b', 'a', 'c']);
    expect(b.groups.rewards).toEqual(REWARDS);
    expect(b.correct).toEqual([true, false, false, true, true, false, false, true]);
    expect([...b.groups.images.subarray(6, 10)]).toEqual([96, 97, 190, 191]);
    expect([...(await b.states[1].toArray())]).toEqual([...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => 10 + i), ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => 110 + i)]);
    expect(b.states[2].shape).toEqual([8, 1, 1, 2]);
    expect(b.pooled.shape).toEqual([8, 3]);
    // Step 0 is stochastic in the first micro-batch only, step 1 in the second: log p 0 where it is not.
    expect([...(await b.logProbs[0]!.toArray())]).toEqual([50, 51, 52, 53, 0, 0, 0, 0]);
    expect([...(await b.logProbs[1]!.toArray())]).toEqual([0, 0, 0, 0, 160, 161, 162, 163]);
    expect(b.schedules!.of).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(b.schedules!.list.map((s) => s.trained)).toEqual([[0], [1]]);
    b.release(); // a view: frees nothing
    expect(b.states[0].released).toBe(false);
    round.release();
    expect(b.states[0].released && b.context.released && b.logProbs[1]!.released).toBe(true);
  });

  it('a round of one micro-batch is that micro-batch: its tensors, its advantages', async () => {
    const p = await part(0, 0);
    const round = grpo.joinRound!([p], cfg);
    const b = round.batch([0, 1, 2, 3]) as GrpoPrepared;
    expect(b.states).toBe(p.states);
    expect(b.context).toBe(p.context);
    expect([...b.groups.advantages]).toEqual([...p.groups.advantages]);
    expect(b.kept).toEqual(p.kept);
    expect(b.schedules).toBeUndefined();
    round.release();
    expect(p.states[0].released).toBe(true);
  });
});

describe("Flow-GRPO: each pass's micro-batches", () => {
  it('are a permutation of the round: every sample once per pass, across micro-batches of equal size, each ascending', () => {
    for (const [samples, batches] of [[16, 2], [24, 4], [9, 3], [6, 1]]) {
      for (const pass of [0, 1, 2]) {
        const cuts = passBatches(samples, batches, 42, 8, pass);
        expect(cuts).toHaveLength(batches);
        for (const c of cuts) {
          expect(c).toHaveLength(samples / batches);
          expect(c).toEqual([...c].sort((a, b) => a - b));
        }
        expect(cuts.flat().sort((a, b) => a - b)).toEqual([...Array(samples).keys()]);
      }
    }
    expect(() => passBatches(10, 3, 42, 0, 0)).toThrow(/does not split/);
  });

  it('are deterministic for (seed, round start, pass), and differ between passes, rounds and seeds', () => {
    const at = (seed: number, step: number, pass: number) => JSON.stringify(passBatches(16, 2, seed, step, pass));
    expect(at(42, 0, 1)).toBe(at(42, 0, 1));
    const draws = new Set([at(42, 0, 0), at(42, 0, 1), at(42, 0, 2), at(42, 4, 0), at(42, 4, 1), at(7, 0, 0), at(43, 0, 0)]);
    expect(draws.size).toBe(7);
    // The first pass is shuffled too: not the sampled order.
    expect(at(42, 0, 0)).not.toBe(JSON.stringify([[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]]));
    // Over many passes a sample lands in either micro-batch about half the time (no sticky order).
    const inFirst = Array.from({ length: 400 }, (_, pass) => passBatches(16, 2, 42, 0, pass)[0].includes(0)).filter(Boolean).length;
    expect(inFirst).toBeGreaterThan(160);
    expect(inFirst).toBeLessThan(240);
  });

  it('one micro-batch per round: every pass trains it as sampled', () => {
    for (const pass of [0, 1, 5]) expect(passBatches(8, 1, 42, 3, pass)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
  });
});
