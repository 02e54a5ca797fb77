/**
 * The command line's conventions through the real executable: --version/-V,
 * where -c defaults from (and that the file used is named), --log-level, the
 * documented exit codes (0 ok, 1 invalid policy or unhealthy, 2 usage), and
 * `privguard health`, the image's HEALTHCHECK (/healthz when metrics are on).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../support/ports.js';
import { cli, startCli, type RunningCli } from './cli-process.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const ENV = { C_SECRET: 'component-side', C_UPSTREAM: 'server-side' };

function policy(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-conv-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  chmodSync(file, 0o600);
  return file;
}

const body = 'components:\n  c.example.org:\n    secret: { env: C_SECRET }\n    upstream_secret: { env: C_UPSTREAM }\n';

describe('privguard --version, exit codes', () => {
  it('--version and -V print the package version and exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r.code, r.err).toBe(0);
      expect(r.out.trim()).toBe(VERSION);
    }
  });

  it('bad usage exits 2: an unknown command, an unknown option, a log level that does not exist', async () => {
    const file = policy(body);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['check', '--bogus'])).code).toBe(2);
    const r = await cli(['run', '-c', file, '--log-level', 'loud'], ENV);
    expect(r.code).toBe(2);
    expect(r.err).toContain("argument 'loud' is invalid");
  });
});

describe('-c defaults to $PRIVGUARD_CONFIG, then /etc/privguard/policy.yaml, and the file used is named', () => {
  it('takes $PRIVGUARD_CONFIG when -c is not given, and says so', async () => {
    const file = policy(body);
    const r = await cli(['check'], { ...ENV, PRIVGUARD_CONFIG: file });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`privguard: policy file ${file} (from $PRIVGUARD_CONFIG)`);
    expect(r.out).toContain(`policy ${file}: OK`);
  });

  it('-c wins over $PRIVGUARD_CONFIG', async () => {
    const file = policy(body);
    const r = await cli(['check', '-c', file], { ...ENV, PRIVGUARD_CONFIG: '/nonexistent/other.yaml' });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`policy ${file}: OK`);
    expect(r.err).toBe('');
  });

  it('falls back to /etc/privguard/policy.yaml, names it, and exits 1 when it cannot be read', async () => {
    const r = await cli(['check'], ENV);
    expect(r.err).toContain('privguard: policy file /etc/privguard/policy.yaml (the default; choose another with -c or $PRIVGUARD_CONFIG)');
    expect(r.code).toBe(1);
    expect(r.err).toContain('/etc/privguard/policy.yaml: (root) (0:0): cannot read the policy file (ENOENT)');
  });
});

describe('privguard run --log-level, and privguard health', () => {
  let running: RunningCli | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('run names its policy file and version; --log-level warn keeps info lines out', async () => {
    const [listen, upstream] = await freePorts(2);
    const file = policy(`listen: { port: ${listen} }\nupstream: { port: ${upstream} }\n${body}`);
    running = startCli(['run', '--log-level', 'debug'], { ...ENV, PRIVGUARD_CONFIG: file });
    await running.waitErr('listening line', /privguard listening on/);
    expect(running.err).toContain(`privguard ${VERSION}, policy file ${file} (from $PRIVGUARD_CONFIG)`);
    expect(await running.stop()).toBe(0);

    // the same file, now world-readable: at warn, the warning is logged and the info lines are not
    chmodSync(file, 0o644);
    running = startCli(['run', '-c', file, '--log-level', 'warn'], ENV);
    await running.waitErr('the policy warning', /readable by every user/);
    // health answers only once the listener is up: it proves start-up is over
    const h = await cli(['health', '-c', file], ENV);
    expect(h.code, h.err).toBe(0);
    expect(running.err).not.toContain('privguard listening on');
    expect(await running.stop()).toBe(0);
  });

  it('health asks /healthz when metrics are on (exit 0), and exits 1 once privguard is gone', async () => {
    const [listen, upstream, metrics] = await freePorts(3);
    const file = policy(`listen: { port: ${listen} }\nupstream: { port: ${upstream} }\nmetrics: { host: 0.0.0.0, port: ${metrics} }\n${body}`);
    running = startCli(['run', '-c', file], ENV);
    await running.waitErr('listening line', /privguard listening on/);
    const up = await cli(['health'], { PRIVGUARD_CONFIG: file }); // no secrets needed to probe
    expect(up.code, up.err).toBe(0);
    expect(up.out.trim()).toBe(`privguard health: healthy: http://127.0.0.1:${metrics}/healthz: HTTP 200`);
    expect(await running.stop()).toBe(0);
    running = undefined;
    const down = await cli(['health', '-c', file, '--timeout', '1000']);
    expect(down.code).toBe(1);
    expect(down.err).toContain(`privguard health: unhealthy: http://127.0.0.1:${metrics}/healthz: connect ECONNREFUSED`);
  });

  it('health without metrics checks the listen port; a bad --timeout is a usage error', async () => {
    const [listen] = await freePorts(1);
    const file = policy(`listen: { port: ${listen} }\n${body}`);
    const down = await cli(['health', '-c', file, '--timeout', '1000']);
    expect(down.code).toBe(1);
    expect(down.err).toContain(`privguard health: unhealthy: 127.0.0.1:${listen}: connect ECONNREFUSED`);
    expect((await cli(['health', '-c', file, '--timeout', 'soon'])).code).toBe(2);
  });
});

describe('a reader that closes the pipe early (privguard … | head)', () => {
  it('ends the output quietly with the command\'s own exit code, not an EPIPE crash', async () => {
    const file = policy(body);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...ENV } });
    // Close our end before it writes anything: every write of the child then fails with EPIPE.
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    expect(err).not.toMatch(/EPIPE/);
    expect(code, err).toBe(0);
  });
});
