import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('runs against a throwaway Prosody and every outcome matches', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('all outcomes as expected');
    expect(r.stdout).toMatch(/plain\.example\.test sends a message "from" bob@example\.test\s+denied: invalid-from\s+denied: invalid-from\s+ok/);
    expect(r.stdout).toContain('"reason":"invalid_from"');
    expect(r.status).toBe(0);
  });
});
