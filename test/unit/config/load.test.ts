import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicyFile, loadPolicyText } from '../../../src/config/load.js';
import { PolicyError, type PolicyIssue } from '../../../src/errors.js';

const MINIMAL = `components:
  pubsub.example.org:
    secret: s
    upstream_secret: u
`;

function issues(text: string, env: NodeJS.ProcessEnv = {}): PolicyIssue[] {
  try {
    loadPolicyText(text, 'p.yaml', env);
  } catch (e) {
    if (e instanceof PolicyError) return [...e.issues];
    throw e;
  }
  throw new Error('expected the policy to be rejected');
}

function only(text: string, env: NodeJS.ProcessEnv = {}): PolicyIssue {
  const found = issues(text, env);
  expect(found, JSON.stringify(found)).toHaveLength(1);
  return found[0]!;
}

describe('loadPolicyText: valid files', () => {
  it('fills in every default of the contract', () => {
    const { policy, components } = loadPolicyText(MINIMAL, 'p.yaml', {});
    expect(policy.listen).toEqual({ host: '127.0.0.1', port: 5347 });
    expect(policy.upstream).toEqual({ host: '127.0.0.1', port: 5348 });
    expect(policy.mode).toBe('enforce');
    expect(policy.audit).toEqual({ file: '-' });
    expect(policy.metrics).toBeUndefined();
    expect(policy.limits).toEqual({ max_stanza_bytes: 262144, pending_timeout_ms: 30000, max_pending: 1000 });
    const c = components.get('pubsub.example.org')!;
    expect(c.secret).toBe('s');
    expect(c.upstreamSecret).toBe('u');
    expect(c.policy.allow_shared_secret).toBe(false);
    expect(c.policy.speaks).toEqual({ privilege: 'auto', delegation: 'auto' });
  });

  it('defaults each privilege block to nothing, on behalf of every user', () => {
    const { policy } = loadPolicyText(`${MINIMAL}    privileges:\n      example.org: {}\n`, 'p.yaml', {});
    expect(policy.components['pubsub.example.org']!.privileges['example.org']).toEqual({
      roster: 'none',
      roster_subscription: [],
      roster_items: ['any'],
      message: 'none',
      message_to: ['any'],
      presence: 'none',
      iq: {},
      users: ['*'],
      except_users: [],
    });
  });

  it('normalises component names the way JIDs are compared', () => {
    const { components } = loadPolicyText('components:\n  PubSub.Example.ORG:\n    secret: s\n    upstream_secret: u\n', 'p.yaml', {});
    expect([...components.keys()]).toEqual(['pubsub.example.org']);
    expect(components.get('pubsub.example.org')!.key).toBe('PubSub.Example.ORG');
  });

  it('reads secrets from the environment and from files relative to the policy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-policy-'));
    writeFileSync(join(dir, 'upstream.secret'), 'from-file\n');
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, `components:\n  c.example.org:\n    secret: { env: C_SECRET }\n    upstream_secret: { file: upstream.secret }\n`);
    const { components } = loadPolicyFile(file, { C_SECRET: 'from-env' });
    expect(components.get('c.example.org')).toMatchObject({ secret: 'from-env', upstreamSecret: 'from-file' });
  });

  it('accepts the shipped config.example.yaml', () => {
    expect(() => loadPolicyFile('config.example.yaml', {})).not.toThrow();
  });

  it('returns a frozen policy', () => {
    const { policy } = loadPolicyText(MINIMAL, 'p.yaml', {});
    expect(Object.isFrozen(policy.components['pubsub.example.org'])).toBe(true);
  });
});

