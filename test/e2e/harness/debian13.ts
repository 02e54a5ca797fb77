/**
 * The Debian 13 (trixie) root the harness runs Prosody 13 and ejabberd 24.12
 * (and the real components) from: made once by scripts/ensure-debian13.sh,
 * reused across runs. The chroot shares the host's network namespace, so its
 * servers listen on the host's 127.0.0.1. A run's files live under
 * `<root>/tmp/...`, which the chrooted process sees as `/tmp/...`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEBIAN13_ROOT = process.env.PRIVGUARD_DEBIAN13_ROOT ?? '/var/cache/privguard/debian13';

export const DEBIAN13_HINT = 'run as root: sh scripts/ensure-debian13.sh (makes the Debian 13 root once, about 2 minutes)';

/** What must exist in the root for a given use. */
const NEEDS: Record<string, string[]> = {
  prosody: ['usr/bin/prosody', 'usr/lib/prosody/modules/mod_privilege/mod_privilege.lua', 'proc/self'],
  ejabberd: ['usr/sbin/ejabberdctl', 'proc/self'],
  slidge: ['usr/lib/python3/dist-packages/slidge/__init__.py', 'proc/self'],
  libervia: ['usr/share/libervia/sat_pubsub/__init__.py', 'usr/lib/postgresql/17/bin/initdb', 'proc/self'],
};

/** Why the Debian 13 root cannot run `what` here, or undefined when it can. */
export function debian13Missing(what: keyof typeof NEEDS = 'prosody'): string | undefined {
  if (!existsSync(DEBIAN13_ROOT)) return `no Debian 13 root at ${DEBIAN13_ROOT}`;
  for (const p of NEEDS[what] ?? []) {
    if (!existsSync(join(DEBIAN13_ROOT, p))) return `the Debian 13 root at ${DEBIAN13_ROOT} lacks /${p}`;
  }
  if (process.getuid?.() !== 0) return 'chroot needs root';
  return undefined;
}

/** A fresh work directory inside the root: [host path, path seen inside the chroot]. */
export function chrootTempDir(prefix: string): [host: string, inside: string] {
  const host = mkdtempSync(join(DEBIAN13_ROOT, 'tmp', prefix));
  return [host, host.slice(DEBIAN13_ROOT.length)];
}

/** argv (for spawn) running `cmd` inside the root with a clean environment, optionally as a user of the root. */
export function chrootArgv(cmd: string[], opts: { user?: { uid: number; gid: number }; env?: Record<string, string> } = {}): [string, string[]] {
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root', ...opts.env };
  const userspec = opts.user ? [`--userspec=${opts.user.uid}:${opts.user.gid}`, `--groups=${opts.user.gid}`] : [];
  return ['chroot', [...userspec, DEBIAN13_ROOT, '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd]];
}

/** Run a command inside the root and wait for it. */
export function chrootSync(cmd: string[], opts: { user?: { uid: number; gid: number }; env?: Record<string, string> } = {}): { status: number | null; out: string } {
  const [bin, args] = chrootArgv(cmd, opts);
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** A user of the root (its uid/gid differ from the host's). */
export function debian13User(name: string): { uid: number; gid: number } {
  const line = readFileSync(join(DEBIAN13_ROOT, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name} in ${DEBIAN13_ROOT}/etc/passwd`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
