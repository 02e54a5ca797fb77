/**
 * The policy tests shipped in examples/ pass, run as an admin runs them: the
 * privguard executable, `privguard test`, exit code and output. Each
 * examples/NAME.tests.yaml tests examples/NAME.yaml (or config.example.yaml
 * for config.example.tests.yaml). A failing case prints its diff and exits 1.
 * Not on the server matrix: `privguard test` decides offline, from the policy
 * and the stanzas in the tests file; no server is started, so there is no
 * server version to vary.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function privguard(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out, err }));
  });
}

const testsFiles = readdirSync('examples')
  .filter((f) => f.endsWith('.tests.yaml'))
  .map((f) => join('examples', f));

/** The example policies read their secrets from the environment, as an admin's CI would provide them: a distinct value each. */
function secretsFor(policy: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const m of readFileSync(policy, 'utf8').matchAll(/\{ *env: *([A-Z0-9_]+) *\}/g)) env[m[1]!] = `example-${m[1]!.toLowerCase()}`;
  return env;
}

function policyOf(tests: string): string {
  const sibling = tests.replace(/\.tests\.yaml$/, '.yaml');
  return existsSync(sibling) ? sibling : 'config.example.yaml';
}

describe('the policy tests in examples/', () => {
  it('there are some, one per example policy at least', () => {
    expect(testsFiles).toContain('examples/config.example.tests.yaml');
    for (const policy of readdirSync('examples').filter((f) => f.endsWith('.yaml') && !f.endsWith('.tests.yaml'))) {
      expect(testsFiles, `tests for examples/${policy}`).toContain(join('examples', policy.replace(/\.yaml$/, '.tests.yaml')));
    }
  });

  it.each(testsFiles)('%s passes', async (tests) => {
    const r = await privguard(['test', '-c', policyOf(tests), tests], secretsFor(policyOf(tests)));
    expect(r.err).toBe('');
    const cases = (readFileSync(tests, 'utf8').match(/^- name:/gm) ?? []).length;
    expect(r.out).toContain(`${cases} passed, 0 failed`);
    expect(r.out).not.toContain('✗');
    expect(r.code).toBe(0);
  }, 30_000);

  it('a case that expects the wrong decision fails: its diff is printed and the exit code is 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-examples-'));
    const broken = join(dir, 'broken.tests.yaml');
    const text = readFileSync('examples/config.example.tests.yaml', 'utf8').replace(/expect: deny\n {2}reason: policy_denied/, 'expect: allow\n  reason: policy_denied');
    writeFileSync(broken, text);
    const r = await privguard(['test', '-c', 'config.example.yaml', broken]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('✗ it may not write a roster (roster is get only)');
    expect(r.out).toContain('expected: allow, reason policy_denied');
    expect(r.out).toContain('actual:   deny, reason policy_denied, rule components.pubsub.example.org.privileges.example.org.roster');
    expect(r.out).toMatch(/\d+ passed, 1 failed\n$/);
  }, 30_000);
});
