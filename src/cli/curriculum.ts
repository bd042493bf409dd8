// A pretraining curriculum: which task mix of the built-in broad stream the run draws from, by the position of
// an image in the order the trainer sees them. `--mix single,broad@120000` draws single objects for the first
// 120,000 images and the full mix after. By position, not by example index: the trainer visits the examples in
// a seeded permutation, so "the first N images" means the first N positions of that permutation.
import { TASK_MIX_NAMES, TASK_MIXES, type TaskMix } from '../data/builtin/dataset';
import { epochPermutation } from '../train/trainer';

export interface MixPhase {
  mix: TaskMix;
  /** The first image position (0-based, in the order seen) this mix applies to. */
  from: number;
}

/** Parses `name[,name@position...]`; positions must increase. */
export function parseMix(text: string): MixPhase[] {
  const phases = text.split(',').map((part, k): MixPhase => {
    const [name, at, extra] = part.trim().split('@');
    if (!(name in TASK_MIXES)) throw new Error(`--mix: ${JSON.stringify(name)} is not a task mix (one of ${TASK_MIX_NAMES.join(', ')}); write for example --mix single,broad@120000`);
    if (extra !== undefined) throw new Error(`--mix: ${JSON.stringify(part)} has more than one @`);
    if (k === 0) {
      if (at !== undefined && Number(at) !== 0) throw new Error(`--mix: the first mix starts at image 0 (write it without @), got ${JSON.stringify(part)}`);
      return { mix: name as TaskMix, from: 0 };
    }
    const from = Number(at);
    if (at === undefined || !Number.isSafeInteger(from) || from <= 0) throw new Error(`--mix: ${JSON.stringify(part)} needs the image it starts at, as name@N with N a positive whole number`);
    return { mix: name as TaskMix, from };
  });
  for (let k = 1; k < phases.length; k++) {
    if (phases[k].from <= phases[k - 1].from) throw new Error(`--mix: the images each mix starts at must increase (${phases[k - 1].from}, then ${phases[k].from})`);
  }
  return phases;
}

/** The task mix of every example index: the phase of the position at which the trainer first sees it. */
export function mixByIndex(phases: readonly MixPhase[], images: number, seed: number): ((index: number) => TaskMix) | undefined {
  if (phases.length === 1 && phases[0].mix === 'broad') return undefined; // the default stream, unchanged
  if (phases.length === 1) return () => phases[0].mix;
  const order = epochPermutation(images, seed, 0);
  const position = new Uint32Array(images);
  order.forEach((index, pos) => (position[index] = pos));
  return (index) => {
    const pos = position[index];
    let k = phases.length - 1;
    while (phases[k].from > pos) k--;
    return phases[k].mix;
  };
}

export function mixLine(phases: readonly MixPhase[]): string {
  return phases.map((p) => (p.from ? `${p.mix} from image ${p.from.toLocaleString('en-US')}` : p.mix)).join(', then ');
}
