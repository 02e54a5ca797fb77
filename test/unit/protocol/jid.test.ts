import { describe, expect, it } from 'vitest';
import { isCanonicalJid, normaliseDomain, parseJid } from '../../../src/protocol/jid.js';

describe('parseJid', () => {
  it('prepares localpart and domain (nodeprep, nameprep), the resource with resourceprep (case kept)', () => {
    const r = parseJid('ADMIN@Example.ORG/Res');
    expect(r).toEqual({ ok: true, jid: { local: 'admin', domain: 'example.org', resource: 'Res', bare: 'admin@example.org' }, canonical: false });
  });

  it('applies NFKC (full-width letters are their ASCII forms)', () => {
    const r = parseJid('ａｌｉｃｅ@example.org');
    expect(r.ok && r.jid.local).toBe('alice');
  });

  it('accepts a domain-only JID and strips a trailing dot (not canonical)', () => {
    expect(parseJid('Example.ORG.')).toMatchObject({ ok: true, jid: { bare: 'example.org', local: '' }, canonical: false });
  });

  it.each([
    ['b\u00adob', 'soft hyphen (B.1)'],
    ['bo\u200bb', 'zero width space (B.1)'],
    ['\ufeffbob', 'BOM (B.1)'],
    ['b\u034fob', 'combining grapheme joiner (B.1)'],
    ['bo\u180bb', 'Mongolian variation selector (B.1)'],
    ['b\ufe0fob', 'variation selector 16 (B.1)'],
    ['BOB', 'upper case'],
  ])('%s (%s) is bob to the server: prepared to bob, not canonical', (local) => {
    expect(parseJid(`${local}@example.org`)).toMatchObject({ ok: true, jid: { local: 'bob', bare: 'bob@example.org' }, canonical: false });
    expect(isCanonicalJid(`${local}@example.org`)).toBe(false);
  });

  it('B.2 case folding beyond lower-casing: ß is ss, final sigma is sigma', () => {
    expect(parseJid('boß@example.org')).toMatchObject({ ok: true, jid: { local: 'boss' }, canonical: false });
    expect(parseJid('σας@example.org')).toMatchObject({ ok: true, jid: { local: 'σασ' } });
  });

  it('prepared JIDs are canonical', () => {
    for (const raw of ['bob@example.org', 'example.org', 'bob@example.org/Phone 1', 'σασ@example.org', 'bücher.example', 'a@b/c@d/e']) {
      expect(isCanonicalJid(raw), raw).toBe(true);
    }
  });

  it.each([
    '@example.org',
    'a@',
    'a b@example.org',
    'a@exa mple.org',
    'a@example.org/',
    'a"b@example.org',
    'a@b@example.org',
    'x@..',
    'x@example.org/\u0001',
    '\u05d0a@example.org',
    'x\u0221@example.org',
    '\u00ad@example.org',
    `${'a'.repeat(1024)}@example.org`,
    `a@example.org/${'é'.repeat(512)}`,
  ])('refuses %j', (raw) => {
    expect(parseJid(raw).ok).toBe(false);
  });

  it('treats the resource separator before @ as starting the resource', () => {
    expect(parseJid('example.org/a@b')).toMatchObject({ ok: true, jid: { domain: 'example.org', resource: 'a@b' } });
  });

  it('normaliseDomain refuses what is not a domain', () => {
    expect(normaliseDomain('pubsub.example.org')).toBe('pubsub.example.org');
    expect(normaliseDomain('Pub\u00adSub.example.org.')).toBe('pubsub.example.org');
    expect(normaliseDomain('bad domain')).toBeUndefined();
    expect(normaliseDomain('')).toBeUndefined();
  });
});
