/**
 * The real command line as a child process (node + tsx running src/cli.ts),
 * for tests of what an admin sees: exit codes, stdout, stderr, signals.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../support/wait.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

const ARGS = ['--import', 'tsx', 'src/cli.ts'];
/** A clean environment: no PRIVGUARD_* of the developer's shell leaks into a test. */
const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH });

/** Run a command to its end. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [...ARGS, ...args], { env: { ...baseEnv(), ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, out: stdout, err: stderr });
    });
  });
}

export interface RunningCli {
  child: ChildProcess;
  out: string;
  err: string;
  code: number | null | undefined;
  /** Wait until stderr (the log) matches. */
  waitErr(what: string, re: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then wait for the exit code. */
  stop(): Promise<number | null>;
}

/** Start a long-running command (`run`). */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [...ARGS, ...args], { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const io: RunningCli = {
    child,
    out: '',
    err: '',
    code: undefined,
    async waitErr(what, re, timeoutMs = 30_000) {
      await waitFor(what, () => (re.test(io.err) ? true : undefined), timeoutMs).catch((e: Error) => {
        throw new Error(`${e.message}; exit ${String(io.code)}; stderr:\n${io.err}`);
      });
    },
    async stop() {
      if (io.code === undefined) child.kill('SIGTERM');
      await waitFor('exit', () => (io.code !== undefined ? true : undefined), 15_000);
      return io.code ?? null;
    },
  };
  child.stdout.on('data', (d: Buffer) => (io.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (io.err += d.toString()));
  child.on('exit', (code) => (io.code = code));
  return io;
}
