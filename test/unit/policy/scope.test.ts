import { describe, expect, it } from 'vitest';
import { compileJidScope, parseScopeEntry, type ScopeContext } from '../../../src/policy/scope.js';
import { parseJid, type Jid } from '../../../src/protocol/jid.js';
import { loadPolicyText } from '../../../src/config/load.js';
import { describePolicy } from '../../../src/config/describe.js';

const CTX: ScopeContext = { component: 'gw.example.org', server: 'example.org', self: 'alice@example.org' };

function jid(raw: string): Jid {
  const r = parseJid(raw);
  if (!r.ok) throw new Error(`bad test JID ${raw}`);
  return r.jid;
}

const inScope = (entries: string[], raw: string, ctx: ScopeContext = CTX) => compileJidScope(entries).matches(jid(raw), ctx);

describe('JID scopes: each kind', () => {
  it.each([
    // [entries, jid, expected]
    [['any'], 'anyone@anywhere.net/r', true],
    [[], 'alice@example.org', false],
    [['self'], 'alice@example.org', true],
    [['self'], 'alice@example.org/phone', true],
    [['self'], 'bob@example.org', false],
    [['self'], 'example.org', false],
    [['component'], 'gw.example.org', true],
    [['component'], '+3361234@gw.example.org', true],
    [['component'], 'x@gw.example.org/res', true],
    [['component'], 'x@sub.gw.example.org', false],
    [['component'], 'gw.example.org.evil.net', false],
    [['component'], 'alice@example.org', false],
    [['server'], 'example.org', true],
    [['server'], 'alice@example.org', false],
    [['server'], 'gw.example.org', false],
    [['upload.example.org'], 'upload.example.org', true],
    [['upload.example.org'], 'x@upload.example.org/r', true],
    [['upload.example.org'], 'x@example.org', false],
    [['upload.example.org'], 'x.upload.example.org', false],
    [['bot@example.org'], 'bot@example.org/r', true],
    [['bot@example.org'], 'bot2@example.org', false],
    [['bot@example.org'], 'example.org', false],
    [['*@conference.example.org'], 'room@conference.example.org', true],
    [['*@conference.example.org'], 'room@conference.example.org/nick', true],
    [['*@conference.example.org'], 'conference.example.org', false],
    [['*@conference.example.org'], 'room@conference.example.org.evil.net', false],
    [['*@conference.example.org'], 'room@xconference.example.org', false],
    [['room-?@conference.example.org'], 'room-1@conference.example.org', true],
    [['room-?@conference.example.org'], 'room-12@conference.example.org', false],
    [['*.example.org'], 'pubsub.example.org', true],
    [['*.example.org'], 'x@pubsub.example.org', true],
    [['*.example.org'], 'example.org', false],
    [['*.example.org'], 'x@evil.net', false],
    [['bot-*@*.example.org'], 'bot-1@a.example.org', true],
    [['bot-*@*.example.org'], 'bot-1@example.org', false],
    [['a.b@example.org'], 'axb@example.org', false],
  ])('%j matches %s: %s', (entries, raw, expected) => {
    expect(inScope(entries, raw)).toBe(expected);
  });

  it('self matches nothing when no user is concerned', () => {
    expect(inScope(['self'], 'alice@example.org', { component: 'gw.example.org', server: 'example.org' })).toBe(false);
  });

  it('a list matches when any entry does', () => {
    const s = compileJidScope(['self', 'component', 'upload.example.org']);
    expect(['alice@example.org', 'x@gw.example.org', 'upload.example.org', 'bob@example.org'].map((j) => s.matches(jid(j), CTX))).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(s.entries).toEqual(['self', 'component', 'upload.example.org']);
    expect(s.any).toBe(false);
    expect(compileJidScope(['component', 'any']).any).toBe(true);
    expect(compileJidScope([]).empty).toBe(true);
  });
});

