// Runs a CLI command on the shared test engine with its progress and log lines swallowed (tests assert on files
// and exit codes, not on console output).
import { runCommand } from '../../src/cli/main';
import { getEngine } from '../tensor/harness';

export async function quietCommand([command, ...argv]: string[]): Promise<number> {
  const log = console.log;
  const warn = console.warn;
  const write = process.stderr.write.bind(process.stderr);
  console.log = () => undefined;
  console.warn = () => undefined;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return await runCommand(await getEngine(), command, argv);
  } finally {
    console.log = log;
    console.warn = warn;
    process.stderr.write = write;
  }
}
