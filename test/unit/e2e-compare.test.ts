/** The e2e harness's stanza comparison (test/e2e/harness/compare.ts): what it masks, what it still sees. */
import { describe, expect, it } from 'vitest';
import { xml } from '@xmpp/component';
import { compareTranscripts, formatDifferences, normalise, unexpectedDifferences } from '../e2e/harness/compare.js';

const carbon = (id: string, stamp: string, sid: string) =>
  xml(
    'message',
    { xmlns: 'jabber:client', to: 'alice@example.test/phone', from: 'alice@example.test', id, type: 'chat' },
    xml('sent', { xmlns: 'urn:xmpp:carbons:2' }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('delay', { xmlns: 'urn:xmpp:delay', stamp }), xml('message', { xmlns: 'jabber:client', to: 'x@gw.example.test' }, xml('body', {}, 'hi')))),
    xml('stanza-id', { xmlns: 'urn:xmpp:sid:0', id: sid, by: 'alice@example.test' }),
  );

describe('normalise', () => {
  it('masks ids, stamps and stanza-ids; sorts attributes; resolves namespaces', () => {
    const a = normalise(carbon('a1', '2026-12-03T06:00:00Z', 'S1'));
    const b = normalise(carbon('zz', '2026-12-03T07:11:12.123Z', 'S2'));
    expect(a).toBe(b);
    expect(a).toContain('<message from="alice@example.test" id="*" to="alice@example.test/phone" type="chat">');
    expect(a).toContain('<sent xmlns="urn:xmpp:carbons:2">');
    expect(a).toContain('<delay xmlns="urn:xmpp:delay" stamp="*"/>');
  });

  it('keeps what matters: a different body or recipient is a different stanza', () => {
    const base = normalise(carbon('a', '2026-12-03T06:00:00Z', 's'));
    const other = carbon('a', '2026-12-03T06:00:00Z', 's');
    other.getChild('sent')!.getChild('forwarded')!.getChild('message')!.attrs.to = 'bob@example.test';
    expect(normalise(other)).not.toBe(base);
  });

  it('component and client streams compare alike; mask and replace apply', () => {
    const c = xml('presence', { xmlns: 'jabber:component:accept', from: 'alice@example.test/Ab12', to: 'gw.example.test' });
    const u = xml('presence', { xmlns: 'jabber:client', from: 'alice@example.test/Cd34', to: 'gw.example.test' });
    expect(normalise(c, { mask: ['Ab12'] })).toBe(normalise(u, { mask: ['Cd34'] }));
    expect(normalise(c, { replace: [[/\/Ab12/g, '/R']] })).toBe('<presence from="alice@example.test/R" to="gw.example.test"/>');
  });

  it('children of stanzas, roster queries and RSM sets compare as sets; other children keep their order', () => {
    const m = (...names: string[]) => xml('message', { xmlns: 'jabber:client' }, ...names.map((n) => xml(n, { xmlns: 'urn:xmpp:hints' })));
    expect(normalise(m('store', 'markable'))).toBe(normalise(m('markable', 'store')));
    const form = (...vals: string[]) => xml('iq', { xmlns: 'jabber:client' }, xml('x', { xmlns: 'jabber:x:data' }, ...vals.map((v) => xml('value', {}, v))));
    expect(normalise(form('a', 'b'))).not.toBe(normalise(form('b', 'a')));
    expect(normalise(form('a', 'b'), { unordered: [['jabber:x:data', 'x']] })).toBe(normalise(form('b', 'a'), { unordered: [['jabber:x:data', 'x']] }));
  });

  it('random ids (uuid4, with or without dashes) are masked wherever they are', () => {
    const inner = (id: string) => xml('message', { xmlns: 'jabber:client' }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('message', { xmlns: 'jabber:client', id })));
    expect(normalise(inner('78692567885e4c2e9e45ce4ae694f97d'))).toBe(normalise(inner('154afbfa-4a1b-47fe-a91b-4d3b6605f4da')));
    expect(normalise(inner('c1'))).not.toBe(normalise(inner('c2')));
  });
});

describe('compareTranscripts', () => {
  const p = (to: string) => xml('presence', { xmlns: 'jabber:client', to });
  it('multiset by default; counts extra copies', () => {
    const d = compareTranscripts({ u: [p('x'), p('y'), p('y')] }, { u: [p('y'), p('x')] });
    expect(d).toEqual([{ party: 'u', only: 'a', stanza: '<presence to="y"/>', count: 1 }]);
    expect(formatDifferences(d)).toBe('u [only in a] <presence to="y"/>');
  });

  it('ordered parties see order; drop leaves stanzas out', () => {
    expect(compareTranscripts({ u: [p('x'), p('y')] }, { u: [p('y'), p('x')] }, { ordered: ['u'] })).toHaveLength(2);
    expect(compareTranscripts({ u: [p('x'), p('y')] }, { u: [p('y')] }, { drop: (el) => el.attrs.to === 'x' })).toEqual([]);
    expect(compareTranscripts({ u: [p('x')] }, { v: [p('x')] })).toHaveLength(2);
  });

  it('unexpectedDifferences: listed ones pass, others and unused expectations are reported', () => {
    const d = compareTranscripts({ u: [p('x'), p('bob')] }, { u: [p('x')] });
    const r = unexpectedDifferences(d, [
      { party: 'u', only: 'a', match: 'bob', why: 'narrow policy hides bob' },
      { party: 'u', only: 'b', match: /never/ },
    ]);
    expect(r.unexpected).toEqual([]);
    expect(r.expected).toHaveLength(1);
    expect(r.unused).toHaveLength(1);
    expect(unexpectedDifferences(d, []).unexpected).toHaveLength(1);
  });
});
