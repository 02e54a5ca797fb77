/**
 * Libervia PubSub 0.5 (the Debian 13 package, run from the trixie root) and
 * the throwaway PostgreSQL 17 cluster it stores into, for end-to-end runs.
 * PostgreSQL: initdb into a temp dir inside the root, run as the root's
 * `postgres` user on its own 127.0.0.1 port, the database made from the
 * schema file the package ships. Libervia: twistd in the foreground as
 * `nobody`, no `--server_jid` (0.5 crashes with it; it learns the server from
 * the delegation advertisement). Both are stopped by the PID spawned (chroot
 * and env exec themselves away) and their directories removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, rmSync } from 'node:fs';
import { chrootArgv, chrootSync, chrootTempDir, DEBIAN13_HINT, debian13Missing, debian13User } from './debian13.js';
import { freePort } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';

const PG_BIN = '/usr/lib/postgresql/17/bin';
const SCHEMA = '/usr/share/libervia/sat_pubsub/db/pubsub.sql';

/** Why Libervia PubSub cannot run here (with its PostgreSQL), or undefined when it can. */
export function liberviaMissing(): string | undefined {
  const why = debian13Missing('libervia');
  return why ? `Libervia PubSub: ${why}; ${DEBIAN13_HINT}` : undefined;
}

/** A child process started in the root, stopped by its PID. */
interface Proc {
  pid: number;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

function spawnInRoot(cmd: string[], opts: Parameters<typeof chrootArgv>[1]): Proc {
  const [bin, args] = chrootArgv(cmd, opts);
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  return {
    pid: child.pid!,
    output: () => out,
    exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killed);
    },
  };
}

export interface Postgres {
  port: number;
  user: string;
  database: string;
  readyAfterMs: number;
  stop(): Promise<void>;
}

/** A fresh PostgreSQL 17 cluster with Libervia's database, on a free loopback port. */
export async function startPostgres(): Promise<Postgres> {
  const missing = liberviaMissing();
  if (missing) throw new Error(missing);
  const t0 = Date.now();
  const pg = debian13User('postgres');
  const [dir, inside] = chrootTempDir('privguard-pg-');
  chownSync(dir, pg.uid, pg.gid);
  const as = { user: pg, env: { LANG: 'C.UTF-8' } };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const init = chrootSync([`${PG_BIN}/initdb`, '-D', `${inside}/data`, '-U', 'pubsub', '--auth=trust', '-E', 'UTF8', '--no-sync'], as);
  if (init.status !== 0) {
    cleanup();
    throw new Error(`initdb failed: ${init.out}`);
  }
  const port = await freePort();
  // Unix socket in the run's own dir; no fsync: the cluster is thrown away.
  const server = spawnInRoot([`${PG_BIN}/postgres`, '-D', `${inside}/data`, '-h', '127.0.0.1', '-p', String(port), '-k', inside, '-c', 'fsync=off'], as);
  const stop = async () => {
    await server.stop();
    cleanup();
  };
  try {
    await waitFor(
      'postgres to accept connections',
      () => {
        if (server.exited()) throw new Error(`postgres failed to start:\n${server.output()}`);
        return server.output().includes('database system is ready to accept connections') ? true : undefined;
      },
      15_000,
      20,
    );
    const conn = ['-h', '127.0.0.1', '-p', String(port), '-U', 'pubsub'];
    const db = chrootSync([`${PG_BIN}/createdb`, ...conn, 'pubsub'], as);
    if (db.status !== 0) throw new Error(`createdb failed: ${db.out}`);
    const schema = chrootSync([`${PG_BIN}/psql`, '-q', '-v', 'ON_ERROR_STOP=1', ...conn, '-d', 'pubsub', '-f', SCHEMA], as);
    if (schema.status !== 0) throw new Error(`loading ${SCHEMA} failed: ${schema.out}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, user: 'pubsub', database: 'pubsub', readyAfterMs: Date.now() - t0, stop };
}

export interface Libervia {
  pid: number;
  /** twistd's log (stdout and stderr). */
  log(): string;
  /** Resolves when the log shows the advertisements it acted on (privileges and delegations). */
  advertised(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Libervia PubSub as component `jid`, connecting to `port` (the server's or privguard's component port). */
export function startLibervia(opts: { jid: string; secret: string; port: number; db: Postgres }): Libervia {
  const missing = liberviaMissing();
  if (missing) throw new Error(missing);
  const nobody = debian13User('nobody');
  const [dir, inside] = chrootTempDir('privguard-libervia-');
  chownSync(dir, nobody.uid, nobody.gid);
  const proc = spawnInRoot(
    [
      'twistd3', '--nodaemon', '--pidfile=', '--logfile=-', 'libervia-pubsub',
      `--jid=${opts.jid}`, `--xmpp_pwd=${opts.secret}`, '--rhost=127.0.0.1', `--rport=${opts.port}`,
      '--db_host=127.0.0.1', `--db_port=${opts.db.port}`, `--db_user=${opts.db.user}`, `--db_name=${opts.db.database}`,
    ],
    { user: nobody, env: { HOME: inside, PYTHONPATH: '/usr/share/libervia' } },
  );
  return {
    pid: proc.pid,
    log: () => proc.output(),
    async advertised(timeoutMs = 15_000) {
      await waitFor(
        'Libervia PubSub to receive its privileges and delegations',
        () => {
          const text = proc.output();
          if (proc.exited()) throw new Error(`Libervia PubSub exited:\n${text}`);
          return text.includes('Privileges updated') && text.includes('delegations updated') ? true : undefined;
        },
        timeoutMs,
        20,
      );
    },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
