/**
 * The server matrix: every real-server suite runs against each server it
 * applies to. PRIVGUARD_SERVERS (comma-separated) restricts the matrix, e.g.
 * `PRIVGUARD_SERVERS=prosody-13,ejabberd-24.12 npm test`; default: all four.
 */
import { describe, it } from 'vitest';
export const SERVERS = ['prosody-0.12', 'prosody-13', 'ejabberd-23.01', 'ejabberd-24.12'] as const;
export type ServerName = (typeof SERVERS)[number];
export type ProsodyVersion = '0.12' | '13';
export type EjabberdVersion = '23.01' | '24.12';

function isServer(s: string): s is ServerName {
  return (SERVERS as readonly string[]).includes(s);
}

/** The servers of the matrix this run covers; a name it does not know is an error, not a skip. */
export function selectedServers(env = process.env.PRIVGUARD_SERVERS): ServerName[] {
  if (env === undefined || env.trim() === '') return [...SERVERS];
  const names = env.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !isServer(n));
  if (unknown.length > 0) throw new Error(`PRIVGUARD_SERVERS: unknown server(s) ${unknown.join(', ')}; known: ${SERVERS.join(', ')}`);
  return SERVERS.filter((s) => names.includes(s));
}

/** The Prosody versions of this run (for describe.each). */
export function prosodyVersions(): ProsodyVersion[] {
  return selectedServers()
    .filter((s) => s.startsWith('prosody-'))
    .map((s) => s.slice('prosody-'.length) as ProsodyVersion);
}

/** The ejabberd versions of this run (for describe.each). */
export function ejabberdVersions(): EjabberdVersion[] {
  return selectedServers()
    .filter((s) => s.startsWith('ejabberd-'))
    .map((s) => s.slice('ejabberd-'.length) as EjabberdVersion);
}

/**
 * One describe block per selected Prosody version (title suffixed with the
 * server's name); when PRIVGUARD_SERVERS selects none, a skipped block says so.
 */
export function describeProsody(title: string, fn: (version: ProsodyVersion) => void): void {
  const versions = prosodyVersions();
  if (versions.length === 0) describe.skip(`${title} (no Prosody selected by PRIVGUARD_SERVERS)`, () => it('not selected', () => {}));
  for (const v of versions) describe(`${title} [prosody-${v}]`, () => fn(v));
}

/** As describeProsody, for ejabberd. */
export function describeEjabberd(title: string, fn: (version: EjabberdVersion) => void): void {
  const versions = ejabberdVersions();
  if (versions.length === 0) describe.skip(`${title} (no ejabberd selected by PRIVGUARD_SERVERS)`, () => it('not selected', () => {}));
  for (const v of versions) describe(`${title} [ejabberd-${v}]`, () => fn(v));
}
