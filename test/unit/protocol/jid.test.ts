import { describe, expect, it } from 'vitest';
import { normaliseDomain, parseJid } from '../../../src/protocol/jid.js';

describe('parseJid', () => {
  it('case-folds localpart and domain, keeps the resource', () => {
    const r = parseJid('ADMIN@Example.ORG/Res');
    expect(r).toEqual({ ok: true, jid: { local: 'admin', domain: 'example.org', resource: 'Res', bare: 'admin@example.org' } });
  });

  it('applies NFKC (full-width letters are their ASCII forms)', () => {
    const r = parseJid('ａｌｉｃｅ@example.org');
    expect(r.ok && r.jid.local).toBe('alice');
  });

  it('accepts a domain-only JID and a trailing dot', () => {
    expect(parseJid('Example.ORG.')).toMatchObject({ ok: true, jid: { bare: 'example.org', local: '' } });
  });

  it.each(['@example.org', 'a@', 'a b@example.org', 'a@exa mple.org', 'a@example.org/', 'a"b@example.org', 'a@b@example.org', 'x@..', 'x@example.org/\u0001'])(
    'refuses %s',
    (raw) => {
      expect(parseJid(raw).ok).toBe(false);
    },
  );

  it('treats the resource separator before @ as starting the resource', () => {
    expect(parseJid('example.org/a@b')).toMatchObject({ ok: true, jid: { domain: 'example.org', resource: 'a@b' } });
  });

  it('normaliseDomain refuses what is not a domain', () => {
    expect(normaliseDomain('pubsub.example.org')).toBe('pubsub.example.org');
    expect(normaliseDomain('bad domain')).toBeUndefined();
    expect(normaliseDomain('')).toBeUndefined();
  });
});
