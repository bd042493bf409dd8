// Minimal `--key value` / `--flag` parsing with errors that name the option.

export class Args {
  constructor(private readonly values: Map<string, string | true>) {}

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
}

export function parseArgs(argv: readonly string[]): Args {
  const values = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)} (options are --name value)`);
    const eq = a.indexOf('=');
    if (eq > 0) values.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) values.set(a.slice(2), argv[++i]);
    else values.set(a.slice(2), true);
  }
  return new Args(values);
}
