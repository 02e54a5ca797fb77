/**
 * The CLI's main() in process, with its output captured: for tests of what a
 * command prints and returns without spawning the executable.
 */
import { main } from '../../src/cli.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  process.exitCode = undefined;
  const code = await main(args, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) });
  process.exitCode = undefined;
  return { code, out, err };
}
