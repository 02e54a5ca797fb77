/**
 * A real slidge 0.2 gateway (python3-slidge from the Debian 13 root), run
 * with chroot, loading the test's fake legacy network plugin
 * (test/e2e/components/fakenet, copied into a temp dir of the root). The plugin
 * writes one JSON line per event (login, text, presence, …) to a file the test
 * reads, so the test waits on events with deadlines. Stop by PID; the temp dir
 * (slidge's home, database, log) is removed, or kept to restart slidge on it
 * (`resume`), as an admin restarts a gateway with registered users.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chrootArgv, chrootTempDir, DEBIAN13_HINT, debian13Missing } from './debian13.js';
import { waitFor } from '../../support/wait.js';

// (import.meta.dirname needs Node 20.11; package.json allows 20.10.)
const PLUGIN_DIR = fileURLToPath(new URL('../components/fakenet', import.meta.url));

/** Why slidge cannot run here, or undefined when it can. */
export function slidgeMissing(): string | undefined {
  const why = debian13Missing('slidge');
  return why ? `slidge 0.2 (python3-slidge in the Debian 13 root): ${why}; ${DEBIAN13_HINT}` : undefined;
}

export interface FakenetEvent {
  event: string;
  user?: string;
  [k: string]: unknown;
}

export interface SlidgeInstance {
  pid: number;
  /** Milliseconds from spawn to the gateway's own log line "Slidge has successfully started". */
  readyAfterMs: number;
  /** The fake network's events so far. */
  events(): FakenetEvent[];
  waitEvent(what: string, pred: (e: FakenetEvent) => boolean, timeoutMs?: number): Promise<FakenetEvent>;
  /** slidge's own log (and console). */
  log(): string;
  /** The instance's directory: [host path, path inside the root]. */
  dir: [host: string, inside: string];
  /** Whether the process has exited (e.g. crashed). */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Stop by PID; the directory is removed unless `keep` (to resume it). */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

export interface SlidgeOptions {
  /** The gateway's JID (a component of the server). */
  jid: string;
  secret: string;
  /** Where it connects (the server's component port, privguard, or a tap). */
  port: number;
  /** Regular expression of the users allowed to register. */
  userJidValidator: string;
  /** Readiness deadline. */
  timeoutMs?: number;
  /** Restart where a stopped instance left off (its home: users, contacts, database). */
  resume?: SlidgeInstance;
}

export async function startSlidge(opts: SlidgeOptions): Promise<SlidgeInstance> {
  const missing = slidgeMissing();
  if (missing) throw new Error(missing);
  const [dir, inside] = opts.resume?.dir ?? chrootTempDir('privguard-slidge-');
  if (!opts.resume) cpSync(PLUGIN_DIR, join(dir, 'plugin', 'fakenet'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  const eventsFile = join(dir, 'events.jsonl');
  const logFile = join(dir, 'slidge.log');
  const [bin, args] = chrootArgv(
    [
      'python3',
      '-m',
      'slidge',
      '--legacy-module',
      'fakenet',
      '--jid',
      opts.jid,
      '--secret',
      opts.secret,
      '--server',
      '127.0.0.1',
      '--port',
      String(opts.port),
      '--home-dir',
      `${inside}/home`,
      '--user-jid-validator',
      opts.userJidValidator,
      '--log-file',
      `${inside}/slidge.log`,
      '--debug',
    ],
    { env: { PYTHONPATH: `${inside}/plugin`, FAKENET_EVENTS: `${inside}/events.jsonl`, SLIDGE_CONF_DIR: `${inside}/no-conf.d` } },
  );
  const t0 = Date.now();
  // chroot and env exec themselves away: the PID spawned is slidge's.
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let console = '';
  child.stdout?.on('data', (d: Buffer) => (console += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (console += d.toString()));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exit = { code, signal }), resolve())));
  // A resumed instance appends to the same log: read only what this one wrote.
  const logStart = existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0;
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(logStart) : '') + console;
  const events = (): FakenetEvent[] =>
    existsSync(eventsFile)
      ? readFileSync(eventsFile, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as FakenetEvent)
      : [];
  const stop = async (o: { keep?: boolean } = {}) => {
    if (!exit) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(killed);
    }
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'slidge to connect and start',
      () => {
        if (exit) throw new Error(`slidge exited (${exit.code ?? exit.signal}) before it started:\n${log()}`);
        return log().includes('Slidge has successfully started') ? true : undefined;
      },
      opts.timeoutMs ?? 30_000,
      25,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    pid: child.pid!,
    readyAfterMs: Date.now() - t0,
    events,
    waitEvent: (what, pred, timeoutMs = 10_000) =>
      waitFor(
        `fakenet event: ${what}`,
        () => {
          if (exit) throw new Error(`slidge exited (${exit.code ?? exit.signal}) while waiting for ${what}:\n${log().slice(-4000)}`);
          return events().find(pred);
        },
        timeoutMs,
        25,
      ),
    log,
    dir: [dir, inside],
    exited: () => exit,
    stop,
  };
}
