/**
 * `privguard run` as a real process (node + tsx running src/cli.ts): signals
 * (SIGHUP reopens the audit file, SIGTERM stops with exit 0) and the exit
 * codes of a run that cannot start.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

function tempPolicy(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-cli-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

describe('privguard run (a real process)', () => {
  let child: ReturnType<typeof spawn> | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  function start(file: string) {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const io = { out: '', err: '', code: undefined as number | null | undefined };
    p.stdout.on('data', (d: Buffer) => (io.out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (io.err += d.toString()));
    p.on('exit', (code) => (io.code = code));
    child = p;
    return io;
  }

  it('listens, reloads on SIGHUP, then shuts down on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const file = tempPolicy(`listen: { port: ${port} }\nupstream: { port: ${await freePort()} }\naudit: { file: audit.jsonl }\ncomponents:\n  c.example.org: { secret: s, upstream_secret: u }\n`);
    const io = start(file);
    // Deadlines are generous: under the full suite, tsx may start slowly while ejabberd boots.
    await waitFor('listening log line', () => (io.err.includes('privguard listening on 127.0.0.1:' + port) ? true : undefined), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; stderr so far: ${io.err.slice(-2000)}`);
    });
    // SIGHUP reopens the audit file and leaves the process running
    child!.kill('SIGHUP');
    await waitFor('reopen log line', () => (io.err.includes('audit file reopened') ? true : undefined), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; stderr so far: ${io.err.slice(-2000)}`);
    });
    expect(io.code).toBeUndefined();
    child!.kill('SIGTERM');
    await waitFor('exit', () => (io.code !== undefined ? true : undefined), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; stderr so far: ${io.err.slice(-2000)}`);
    });
    expect(io.code).toBe(0);
    expect(io.err).toContain('privguard stopped');
  }, 90_000);

  it('exits 1 with the errors when the policy is invalid', async () => {
    const io = start(tempPolicy('components: {}\n'));
    await waitFor('exit', () => (io.code !== undefined ? true : undefined), 15_000);
    expect(io.code).toBe(1);
    expect(io.err).toContain('at least one component is required');
  });

  it('exits 1 and says so when the listen port is taken', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const io = start(tempPolicy(`listen: { port: ${port} }\ncomponents:\n  c.example.org: { secret: s, upstream_secret: u }\n`));
      await waitFor('exit', () => (io.code !== undefined ? true : undefined), 15_000);
      expect(io.code).toBe(1);
      expect(io.err).toContain(`PG_LISTEN_FAILED: cannot listen on 127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
  });
});
