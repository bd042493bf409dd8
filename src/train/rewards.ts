// Rewards for online RL, by the name a config gives (the reference's reward_fn). Each scores one generated
// image (CHW in [−1, 1]) for its prompt.
import { canScore, imageReward, type Reward } from '../eval/reward';

export type RewardFn = (image: Float32Array, prompt: string, shape: { channels: number; size: number }) => Reward;

export const REWARDS: Record<string, { describe: string; fn: RewardFn }> = {
  geneval: {
    describe: "the built-in evaluator's partial GenEval score (objects, colours, counts, positions the prompt names)",
    fn: (image, prompt) => {
      if (!canScore(prompt)) {
        throw new Error(
          `the evaluator cannot score the prompt ${JSON.stringify(prompt.slice(0, 80))}: the geneval reward reads the built-in captions ("a red circle", "two green triangles", "a red circle to the left of a blue square", ...). Train Flow-GRPO on the built-in dataset, or choose reward_fn "redness" to try the method on any captions`,
        );
      }
      return imageReward(image, prompt);
    },
  },
  redness: {
    describe: 'a toy reward: the mean of the red channel as displayed (clamped to [−1, 1]), mapped to [0, 1] (checks that the method learns; ignores the prompt)',
    fn: (image, _prompt, { size }) => {
      const plane = size * size;
      let s = 0;
      // Clamped as the image is shown: values past white would otherwise pay more than white.
      for (let i = 0; i < plane; i++) s += Math.max(-1, Math.min(1, image[i]));
      const score = (s / plane + 1) / 2;
      return { score, correct: score > 0.75 };
    },
  },
};

/** The reward of a config's reward_fn; a clear error naming the ones there are. */
export function rewardOf(name: string): RewardFn {
  const r = Object.prototype.hasOwnProperty.call(REWARDS, name) ? REWARDS[name] : undefined;
  if (!r) throw new Error(`reward_fn must be one of ${Object.keys(REWARDS).map((k) => `"${k}"`).join(', ')}, got ${JSON.stringify(name)}`);
  return r.fn;
}
