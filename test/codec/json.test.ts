// Untrusted JSON: nesting is bounded (JSON.stringify and structuredClone overflow the stack near 5,000 levels),
// a repeated key is refused (JSON.parse would keep the last silently), messages describe values in bounded
// space, and typed field reads name the path of what is wrong.
import { describe, expect, it } from 'vitest';
import { JsonFormatError, JsonObject, MAX_JSON_DEPTH, jsonStructureProblem, parseJson, show } from '../../src/codec/json';

describe('untrusted JSON', () => {
  it('parses ordinary JSON, with escapes, strings holding brackets and equal keys in different objects', () => {
    const text = '{"a": {"x": 1}, "b": {"x": "[{\\"}"}, "c\\u0031": [1, {"x": null}]}';
    expect(parseJson(text, 't')).toEqual({ a: { x: 1 }, b: { x: '[{"}' }, c1: [1, { x: null }] });
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH, even 100,000 levels, with our error', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseJson(deep, 'header')).toThrow(JsonFormatError);
    expect(() => parseJson(deep, 'header')).toThrow(/header: nested more than 64 levels deep/);
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(jsonStructureProblem(ok)).toBeNull();
    expect(jsonStructureProblem(`[${ok}]`)).toMatch(/nested/);
  });

  it('refuses a key twice in one object, also when spelled with an escape', () => {
    expect(() => parseJson('{"a": 1, "b": {"a": 2}, "a": 3}', 'header')).toThrow(/header: key "a" appears twice in one object/);
    expect(() => parseJson('{"a": 1, "\\u0061": 2}', 'header')).toThrow(/key "a" appears twice/);
    expect(parseJson('{"a": "a", "b": ["a", "a"]}', 'h')).toEqual({ a: 'a', b: ['a', 'a'] });
  });

  it('wraps a syntax error in the caller error with a bounded message', () => {
    const fail = (m: string): never => {
      throw new RangeError(m); // any class: the caller's
    };
    expect(() => parseJson('{"a": nope' + ' '.repeat(10_000), 'model.json', fail)).toThrow(/^model\.json is not valid JSON \(.{1,130}\)$/);
  });

  it('describes any value in bounded space without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(show(deep)).toBe('a list of 1');
    expect(show([1, 2, 3])).toBe('[1, 2, 3]');
    expect(show('x'.repeat(10_000)).length).toBeLessThan(110);
    expect(show(undefined)).toBe('nothing');
    expect(show({ a: 1 })).toBe('an object');
  });

  it('reads typed fields and names the path of what is wrong', () => {
    const o = JsonObject.of({ step: 'abc', n: 3, list: [1, 'x'], sub: { s: null } }, 'checkpoint');
    expect(() => o.int('step')).toThrow(/checkpoint\.step must be an integer in \[0, \d+\], got "abc"/);
    expect(o.int('n', 1)).toBe(3);
    expect(() => o.intList('list')).toThrow(/checkpoint\.list must be a list of integers/);
    expect(() => o.obj('sub').str('s')).toThrow(/checkpoint\.sub\.s must be a string, got null/);
    expect(() => o.obj('missing')).toThrow(/checkpoint\.missing must be an object, got nothing/);
    expect(() => JsonObject.of(null, 'run 0')).toThrow(/run 0 must be an object, got null/);
  });
});