describe('JID scopes: entries and JIDs are compared prepared', () => {
  it('case and width tricks neither dodge nor widen a scope', () => {
    expect(inScope(['Bot@Example.ORG'], 'bot@example.org')).toBe(true);
    expect(inScope(['bot@example.org'], 'BOT@EXAMPLE.org')).toBe(true);
    expect(inScope(['bot@example.org'], 'ｂｏｔ@example.org')).toBe(true);
    expect(inScope(['*@Conference.Example.ORG'], 'ROOM@conference.example.org')).toBe(true);
    expect(inScope(['UPLOAD.example.org.'], 'upload.example.org')).toBe(true);
  });

  it('entries and JIDs go through the server\'s stringprep (ignorable characters, case folding beyond lower case)', () => {
    expect(inScope(['bob@example.org'], 'b\u00ADob@example.org')).toBe(true);
    expect(inScope(['bo\u200Bb@example.org'], 'bob@example.org')).toBe(true);
    expect(inScope(['boss@example.org'], 'boß@example.org')).toBe(true);
    expect(inScope(['*@conference.example.org'], 'room@con\u00ADference.example.org')).toBe(true);
    expect(inScope(['b\u00AD*@example.org'], 'bx@example.org')).toBe(true);
  });

  it('a wildcard is a wildcard only where written', () => {
    expect(parseScopeEntry('WILDSTAR0@example.org')).toMatchObject({ ok: true, entry: { kind: 'jid', bare: 'wildstar0@example.org' } });
    expect(parseScopeEntry('WILDSTAR0*@example.org')).toMatchObject({ ok: false });
    expect(inScope(['x.y@example.org'], 'x-y@example.org')).toBe(false);
  });

  it.each(['alice@example.org/phone', '@example.org', 'a@b@c', 'bad domain', '*@bad domain', 'a b*@example.org', ''])('refuses the entry %j', (raw) => {
    const r = parseScopeEntry(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain('expected any, self, component, server');
  });

  it('keywords win over single-label domains', () => {
    expect(parseScopeEntry('component')).toEqual({ ok: true, entry: { kind: 'component' } });
    expect(parseScopeEntry('localhost')).toEqual({ ok: true, entry: { kind: 'domain', domain: 'localhost' } });
  });

  it('compiling an invalid entry is a programming error', () => {
    expect(() => compileJidScope(['a@b/c'])).toThrow(/not a JID scope/);
  });

  it('ten thousand literal entries compile and match', () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => `user${i}@example.org`);
    const s = compileJidScope([...entries, '*@room-?.example.org']);
    expect(s.matches(jid('user9999@example.org'), CTX)).toBe(true);
    expect(s.matches(jid('x@room-1.example.org'), CTX)).toBe(true);
    expect(s.matches(jid('user10000@example.org'), CTX)).toBe(false);
  });
});

describe('roster_subscription in the policy file', () => {
  const base = `components:\n  gw.example.org:\n    secret: s\n    upstream_secret: u\n    privileges:\n      example.org:\n        roster: both\n`;

  it('defaults to nothing', () => {
    const { policy } = loadPolicyText(base, 'p.yaml', {});
    expect(policy.components['gw.example.org']!.privileges['example.org']!.roster_subscription).toEqual([]);
  });

  it('takes a list of scopes', () => {
    const { policy } = loadPolicyText(`${base}        roster_subscription: [component, "*@conference.example.org"]\n`, 'p.yaml', {});
    expect(policy.components['gw.example.org']!.privileges['example.org']!.roster_subscription).toEqual(['component', '*@conference.example.org']);
  });

  it('refuses an invalid entry with its path', () => {
    expect(() => loadPolicyText(`${base}        roster_subscription: [component, "x@y/z"]\n`, 'p.yaml', {})).toThrow(
      /roster_subscription\.1.*not a JID scope/s,
    );
  });
});

describe('privguard check explains roster_subscription', () => {
  const policy = (extra: string, roster = 'both') =>
    `components:\n  gw.example.org:\n    secret: s\n    upstream_secret: u\n    privileges:\n      example.org:\n        roster: ${roster}\n${extra}`;

  it('says that the right gives the presence of the users whose rosters it writes', () => {
    const text = describePolicy(loadPolicyText(policy('        roster_subscription: [component]\n'), 'p.yaml', {}));
    expect(text).toContain(
      'note: gw.example.org on example.org: roster_subscription ["component"] lets its roster sets give those items a subscription, so it receives the presence of the users whose rosters it writes (whatever presence says)',
    );
  });

  it('says nothing by default, and that it is idle without roster set', () => {
    expect(describePolicy(loadPolicyText(policy(''), 'p.yaml', {}))).not.toContain('roster_subscription');
    expect(describePolicy(loadPolicyText(policy('        roster_subscription: [any]\n', 'get'), 'p.yaml', {}))).toContain('without roster set (roster is "get") it has no effect');
  });
});
