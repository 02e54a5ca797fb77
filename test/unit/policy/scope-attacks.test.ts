/**
 * An attacker holding one scoped right, looking for a second (issue 14):
 * the tricks a compromised component would try against each content scope.
 * The server grants everything, so only the policy's scopes stand between
 * the component and the user's account.
 */
import { describe, expect, it } from 'vitest';
import { decideInbound } from '../../../src/policy/inbound.js';
import { decideOutbound } from '../../../src/policy/outbound.js';
import type { Verdict } from '../../../src/policy/verdict.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { C, context, stanza } from './helpers.js';

const D = 'example.test';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const OWNER = `${PUBSUB}#owner`;
const OMEMO = 'urn:xmpp:omemo:2:devices';
const BOOKMARKS = 'urn:xmpp:bookmarks:1';
const GRANT = `<message from='${D}' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/><perm access='presence' type='roster'/><perm access='iq'>${[PUBSUB, OWNER, 'jabber:iq:roster', 'vcard-temp'].map((ns) => `<namespace ns='${ns}' type='both'/>`).join('')}</perm></privilege></message>`;

const POLICY = `${D}:
  roster: both
  presence: roster
  roster_items: [component]
  message: outgoing
  message_to: [component, "*@conference.example.test"]
  iq:
    "${PUBSUB}": { type: both, to: [self], nodes: ["${BOOKMARKS}", "urn:xmpp:avatar:*"] }
    "${OWNER}": { type: set, to: [self], nodes: ["${BOOKMARKS}"] }
    "jabber:iq:roster": both
    "vcard-temp": { type: get, to: [self, server] }`;

const out = (xml: string): Verdict => decideOutbound(context(POLICY, GRANT).out, stanza(xml));
const inb = (xml: string): Verdict => decideInbound(context(POLICY, GRANT).in, stanza(xml));

const privMsg = (to: string) =>
  `<message from='${C}' to='${D}' id='m1'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@${D}' to='${to}' type='chat' id='i1'><body>as alice</body></message></forwarded></privilege></message>`;
const privIq = (type: 'get' | 'set', payload: string, innerTo?: string) =>
  `<iq from='${C}' to='alice@${D}' type='${type}' id='p1'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='${type}' id='i1'${innerTo === undefined ? '' : ` to='${innerTo}'`}>${payload}</iq></privileged_iq></iq>`;
const pubsub = (children: string, ns = PUBSUB) => `<pubsub xmlns='${ns}'>${children}</pubsub>`;

function refusedOutOfScope(v: Verdict, rule: string): void {
  expect(v.action).toBe('reject');
  expect(v.reason).toBe('out_of_scope');
  expect(v.rule?.path).toBe(`components.${C}.privileges.${D}.${rule}`);
}

describe('message_to: lookalikes of the component domain', () => {
  it('a full JID at the component domain is in scope (resources never matter)', () => {
    expect(out(privMsg(`x@${C}/phone`)).action).toBe('pass');
    expect(out(privMsg(C)).action).toBe('pass');
  });

  it('the component name as a subdomain, a resource, a localpart or a prefix is not the component', () => {
    for (const to of [`${C}.evil.org`, `evil.org/${C}`, `x@evil.org/${C}`, `pubsub@evil.org`, `x@sub.${C}`, `x@${C.replace('pubsub', 'pubsubx')}`, 'x@evil.org']) {
      refusedOutOfScope(out(privMsg(to)), 'message_to');
    }
  });

  it('case, width and ignorable-character variants never reach the scope check (refused as JIDs not in prepared form)', () => {
    for (const to of [`x@PUBSUB.example.test`, `x@ｐｕｂｓｕｂ.example.test`, `bob@example.test\u00ad`, `b\u200bob@example.test`]) {
      const v = out(privMsg(to));
      expect(v.action, to).toBe('reject');
      expect(v.reason, to).toBe('non_canonical_jid');
    }
  });

  it('*@conference.example.test reaches the rooms, not the MUC service itself nor rooms of a subdomain', () => {
    expect(out(privMsg('room@conference.example.test')).action).toBe('pass');
    expect(out(privMsg('room@conference.example.test/nick')).action).toBe('pass');
    refusedOutOfScope(out(privMsg('conference.example.test')), 'message_to');
    refusedOutOfScope(out(privMsg('room@x.conference.example.test')), 'message_to');
    refusedOutOfScope(out(privMsg('room@conference.example.test.evil.org')), 'message_to');
  });
});

