// Minimal `--key value` / `--flag` parsing with errors that name the option.

export class Args {
  constructor(
    private readonly values: Map<string, string | true>,
    /** Every value of an option given more than once (values holds the last). */
    private readonly repeated: Map<string, Array<string | true>> = new Map(),
  ) {}

  /** All values of a repeatable option, in the order given (empty when absent). */
  all(key: string): string[] {
    const vs = this.repeated.get(key) ?? (this.values.has(key) ? [this.values.get(key)!] : []);
    if (vs.includes(true)) throw new Error(`--${key} needs a value`);
    return vs as string[];
  }

  optional(key: string): string | undefined {
    const v = this.values.get(key);
    if (v === true) throw new Error(`--${key} needs a value`);
    return v;
  }

  required(key: string): string {
    const v = this.optional(key);
    if (v === undefined) throw new Error(`--${key} is required`);
    return v;
  }

  string(key: string, fallback: string): string {
    return this.optional(key) ?? fallback;
  }

  int(key: string, fallback: number): number {
    const v = this.optional(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`--${key} must be an integer, got ${JSON.stringify(v)}`);
    return n;
  }

  /** Every option as given, in order (for echoing the command line). */
  entries(): Array<[string, string | true]> {
    return [...this.values];
  }

  flag(key: string): boolean {
    return this.values.get(key) === true;
  }

  /**
   * Refuses what the command does not understand, before it does any work: a flag it does not take (naming
   * the closest one it does), a switch given a value, an option given none.
   */
  expect(command: string, spec: { values: readonly string[]; switches?: readonly string[]; repeatable?: readonly string[] }): void {
    const switches = new Set(spec.switches ?? []);
    const known = [...spec.values, ...switches];
    for (const key of this.repeated.keys()) {
      if (known.includes(key) && !spec.repeatable?.includes(key)) throw new Error(`${command}: --${key} is given ${this.repeated.get(key)!.length} times; give it once`);
    }
    for (const [key, value] of this.values) {
      if (!known.includes(key)) {
        const near = closest(key, known);
        throw new Error(`${command}: unknown option --${key}${near ? ` (did you mean --${near}?)` : ''}; \`npm run soar -- help\` lists the options`);
      }
      if (switches.has(key) && value !== true) throw new Error(`${command}: --${key} is a switch and takes no value (got ${JSON.stringify(value)})`);
      if (!switches.has(key) && value === true) throw new Error(`${command}: --${key} needs a value`);
    }
  }
}

/** The known name nearest to `name` by edit distance, when near enough to be a typo. */
function closest(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

/** Levenshtein distance, with '-' and '_' treated alike (--learning-rate for --learning_rate). */
function editDistance(a: string, b: string): number {
  const x = a.replace(/-/g, '_');
  const y = b.replace(/-/g, '_');
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[y.length];
}

export function parseArgs(argv: readonly string[]): Args {
  const values = new Map<string, string | true>();
  const repeated = new Map<string, Array<string | true>>();
  const set = (k: string, v: string | true) => {
    if (values.has(k)) repeated.set(k, [...(repeated.get(k) ?? [values.get(k)!]), v]);
    values.set(k, v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)} (options are --name value)`);
    const eq = a.indexOf('=');
    if (eq > 0) set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) set(a.slice(2), argv[++i]);
    else set(a.slice(2), true);
  }
  return new Args(values, repeated);
}
