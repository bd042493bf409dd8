// The closed world of the built-in compositional dataset: shapes, colours, sizes, relations, tasks, the palette the
// renderer paints with (and the evaluator classifies against), and the caption vocabulary.
//
// The palette is six saturated hues 60° apart on a dark neutral background. The evaluator classifies a pixel by
// the *direction* of (pixel − background) in RGB, which does not change when an edge pixel is a blend of object and
// background (blur, anti-aliasing) — so hue-separated colours are the robust choice. White/black/grey are left out
// on purpose: they are separated from the background only by brightness, which a soft generated image smears.

export const SHAPES = ['circle', 'square', 'triangle', 'diamond'] as const;
export type Shape = (typeof SHAPES)[number];

export const COLORS = ['red', 'green', 'blue', 'yellow', 'magenta', 'cyan'] as const;
export type Color = (typeof COLORS)[number];

export const SIZES = ['small', 'large'] as const;
export type Size = (typeof SIZES)[number];

/** Relations read "A <relation> B"; the words are the caption's. */
export const RELATIONS = ['left of', 'right of', 'above', 'below'] as const;
export type Relation = (typeof RELATIONS)[number];

/** The six GenEval task families, same names as GenEval's per-task keys. */
export const TASKS = ['single_object', 'two_object', 'counting', 'colors', 'position', 'color_attr'] as const;
export type Task = (typeof TASKS)[number];

/** Counting captions use these number words. */
export const COUNT_WORDS: Readonly<Record<number, string>> = { 2: 'two', 3: 'three' };
export const COUNTS = [2, 3] as const;

export type RGB = readonly [number, number, number];

/** sRGB in [0, 1]. Blue is pushed towards pure blue so it stays > 30° from cyan relative to the background. */
export const PALETTE: Readonly<Record<Color, RGB>> = {
  red: [0.86, 0.16, 0.16],
  green: [0.18, 0.74, 0.22],
  blue: [0.15, 0.25, 0.95],
  yellow: [0.92, 0.84, 0.18],
  magenta: [0.84, 0.22, 0.84],
  cyan: [0.16, 0.8, 0.84],
};

/** Nominal background grey level (sRGB [0, 1]); splits vary it a little around this. */
export const BACKGROUND_LEVEL = 0.1;

/**
 * Nominal object "radius" as a fraction of the image width: the half-extent of the shape's unit box (see shapes.ts).
 * At 32 px: small ≈ 4.2 px (an 8 px shape), large ≈ 6.4 px (a 13 px shape) — two large objects still fit side by
 * side with a clear gap, and the small one is still big enough for corners to survive a 3×3 blur.
 */
export const SIZE_RADIUS: Readonly<Record<Size, number>> = { small: 0.13, large: 0.2 };

export const RELATION_WORDS: Readonly<Record<Relation, readonly string[]>> = {
  'left of': ['to', 'the', 'left', 'of'],
  'right of': ['to', 'the', 'right', 'of'],
  above: ['above'],
  below: ['below'],
};

export function plural(shape: Shape): string {
  return `${shape}s`;
}

/**
 * Every word a caption of this dataset can contain (sorted, unique). The text encoder's tokenizer is built over it;
 * "an" and the "a photo of" prefix are accepted by the parser, so they are included.
 */
export const VOCAB: readonly string[] = Object.freeze(
  [
    ...new Set([
      'a',
      'an',
      'and',
      'photo',
      'of',
      ...SHAPES,
      ...SHAPES.map(plural),
      ...COLORS,
      ...SIZES,
      ...Object.values(COUNT_WORDS),
      ...Object.values(RELATION_WORDS).flat(),
    ]),
  ].sort(),
);