describe('pubsub nodes: a scope for bookmarks is not one for OMEMO', () => {
  it('every child with a node is judged: a second operation on the device list refuses the whole IQ', () => {
    expect(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item id='current'/></publish>`))).action).toBe('pass');
    refusedOutOfScope(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item/></publish><publish node='${OMEMO}'><item/></publish>`))), `iq.${PUBSUB}.nodes`);
    refusedOutOfScope(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item/></publish><retract node='${OMEMO}'><item id='x'/></retract>`))), `iq.${PUBSUB}.nodes`);
  });

  it('configure or options siblings that name another node are judged by that node', () => {
    refusedOutOfScope(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item/></publish><configure node='${OMEMO}'/>`))), `iq.${PUBSUB}.nodes`);
    refusedOutOfScope(out(privIq('set', pubsub(`<subscribe node='${BOOKMARKS}' jid='alice@${D}'/><options node='${OMEMO}' jid='alice@${D}'/>`))), `iq.${PUBSUB}.nodes`);
    // Without a node they configure their sibling, which is in scope.
    expect(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item/></publish><publish-options/>`))).action).toBe('pass');
    expect(out(privIq('set', pubsub(`<create node='${BOOKMARKS}'/><configure/>`))).action).toBe('pass');
  });

  it('a companion alone, or a node-less operation, reaches any node: refused', () => {
    for (const c of ['<configure/>', '<options/>', '<publish-options/>', '<create/>', '<subscriptions/>', '<affiliations/>', '<items/>', '<publish><item/></publish>', '<default/>']) {
      refusedOutOfScope(out(privIq('set', pubsub(c))), `iq.${PUBSUB}.nodes`);
    }
  });

  it('a node written in another namespace or attribute name is no node (the server reads node="" only)', () => {
    refusedOutOfScope(out(privIq('set', pubsub(`<publish xmlns:x='urn:x' x:node='${BOOKMARKS}'><item/></publish>`))), `iq.${PUBSUB}.nodes`);
    refusedOutOfScope(out(privIq('set', pubsub(`<publish NODE='${BOOKMARKS}'><item/></publish>`))), `iq.${PUBSUB}.nodes`);
  });

  it('node names compare exactly: case, a trailing space, a prefix of an allowed name are other nodes', () => {
    for (const node of [BOOKMARKS.toUpperCase(), `${BOOKMARKS} `, 'urn:xmpp:bookmarks:', 'urn:xmpp:bookmarks:10', 'urn:xmpp:avatar']) {
      refusedOutOfScope(out(privIq('set', pubsub(`<publish node='${node}'><item/></publish>`))), `iq.${PUBSUB}.nodes`);
    }
    expect(out(privIq('set', pubsub(`<publish node='urn:xmpp:avatar:metadata'><item/></publish>`))).action).toBe('pass');
  });

  it('items with max_items on the device list is refused; on bookmarks it passes', () => {
    refusedOutOfScope(out(privIq('get', pubsub(`<items node='${OMEMO}' max_items='1'/>`))), `iq.${PUBSUB}.nodes`);
    expect(out(privIq('get', pubsub(`<items node='${BOOKMARKS}' max_items='1'/>`))).action).toBe('pass');
  });

  it('#owner: delete, purge, configure and affiliations of the device list are refused; of bookmarks they pass', () => {
    for (const op of ['delete', 'purge', 'configure', 'affiliations', 'subscriptions']) {
      refusedOutOfScope(out(privIq('set', pubsub(`<${op} node='${OMEMO}'/>`, OWNER))), `iq.${OWNER}.nodes`);
      refusedOutOfScope(out(privIq('set', pubsub(`<${op} node='eu.siacs.conversations.axolotl.devicelist'/>`, OWNER))), `iq.${OWNER}.nodes`);
      expect(out(privIq('set', pubsub(`<${op} node='${BOOKMARKS}'/>`, OWNER))).action, op).toBe('pass');
    }
    // A node-less configure in front of a delete: Prosody takes the first child (no node: an error), the delete is judged anyway.
    refusedOutOfScope(out(privIq('set', pubsub(`<configure/><delete node='${OMEMO}'/>`, OWNER))), `iq.${OWNER}.nodes`);
  });

  it('the to scope holds before the nodes: another user\'s PEP, or a pubsub service, is refused', () => {
    refusedOutOfScope(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item/></publish>`), `bob@${D}`)), `iq.${PUBSUB}.to`);
    refusedOutOfScope(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item/></publish>`), `pubsub.${D}`)), `iq.${PUBSUB}.to`);
    expect(out(privIq('set', pubsub(`<publish node='${BOOKMARKS}'><item/></publish>`), `alice@${D}`)).action).toBe('pass');
  });
});

describe('roster_items: one contact in scope does not open the others', () => {
  const set = (items: string) => `<iq type='set' id='r1' from='${C}' to='alice@${D}'><query xmlns='jabber:iq:roster'>${items}</query></iq>`;

  it('a roster set with two items, one out of scope, is refused whole (directly and through the iq right)', () => {
    const two = `<item jid='x@${C}'/><item jid='bob@${D}' subscription='remove'/>`;
    refusedOutOfScope(out(set(two)), 'roster_items');
    refusedOutOfScope(out(privIq('set', `<query xmlns='jabber:iq:roster'>${two}</query>`)), 'roster_items');
    // The item in another namespace is judged too (the server matches items by name).
    refusedOutOfScope(out(set(`<item jid='x@${C}'/><item xmlns='urn:x' jid='bob@${D}'/>`)), 'roster_items');
  });

  it('a lookalike of the component domain is not a puppet', () => {
    refusedOutOfScope(out(set(`<item jid='x@${C}.evil.org'/>`)), 'roster_items');
    refusedOutOfScope(out(set(`<item jid='${C}@evil.org'/>`)), 'roster_items');
  });

  it('a roster push with items out of scope reaches the component without them', () => {
    const push = stanza(`<iq type='set' id='push1' from='alice@${D}' to='${C}'><query xmlns='jabber:iq:roster' ver='7'><item jid='bob@${D}' subscription='both'/><item jid='x@${C}'/><item jid='carol@remote.test'/></query></iq>`);
    const v = decideInbound(context(POLICY, GRANT).in, push);
    expect(v.action).toBe('filter');
    if (v.action !== 'filter') return;
    expect(v.hidden).toBe(2);
    const xml = serialize(v.stanza!);
    expect(xml).toContain(`x@${C}`);
    expect(xml).not.toContain('bob@');
    expect(xml).not.toContain('carol@');
  });

  it('a roster result with a case variant of an out-of-scope contact hides it too (compared prepared)', () => {
    const v = inb(`<iq type='result' id='g1' from='alice@${D}' to='${C}'><query xmlns='jabber:iq:roster'><item jid='BOB@Example.Test'/><item jid='x@${C}'/><item jid='x@PUBSUB.example.test'/></query></iq>`);
    expect(v.action).toBe('filter');
    if (v.action === 'filter') {
      expect(v.hidden).toBe(1);
      expect(serialize(v.stanza!)).not.toContain('BOB');
    }
  });
});
