/**
 * Issue 11 item 1: a JID the server prepares to another text than privguard
 * judged is refused in every judged position (jid-malformed, reason
 * non_canonical_jid), never forwarded as is.
 */
import { describe, expect, it } from 'vitest';
import { framedOutboundPasses, isJudgedNamespace } from '../../../src/policy/framed.js';
import { decideOutbound } from '../../../src/policy/outbound.js';
import { frameStanza } from '../../../src/protocol/frame.js';
import { context, FULL_GRANT, stanza } from './helpers.js';

const POLICY = `example.test:
  roster: both
  message: outgoing
  iq: { "jabber:iq:private": both }
  users: ["*"]
  except_users: ["bob", "boss"]`;

const ctx = () => context(POLICY, FULL_GRANT);
const C = 'pubsub.example.test';

/** Aliases the server reads as bob (B.1 deletions, case, width) or boss (B.2: ß). */
const BOB_ALIASES = ['b\u00adob', 'bo\u200bb', '\ufeffbob', 'b\u034fob', 'bo\u2060b', 'b\ufe0fob', 'bo\u180db', 'Bob', 'ｂｏｂ'];
const BOSS_ALIASES = ['boß', 'BOSS', 'bo\u00adss'];
const ALIASES = [...BOB_ALIASES, ...BOSS_ALIASES];

function expectMalformed(xml: string, prepared: string): void {
  const v = decideOutbound(ctx().out, stanza(xml));
  expect(v).toMatchObject({ action: 'reject', reason: 'non_canonical_jid', audit: { domain: 'example.test', user: prepared } });
  if (v.action !== 'reject') return;
  const err = v.replies[0]!.stanza.getChild('error')!;
  expect(err.attrs.type).toBe('modify');
  expect(err.getChild('jid-malformed', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
}

const prepared = (alias: string) => (BOB_ALIASES.includes(alias) ? 'bob' : 'boss');

describe('JIDs not in prepared form are refused', () => {
  it.each(ALIASES)('roster get and set to %j', (alias) => {
    expectMalformed(`<iq type='get' id='r1' from='${C}' to='${alias}@example.test'><query xmlns='jabber:iq:roster'/></iq>`, prepared(alias));
    expectMalformed(`<iq type='set' id='r2' from='${C}' to='${alias}@example.test'><query xmlns='jabber:iq:roster'><item jid='x@example.test'/></query></iq>`, prepared(alias));
  });

  it.each(ALIASES)('privileged iq to %j', (alias) => {
    expectMalformed(
      `<iq type='set' id='p1' from='${C}' to='${alias}@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='set' id='i1'><query xmlns='jabber:iq:private'><x xmlns='a:b'/></query></iq></privileged_iq></iq>`,
      prepared(alias),
    );
  });

  it.each(ALIASES)('privileged message as %j', (alias) => {
    expectMalformed(
      `<message from='${C}' to='example.test'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='${alias}@example.test' to='carol@example.net'><body>hi</body></message></forwarded></privilege></message>`,
      prepared(alias),
    );
  });

  it('the inner "to" of a privileged message, the inner "from" of a privileged iq, a roster item', () => {
    const v1 = decideOutbound(
      ctx().out,
      stanza(`<message from='${C}' to='example.test'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.test' to='Carol@example.net'/></forwarded></privilege></message>`),
    );
    expect(v1).toMatchObject({ action: 'reject', reason: 'non_canonical_jid' });
    const v2 = decideOutbound(
      ctx().out,
      stanza(`<iq type='get' id='p2' from='${C}' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='get' id='i2' from='Alice@example.test'><query xmlns='jabber:iq:private'><x xmlns='a:b'/></query></iq></privileged_iq></iq>`),
    );
    expect(v2).toMatchObject({ action: 'reject', reason: 'non_canonical_jid' });
    const v3 = decideOutbound(ctx().out, stanza(`<iq type='set' id='r3' from='${C}' to='alice@example.test'><query xmlns='jabber:iq:roster'><item jid='b\u00adob@example.test'/></query></iq>`));
    expect(v3).toMatchObject({ action: 'reject', reason: 'non_canonical_jid' });
  });

  it('the text shows the invisible characters and the prepared JID', () => {
    const v = decideOutbound(ctx().out, stanza(`<iq type='get' id='r1' from='${C}' to='b\u00adob@example.test'><query xmlns='jabber:iq:roster'/></iq>`));
    expect(v.detail).toBe('"to" "b\\u{ad}ob@example.test" is bob@example.test to the server');
  });

  it('plain stanzas too, and a "from" under the component; errors and results are dropped, not answered', () => {
    expect(decideOutbound(ctx().out, stanza(`<message from='${C}' to='Alice@example.test'><body>x</body></message>`))).toMatchObject({ action: 'reject', reason: 'non_canonical_jid' });
    expect(decideOutbound(ctx().out, stanza(`<presence from='X\u200b@${C}' to='alice@example.test'/>`))).toMatchObject({ action: 'reject', reason: 'non_canonical_jid' });
    expect(decideOutbound(ctx().out, stanza(`<iq type='result' id='z' from='${C}' to='Alice@example.test'/>`))).toMatchObject({ action: 'drop', reason: 'non_canonical_jid' });
  });

  it('the prepared forms pass (alice is in scope)', () => {
    expect(decideOutbound(ctx().out, stanza(`<iq type='get' id='r1' from='${C}' to='alice@example.test'><query xmlns='jabber:iq:roster'/></iq>`))).toMatchObject({ action: 'pass' });
    expect(decideOutbound(ctx().out, stanza(`<message from='${C}' to='alice@example.test/Phone 1'><body>x</body></message>`))).toMatchObject({ action: 'pass' });
  });

  it('the fast path sends such stanzas to the full path', () => {
    const framed = (xml: string) => frameStanza(xml, 0, { maxStanzaBytes: 1 << 16, maxDepth: 32 }, isJudgedNamespace)!;
    expect(framedOutboundPasses(C, framed(`<message from='${C}' to='alice@example.test'><body>x</body></message>`), () => false)).toBe(true);
    expect(framedOutboundPasses(C, framed(`<message from='${C}' to='b\u00adob@example.test'><body>x</body></message>`), () => false)).toBe(false);
    expect(framedOutboundPasses(C, framed(`<message from='X@${C}' to='alice@example.test'><body>x</body></message>`), () => false)).toBe(false);
  });
});
