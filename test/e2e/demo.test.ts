/**
 * `npm run demo` end to end. Not on the server matrix: the demo is defined as
 * what a newcomer runs on this machine's own Prosody (Debian's prosody and
 * prosody-modules, installed by its predemo script, no chroot and no root
 * needed), and its table of outcomes is written for that server. The same
 * decisions on the other servers are covered by the suites that run on each
 * (privileges, delegation, presence, ejabberd).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('runs against a throwaway Prosody and every outcome matches', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).toBe('');
    const row = (action: string, outcome: string) => new RegExp(`${action.replace(/[()"→']/g, '.')}\\s+${outcome}\\s+${outcome}\\s+ok`);
    for (const [action, outcome] of [
      ['roster get: alice.s roster', 'answered'],
      ['roster set: add mallory to alice.s roster', 'denied: forbidden'],
      ['privileged message as alice → bob', 'delivered'],
      ['privileged message as carol (not in users) → bob', 'denied: forbidden'],
      ["privileged IQ: read alice's private storage", 'answered'],
      ["privileged IQ: read alice's vCard", 'denied: forbidden'],
      ['presence: alice comes online again', 'received'],
      ['presence: carol (not in users) comes online', 'filtered'],
      ["alice's MAM query with node (delegated)", 'answered'],
      ["alice's MAM query the component never answers (times out after 1.5 s)", 'denied: service-unavailable'],
      ["alice's pubsub request (the policy does not delegate pubsub)", 'denied: service-unavailable'],
      ['plain.example.test sends a message "from" bob@example.test', 'denied: invalid-from'],
    ] as const) {
      expect(r.stdout).toMatch(row(action, outcome));
    }
    expect(r.stdout).toContain('"reason":"user_out_of_scope"');
    expect(r.stdout).toContain('all outcomes as expected');
    expect(r.status).toBe(0);
  });
});
