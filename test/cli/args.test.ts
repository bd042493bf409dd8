// The command line refuses what it does not understand: unknown options (with the nearest known one),
// switches given values, options given none; and every option the usage text shows is one its command takes.
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args';
import { COMMAND_FLAGS, USAGE } from '../../src/cli/main';

describe('CLI options', () => {
  it('refuses an unknown option and names the closest known one', () => {
    const train = COMMAND_FLAGS.train;
    expect(() => parseArgs(['--learing_rate', '0.5']).expect('train', train)).toThrow(/train: unknown option --learing_rate \(did you mean --learning_rate\?\)/);
    expect(() => parseArgs(['--learning-rate', '0.5']).expect('train', train)).toThrow(/did you mean --learning_rate\?/);
    expect(() => parseArgs(['--bogus', '3']).expect('sample', COMMAND_FLAGS.sample)).toThrow(/^sample: unknown option --bogus; /);
    expect(() => parseArgs(['--resume', 'yes']).expect('train', train)).toThrow(/--resume is a switch and takes no value/);
    expect(() => parseArgs(['--out']).expect('train', train)).toThrow(/train: --out needs a value/);
    expect(() => parseArgs(['--base', 'b', '--learning_rate', '1e-3', '--resume']).expect('train', train)).not.toThrow();
  });

  it('every option in the usage text is one its command takes', () => {
    const blocks = USAGE.split('\n').slice(1).reduce<Array<{ command: string; text: string }>>((acc, line) => {
      const m = /^ {2}([a-z-]+)\s/.exec(line);
      if (m) acc.push({ command: m[1], text: line });
      else if (acc.length) acc[acc.length - 1].text += '\n' + line;
      return acc;
    }, []);
    expect(blocks.map((b) => b.command).sort()).toEqual(Object.keys(COMMAND_FLAGS).sort());
    for (const { command, text } of blocks) {
      const spec = COMMAND_FLAGS[command];
      const known = [...spec.values, ...(spec.switches ?? [])];
      for (const [, flag] of text.matchAll(/--([a-z][a-z0-9_-]*)/g)) expect(known, `${command} --${flag}`).toContain(flag);
    }
  });
});
