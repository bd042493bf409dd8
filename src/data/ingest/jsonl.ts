// JSONL parsing that keeps line numbers, for reporting bad lines precisely instead of failing the whole file.
import { jsonStructureProblem } from '../../codec/json';
import { decodeCaptionText } from './caption';

export interface JsonlRow {
  /** 1-based line number in the file. */
  line: number;
  value: Record<string, unknown>;
}

export interface JsonlBadLine {
  line: number;
  error: string;
}

export interface ParsedJsonl {
  rows: JsonlRow[];
  bad: JsonlBadLine[];
}

/**
 * The parser's message in the file's terms: the report already names the file's line, so the engine's own
 * "(line 1 column 26)" (of the one-line string it was given: always line 1) goes, and "at position 25" becomes
 * the column on that line.
 */
export function columnOfLine(message: string): string {
  return message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/at position (\d+)/, (_, p: string) => `at column ${Number(p) + 1}`);
}

/** Blank lines are skipped silently; a line that is not a JSON object is a bad line with the parser's message. */
export function parseJsonl(bytes: Uint8Array): ParsedJsonl {
  const text = decodeCaptionText(bytes).text; // also drops a BOM
  const rows: JsonlRow[] = [];
  const bad: JsonlBadLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      bad.push({ line: i + 1, error: columnOfLine(e instanceof Error ? e.message : String(e)) });
      return;
    }
    // A row nested thousands deep parses, then overflows the stack of whatever walks it later; a repeated key
    // would silently keep its last value. Either is a bad line, said here with its line number.
    const problem = jsonStructureProblem(line);
    if (problem) {
      bad.push({ line: i + 1, error: problem });
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      bad.push({ line: i + 1, error: `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}` });
      return;
    }
    rows.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  return { rows, bad };
}

/** The first line that parses as an object, without parsing the rest (format detection). */
export function firstJsonlObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  const text = decodeCaptionText(bytes.subarray(0, Math.min(bytes.length, 1 << 20))).text;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (jsonStructureProblem(line)) continue;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // a bad first line does not decide the format; try the next one
    }
  }
  return undefined;
}
