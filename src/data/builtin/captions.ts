// Caption grammar: PromptSpec → text and text → PromptSpec, inverse of each other on everything the generator emits.
//
//   caption  := ["a photo of"] body
//   body     := number [size] [colour] shape-plural                 counting     ("two green triangles")
//             | object                                               single_object ("a circle", "a large circle")
//                                                                    / colors      ("a red circle")
//             | object "and" object                                  two_object   ("a circle and a square")
//                                                                    / color_attr ("a red circle and a blue square")
//             | object relation object                               position     ("a red circle to the left of …")
//   object   := ("a" | "an") [size] [colour] shape
//   relation := "to the left of" | "to the right of" | "above" | "below"
//   number   := "two" | "three"
//
// The task follows from the form: one object with a colour is `colors`, without one `single_object`; "and" with
// both colours is `color_attr`, with neither `two_object` (one coloured, one not is rejected as ambiguous).
// Matching is case-insensitive and ignores punctuation and extra spaces.

import type { ObjectSpec, PromptSpec } from './spec';
import {
  COLORS,
  COUNT_WORDS,
  RELATIONS,
  RELATION_WORDS,
  SHAPES,
  SIZES,
  plural,
  type Color,
  type Relation,
  type Shape,
  type Size,
} from './vocab';

export type ParseResult = { ok: true; spec: PromptSpec } | { ok: false; error: string };

function objectPhrase(o: ObjectSpec, count?: number): string {
  const words: string[] = [count === undefined ? 'a' : COUNT_WORDS[count]];
  if (o.size) words.push(o.size);
  if (o.color) words.push(o.color);
  words.push(count === undefined ? o.shape : plural(o.shape));
  return words.join(' ');
}

/** The caption of a prompt spec (the generator's only way of writing text). */
export function captionOf(spec: PromptSpec): string {
  const [a, b] = spec.objects;
  switch (spec.task) {
    case 'single_object':
    case 'colors':
      return objectPhrase(a);
    case 'counting':
      if (spec.count === undefined || !(spec.count in COUNT_WORDS)) throw new Error(`captionOf: bad count ${spec.count}`);
      return objectPhrase(a, spec.count);
    case 'two_object':
    case 'color_attr':
      return `${objectPhrase(a)} and ${objectPhrase(b)}`;
    case 'position':
      if (!spec.relation) throw new Error('captionOf: position spec without a relation');
      return `${objectPhrase(a)} ${RELATION_WORDS[spec.relation].join(' ')} ${objectPhrase(b)}`;
  }
}

const COUNT_BY_WORD = new Map(Object.entries(COUNT_WORDS).map(([n, w]) => [w, Number(n)]));

function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z\s]/g, ' ')
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

class Cursor {
  i = 0;
  constructor(readonly tokens: string[]) {}
  peek(offset = 0): string | undefined {
    return this.tokens[this.i + offset];
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
  /** Consume the given words if they come next. */
  accept(words: readonly string[]): boolean {
    if (words.every((w, k) => this.tokens[this.i + k] === w)) {
      this.i += words.length;
      return true;
    }
    return false;
  }
  acceptOneOf<T extends string>(options: readonly T[]): T | undefined {
    const t = this.peek();
    if (t !== undefined && (options as readonly string[]).includes(t)) {
      this.i++;
      return t as T;
    }
    return undefined;
  }
}

class ParseError extends Error {}

/** [size] [colour] noun, where noun is a singular or a plural shape name. */
function parseNounPhrase(c: Cursor, wantPlural: boolean): ObjectSpec {
  const size = c.acceptOneOf<Size>(SIZES);
  const color = c.acceptOneOf<Color>(COLORS);
  const word = c.peek();
  const shape = SHAPES.find((s) => (wantPlural ? plural(s) : s) === word);
  if (!shape) {
    const expected = wantPlural ? 'a plural shape (circles, squares, …)' : 'a shape (circle, square, …)';
    throw new ParseError(`expected ${expected} at word ${c.i + 1}, got "${word ?? 'end of caption'}"`);
  }
  c.i++;
  const spec: ObjectSpec = { shape: shape as Shape };
  if (color) spec.color = color;
  if (size) spec.size = size;
  return spec;
}

function parseObject(c: Cursor): ObjectSpec {
  if (!c.acceptOneOf(['a', 'an'])) throw new ParseError(`expected "a" at word ${c.i + 1}, got "${c.peek() ?? 'end'}"`);
  return parseNounPhrase(c, false);
}

function expectEnd(c: Cursor): void {
  if (!c.done()) throw new ParseError(`unexpected "${c.tokens.slice(c.i).join(' ')}" at word ${c.i + 1}`);
}

function parseBody(c: Cursor): PromptSpec {
  const countWord = c.peek();
  const count = countWord === undefined ? undefined : COUNT_BY_WORD.get(countWord);
  if (count !== undefined) {
    c.i++;
    const obj = parseNounPhrase(c, true);
    expectEnd(c);
    return { task: 'counting', objects: [obj], count };
  }
  const a = parseObject(c);
  if (c.done()) return { task: a.color ? 'colors' : 'single_object', objects: [a] };
  if (c.accept(['and'])) {
    const b = parseObject(c);
    expectEnd(c);
    if (!!a.color !== !!b.color) throw new ParseError('give both objects a colour or neither');
    return { task: a.color ? 'color_attr' : 'two_object', objects: [a, b] };
  }
  const relation = RELATIONS.find((r) => c.accept(RELATION_WORDS[r])) as Relation | undefined;
  if (!relation) throw new ParseError(`expected "and" or a relation at word ${c.i + 1}, got "${c.peek()}"`);
  const b = parseObject(c);
  expectEnd(c);
  return { task: 'position', objects: [a, b], relation };
}

/** Parse a caption of the built-in grammar back into its PromptSpec. */
export function parseCaption(text: string): ParseResult {
  const c = new Cursor(tokenize(text));
  if (c.done()) return { ok: false, error: 'empty caption' };
  c.accept(['a', 'photo', 'of']);
  try {
    return { ok: true, spec: parseBody(c) };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: e.message };
    throw e;
  }
}
