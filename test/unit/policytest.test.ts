/** `privguard test`: cases through the decisions, the runner's output and exit codes, file errors with line:column. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli.js';
import { runCli } from '../support/cli-main.js';
import { loadCasesText } from '../../src/policytest/cases.js';
import { policyFor } from '../../src/policytest/command.js';

const run = runCli;

const POLICY = `components:
  gw.example.org:
    secret: component-secret
    upstream_secret: server-secret
    privileges:
      example.org:
        roster: get
        except_users: [admin]
`;

const ROSTER_SET = `"<iq type='set' id='r1' from='gw.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'><item jid='x@example.org'/></query></iq>"`;
const ROSTER_GET = `"<iq type='get' id='r2' from='gw.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>"`;

function files(tests: string, policy = POLICY): { dir: string; policy: string; tests: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pg-policytest-'));
  writeFileSync(join(dir, 'gw.yaml'), policy);
  writeFileSync(join(dir, 'gw.tests.yaml'), tests);
  return { dir, policy: join(dir, 'gw.yaml'), tests: join(dir, 'gw.tests.yaml') };
}

const GOOD = `- name: a gateway may not write rosters
  component: gw.example.org
  grant: server default
  from: component
  stanza: ${ROSTER_SET}
  expect: deny
  reason: policy_denied
  rule: components.gw.example.org.privileges.example.org.roster
- name: it may read them
  component: gw.example.org
  from: component
  stanza: ${ROSTER_GET}
  expect: allow
`;

describe('privguard test', () => {
  it('prints ✓ per case and the totals, and exits 0 when all pass', async () => {
    const f = files(GOOD);
    const r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.err).toBe('');
    expect(r.out).toContain('  ✓ a gateway may not write rosters\n  ✓ it may read them\n');
    expect(r.out).toMatch(/2 passed, 0 failed\n$/);
    expect(r.code).toBe(EXIT.ok);
  });

  it('finds NAME.yaml beside NAME.tests.yaml without -c', async () => {
    const f = files(GOOD);
    expect(policyFor(f.tests, undefined, {})).toBe(f.policy);
    expect(policyFor(join(f.dir, 'other.yaml'), undefined, { PRIVGUARD_CONFIG: '/etc/p.yaml' })).toBe('/etc/p.yaml');
    expect(policyFor(f.tests, 'given.yaml', {})).toBe('given.yaml');
    expect(policyFor(join(f.dir, 'other.yaml'), undefined, {})).toBe('/etc/privguard/policy.yaml');
    const r = await run(['test', f.tests]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain(`(policy ${f.policy}, revision `);
  });

  it('prints expected vs actual for a failing case and exits 1', async () => {
    const f = files(GOOD.replace('expect: deny', 'expect: allow'));
    const r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.code).toBe(EXIT.failure);
    expect(r.out).toContain(`  ✗ a gateway may not write rosters  (${f.tests}:1:3)`);
    expect(r.out).toContain('      expected: allow, reason policy_denied, rule components.gw.example.org.privileges.example.org.roster');
    expect(r.out).toContain('      actual:   deny, reason policy_denied, rule components.gw.example.org.privileges.example.org.roster');
    expect(r.out).toContain('      text:     privguard: roster set not allowed');
    expect(r.out).toMatch(/1 passed, 1 failed\n$/);
  });

  it('a wrong reason or rule fails the case even when the decision matches', async () => {
    const f = files(GOOD.replace('reason: policy_denied', 'reason: user_out_of_scope'));
    const r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.code).toBe(EXIT.failure);
    expect(r.out).toContain('✗ a gateway may not write rosters');
  });

  it('judges against the grant given as an advertisement: what the server does not grant is denied', async () => {
    const adv = `"<message from='example.org' to='gw.example.org'><privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/></privilege></message>"`;
    const f = files(`- name: no roster from the server, none for the component
  component: gw.example.org
  grant: ${adv}
  from: component
  stanza: ${ROSTER_GET}
  expect: deny
  reason: server_denied
- name: the advertisement is cut to the effective rights
  component: gw.example.org
  from: server
  stanza: ${adv}
  expect: filter
  reason: advertise
`);
    const r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.out).toMatch(/2 passed, 0 failed/);
    expect(r.code).toBe(EXIT.ok);
  });

  it('an invalid tests file is an error with path and line:column, exit 1', async () => {
    const f = files(`- name: typo
  component: gw.example.org
  from: component
  stanza: ${ROSTER_GET}
  expect: maybe
  reasn: x
- name: broken XML
  component: gw.example.org
  from: side
  stanza: "<iq type='get'"
  expect: allow
`);
    const r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toContain(`${f.tests}: 0.expect (5:11): must be one of allow, deny, filter`);
    expect(r.err).toContain(`${f.tests}: 0.reasn (6:3): unknown key "reasn"`);
    expect(r.err).toContain(`${f.tests}: 1.from (9:9): must be one of component, server`);
    expect(r.out).toMatch(/0 passed, 0 failed, 1 file invalid\n$/);
  });

  it('XML that does not parse, and a component the policy lacks, are file errors at their line:column', async () => {
    const f = files(`- name: broken XML
  component: gw.example.org
  from: component
  stanza: "<iq type='get'><query></iq>"
  expect: allow
`);
    let r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toMatch(new RegExp(`0\\.stanza \\(4:11\\): stanza: .*`));
    const g = files(`- name: unknown component
  component: nope.example.org
  from: component
  stanza: ${ROSTER_GET}
  expect: allow
`);
    r = await run(['test', '-c', g.policy, g.tests]);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toContain('0.component (2:14): "nope.example.org" is not a component of');
  });

  it('an invalid policy is reported as for check, with line:column', async () => {
    const f = files(GOOD, 'mode: strict\ncomponents: {}\n');
    const r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toContain(`${f.policy}: mode (1:7): "strict" is not one of enforce, report`);
  });

  it('without a tests file it is a usage error (exit 2)', async () => {
    expect((await run(['test'])).code).toBe(EXIT.usage);
  });

  it('a tests file is a list of at least one case, each with one stanza', () => {
    expect(() => loadCasesText('{}', 't.yaml')).toThrow(/expected array/);
    expect(() => loadCasesText('[]', 't.yaml')).toThrow(/at least one case/);
    expect(() =>
      loadCasesText(`- { name: two, component: gw.example.org, from: component, expect: allow, stanza: "<message to='a@b'/><message to='a@b'/>" }`, 't.yaml'),
    ).toThrow(/holds 2 stanzas/);
  });
});

describe('what allow and filter mean', () => {
  it('roster items hidden by roster_items are filter; a rebuilt delegated reply is allow', async () => {
    const policy = `components:
  gw.example.org:
    secret: component-secret
    upstream_secret: server-secret
    privileges:
      example.org:
        roster: get
        roster_items: [component]
    delegations:
      example.org:
        "urn:xmpp:mam:2": { attributes: [node] }
`;
    const result = `"<iq type='result' id='g1' from='alice@example.org' to='gw.example.org'><query xmlns='jabber:iq:roster'><item jid='bob@example.org'/><item jid='x@gw.example.org'/></query></iq>"`;
    const pending = `"<iq type='set' id='d1' from='example.org' to='gw.example.org'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='set' id='q1' from='alice@example.org/phone' to='alice@example.org'><query xmlns='urn:xmpp:mam:2' node='x'/></iq></forwarded></delegation></iq>"`;
    const reply = `"<iq type='result' id='d1' from='gw.example.org' to='example.org'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='q1' from='alice@example.org' to='alice@example.org/phone'/></forwarded></delegation></iq>"`;
    const f = files(`- name: bob is hidden from the roster result
  component: gw.example.org
  from: server
  pending: ${`"<iq type='get' id='g1' from='gw.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>"`}
  stanza: ${result}
  expect: filter
  reason: out_of_scope
- name: the component answers the delegated query it was given
  component: gw.example.org
  from: component
  pending: ${pending}
  stanza: ${reply}
  expect: allow
`, policy);
    const r = await run(['test', '-c', f.policy, f.tests]);
    expect(r.out, r.out + r.err).toMatch(/2 passed, 0 failed/);
    expect(r.code).toBe(EXIT.ok);
  });
});