describe('loadPolicyText: every error names path, line:column and what is allowed', () => {
  it('unknown key, positioned on the key, listing the allowed keys', () => {
    const i = only(`${MINIMAL}    privileges:\n      example.org:\n        rosterr: get\n`);
    expect(i).toMatchObject({ path: 'components.pubsub.example.org.privileges.example.org.rosterr', line: 7, column: 9 });
    expect(i.message).toContain('unknown key "rosterr"');
    expect(i.message).toContain('roster, roster_push, roster_subscription, roster_items, message, message_to, presence, iq, users, except_users');
  });

  it('value outside an enumeration (the DESIGN example)', () => {
    const i = only(`${MINIMAL}    privileges:\n      example.org:\n        roster: read\n`);
    expect(i).toEqual({
      path: 'components.pubsub.example.org.privileges.example.org.roster',
      line: 7,
      column: 17,
      message: '"read" is not one of none, get, set, both',
    });
  });

  it('wrong type', () => {
    const i = only(`listen: { port: "x" }\n${MINIMAL}`);
    expect(i).toMatchObject({ path: 'listen.port', line: 1, column: 17 });
    expect(i.message).toBe('expected number, got "x"');
  });

  it('number out of range', () => {
    expect(only(`limits: { max_stanza_bytes: 10 }\n${MINIMAL}`).message).toBe('number 10 must be at least 1024');
  });

  it('missing required key, positioned on its parent', () => {
    const i = only('components:\n  pubsub.example.org:\n    upstream_secret: u\n    speaks: { privilege: 2 }\n');
    expect(i).toMatchObject({ path: 'components.pubsub.example.org.secret', line: 3, column: 5 });
    expect(i.message).toContain('missing required key "secret"');
  });

  it('missing components altogether', () => {
    expect(only('mode: report\n').message).toContain('missing required key "components"');
  });

  it('a secret of the wrong shape says which shapes are allowed', () => {
    const i = only('components:\n  c.example.org:\n    secret: { vault: x }\n    upstream_secret: u\n');
    expect(i.message).toContain('a non-empty string, { env: NAME } or { file: PATH }');
  });

  it('missing environment variable names it', () => {
    const i = only('components:\n  c.example.org:\n    secret: { env: NOPE_SECRET }\n    upstream_secret: u\n');
    expect(i).toMatchObject({ path: 'components.c.example.org.secret.env', line: 3, column: 20 });
    expect(i.message).toBe('environment variable NOPE_SECRET is not set (or empty)');
  });

  it('unreadable secret file names it', () => {
    const i = only('components:\n  c.example.org:\n    secret: { file: /nonexistent/secret }\n    upstream_secret: u\n');
    expect(i.message).toBe('cannot read secret file /nonexistent/secret (ENOENT)');
  });

  it('speaks accepts only auto, 1 or 2', () => {
    expect(only(`${MINIMAL}    speaks: { privilege: 3 }\n`).message).toContain('expected auto, 1 or 2');
  });

  it('presence roster without roster read (XEP-0356 §7.4)', () => {
    const i = only(`${MINIMAL}    privileges:\n      example.org: { roster: set, presence: roster }\n`);
    expect(i.path).toBe('components.pubsub.example.org.privileges.example.org.presence');
    expect(i.message).toContain('needs roster get or both');
  });

  it('roster_push without roster read (XEP-0356 §4.1)', () => {
    expect(only(`${MINIMAL}    privileges:\n      example.org: { roster: none, roster_push: true }\n`).message).toContain(
      'roster_push true needs roster get or both',
    );
  });

  it('granting urn:xmpp:privilege:* as an iq namespace', () => {
    const i = only(`${MINIMAL}    privileges:\n      example.org:\n        iq: { "urn:xmpp:privilege:2": get }\n`);
    expect(i.path).toBe('components.pubsub.example.org.privileges.example.org.iq.urn:xmpp:privilege:2');
  });

  it('delegating urn:xmpp:delegation:* (XEP-0355 BR5)', () => {
    const i = only(`${MINIMAL}    delegations:\n      example.org:\n        "urn:xmpp:delegation:2": {}\n`);
    expect(i.message).toContain('may not be delegated');
    expect(i.line).toBe(7);
  });

  it('accepts the special disco namespaces XEP-0355 §7.2.4/§7.2.5 define for delegation', () => {
    expect(() =>
      loadPolicyText(`${MINIMAL}    delegations:\n      example.org:\n        "urn:xmpp:delegation:2:bare:disco#info:*": {}\n        "urn:xmpp:delegation:2:bare:disco#items:*": {}\n`, 'p.yaml', {}),
    ).not.toThrow();
  });

  it('a component name that is not a domain', () => {
    expect(only('components:\n  "alice@example.org":\n    secret: s\n    upstream_secret: u\n').message).toContain('is not a valid component name');
  });

  it('two component names that are the same domain once normalised', () => {
    expect(only('components:\n  a.example.org: { secret: s, upstream_secret: u }\n  A.Example.Org: { secret: s, upstream_secret: u }\n').message).toContain(
      'is the same domain as "a.example.org"',
    );
  });

  it('a user pattern with a domain', () => {
    expect(only(`${MINIMAL}    privileges:\n      example.org: { users: ["alice@example.org"] }\n`).message).toContain('localpart glob');
  });

  it('listen and upstream on the same address', () => {
    expect(only(`listen: { port: 5347 }\nupstream: { port: 5347 }\n${MINIMAL}`).message).toContain('would connect to itself');
  });

  it('YAML syntax errors with their position', () => {
    const i = only('components:\n  c: [unclosed\n');
    expect(i.message).toMatch(/^YAML syntax/);
    expect(i.line).toBeGreaterThan(1);
  });

  it('duplicate YAML keys', () => {
    expect(only('mode: report\nmode: enforce\ncomponents: { c.example.org: { secret: s, upstream_secret: u } }\n').message).toMatch(/YAML syntax.*[Uu]nique|duplicate/i);
  });

  it('reports all errors of a broken file at once, in file order', () => {
    const found = issues(`listen: { port: 99999 }
mode: strict
bogus: 1
components:
  pubsub.example.org:
    secret: { env: MISSING }
    upstream_secret: u
    privileges:
      example.org: { roster: read, presence: roster, iq: { "urn:xmpp:privilege:2": both } }
    delegations:
      example.org: { "urn:xmpp:delegation:2": {} }
  "bad domain": { secret: s, upstream_secret: u }
`);
    expect(found.map((i) => i.path)).toEqual([
      'listen.port',
      'mode',
      'bogus',
      'components.pubsub.example.org.privileges.example.org.roster',
      'components.pubsub.example.org.privileges.example.org.presence',
      'components.pubsub.example.org.privileges.example.org.iq.urn:xmpp:privilege:2',
      'components.pubsub.example.org.delegations.example.org.urn:xmpp:delegation:2',
      'components.bad domain',
    ]);
    const lines = found.map((i) => i.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  it('never puts a secret in a message', () => {
    const found = issues('components:\n  c.example.org:\n    secret: topsecretvalue\n    upstream_secret: topsecretvalue\n    bogus: 1\n');
    expect(JSON.stringify(found)).not.toContain('topsecretvalue');
  });

  it('names an unreadable policy file', () => {
    expect(() => loadPolicyFile('/nonexistent/policy.yaml')).toThrow(/cannot read the policy file \(ENOENT\)/);
  });
});

describe('loadPolicyText: a pubsub node scope the other pubsub namespace leaves open', () => {
  const PS = 'http://jabber.org/protocol/pubsub';
  const policy = (plain: string, owner: string) => `components:
  gw.example.org:
    secret: s
    upstream_secret: u
    privileges:
      example.org:
        iq:
          "${PS}": ${plain}
          "${PS}#owner": ${owner}
`;
  const warnings = (text: string) =>
    loadPolicyText(text, 'p.yaml', {})
      .warnings.map((w) => `${w.path}: ${w.message}`)
      .filter((w) => w.includes('.iq.'));

  it('warns when #owner may write every node while pubsub is narrowed (it can reconfigure or delete the OMEMO nodes), and the other way round', () => {
    const w = warnings(policy('{ type: set, to: [self], nodes: ["urn:xmpp:bookmarks:1"] }', 'set'));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain(`iq.${PS}#owner`);
    expect(w[0]).toContain(`iq "${PS}#owner" reaches every node while iq "${PS}" is narrowed to nodes ["urn:xmpp:bookmarks:1"]`);
    expect(warnings(policy('both', '{ type: both, nodes: ["urn:xmpp:bookmarks:1"] }'))).toHaveLength(1);
    expect(warnings(policy('{ type: set, nodes: ["a"] }', '{ type: both, nodes: ["*"] }'))).toHaveLength(1);
  });

  it('is quiet when both are narrowed, when the wide one only reads, or when neither is narrowed', () => {
    expect(warnings(policy('{ type: set, nodes: ["a"] }', '{ type: set, nodes: ["a"] }'))).toEqual([]);
    expect(warnings(policy('{ type: set, nodes: ["a"] }', 'get'))).toEqual([]);
    expect(warnings(policy('both', 'both'))).toEqual([]);
  });
});
