/**
 * Secure defaults through the real command line (a child process running
 * src/cli.ts): the server's secret is required, may not be a secret a
 * component knows, and literal secrets or a policy readable by every user
 * are warned about.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './cli-process.js';

function policy(text: string, mode = 0o600): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-secrets-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

describe('privguard check: secure defaults', () => {
  it('requires upstream_secret, positioned on the component (exit 1)', async () => {
    const file = policy('components:\n  c.example.org:\n    secret: { env: C_SECRET }\n');
    const r = await cli(['check', '-c', file], { C_SECRET: 'a' });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${file}: components.c.example.org.upstream_secret (3:5): missing required key "upstream_secret"`);
  });

  it('refuses an upstream_secret equal to the component\'s own secret or to another component\'s, with line:column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-secrets-'));
    writeFileSync(join(dir, 'b.secret'), 'shared-b\n', { mode: 0o600 });
    const file = join(dir, 'policy.yaml');
    writeFileSync(
      file,
      [
        'components:',
        '  a.example.org:',
        '    secret: { env: A_SECRET }',
        '    upstream_secret: { env: A_UPSTREAM }',
        '  b.example.org:',
        '    secret: { file: b.secret }',
        '    upstream_secret: { env: B_UPSTREAM }',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const r = await cli(['check', '-c', file], { A_SECRET: 'same-a', A_UPSTREAM: 'shared-b', B_UPSTREAM: 'same-a' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('the policy is invalid (2 errors)');
    expect(r.err).toContain(`${file}: components.a.example.org.upstream_secret (4:22): upstream_secret is the same as the secret of component b.example.org`);
    expect(r.err).toContain(`${file}: components.b.example.org.upstream_secret (7:22): upstream_secret is the same as the secret of component a.example.org`);
    expect(r.err).not.toContain('same-a');
    expect(r.err).not.toContain('shared-b');

    writeFileSync(file, 'components:\n  c.example.org:\n    secret: { env: C_SECRET }\n    upstream_secret: { env: C_UPSTREAM }\n');
    const own = await cli(['check', '-c', file], { C_SECRET: 'x', C_UPSTREAM: 'x' });
    expect(own.code).toBe(1);
    expect(own.err).toContain('components.c.example.org.upstream_secret (4:22): upstream_secret is the same as its secret');
    expect(own.err).toContain('allow_shared_secret: true');
  });

  it('allow_shared_secret: true turns the shared secret into a warning (exit 0)', async () => {
    const file = policy(
      'components:\n  c.example.org:\n    secret: { env: C_SECRET }\n    upstream_secret: { env: C_SECRET }\n    allow_shared_secret: true\n',
    );
    const r = await cli(['check', '-c', file], { C_SECRET: 'x' });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`policy ${file}: OK`);
    expect(r.out).toContain('(allow_shared_secret)');
    expect(r.err).toContain(
      `privguard: warning: ${file}: components.c.example.org.upstream_secret (4:22): upstream_secret is the same as its secret (allowed by allow_shared_secret)`,
    );
  });

  it('warns about literal secrets (naming { env } and { file }) and a policy file readable by every user', async () => {
    const file = policy('components:\n  c.example.org:\n    secret: literal-one\n    upstream_secret: literal-two\n', 0o644);
    const r = await cli(['check', '-c', file]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`privguard: warning: ${file}: (root) (0:0): the policy file is readable by every user (mode 0644)`);
    expect(r.err).toContain(`components.c.example.org.secret (3:13): secret is written in the policy file; keep it out with { env: NAME } or { file: PATH }`);
    expect(r.err).toContain(`components.c.example.org.upstream_secret (4:22): upstream_secret is written in the policy file`);
    expect(r.err).not.toContain('literal-one');

    // the same grants, secrets from the environment, file mode 0600: no warning at all
    const clean = policy('components:\n  c.example.org:\n    secret: { env: C_SECRET }\n    upstream_secret: { env: C_UPSTREAM }\n');
    const ok = await cli(['check', '-c', clean], { C_SECRET: 'a', C_UPSTREAM: 'b' });
    expect(ok.code).toBe(0);
    expect(ok.err).toBe('');
    expect(ok.out).toMatch(/OK \(revision [0-9a-f]{12}\)/);
  });
});
