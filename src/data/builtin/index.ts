// Public surface of the built-in procedural compositional dataset.
export * from './vocab';
export { parseCaption, captionOf, type ParseResult } from './captions';
export type { ObjectSpec, PromptSpec, Scene, SceneObject } from './spec';
export { objectBox, objectMatches } from './spec';
export { relationsBetween, POSITION_THRESHOLD, type Box } from './relations';
export { HALF_EXTENT, AREA_FACTOR, insideShape } from './shapes';
export { renderScene } from './render';
export { hashSeed, Rng } from './prng';
export {
  builtinSample,
  builtinSplit,
  builtinStream,
  describeBuiltinSample,
  sceneForPrompt,
  BROAD_DEFAULT_COUNT,
  CLEAN_COUNT,
  DEFAULT_IMAGE_SIZE,
  DEFAULT_SEED,
  SPLITS,
  TASK_MIXES,
  TASK_MIX_NAMES,
  type TaskMix,
  type BuiltinDescription,
  type BuiltinOptions,
  type BuiltinSample,
  type SplitName,
} from './dataset';
export {
  heldOutPrompts,
  isHeldOutPair,
  sceneHasHeldOutPair,
  specHasHeldOutPair,
  HELD_OUT_PAIRS,
  HELD_OUT_SEED,
  NOVEL_TASKS,
  type HeldOutOptions,
  type HeldOutPrompt,
} from './heldout';
