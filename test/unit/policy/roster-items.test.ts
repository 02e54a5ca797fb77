/**
 * roster_items (issue 14): a component sees and touches only the roster items
 * in scope — roster sets are refused whole, results and pushes are filtered,
 * contacts' presence (presence: roster) is hidden, each filtering audited with
 * a count and never the hidden JIDs.
 */
import { describe, expect, it } from 'vitest';
import { decideInbound } from '../../../src/policy/inbound.js';
import { decideOutbound } from '../../../src/policy/outbound.js';
import type { Verdict } from '../../../src/policy/verdict.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { C, context, stanza, type Ctx } from './helpers.js';

const PATH = `components.${C}.privileges.example.test`;
const GRANT = `<message from='example.test' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/><perm access='presence' type='roster'/><perm access='iq'><namespace ns='jabber:iq:roster' type='both'/></perm></privilege></message>`;
const policy = (items: string) => `example.test:\n  roster: both\n  roster_push: true\n  presence: roster\n  roster_items: ${items}\n  iq: { "jabber:iq:roster": both }`;
const ctx = (items = '[component]'): Ctx => context(policy(items), GRANT);

const item = (jid: string, extra = '') => `<item jid='${jid}'${extra}/>`;
const rosterSet = (...items: string[]) => `<iq type='set' id='r1' from='${C}' to='alice@example.test'><query xmlns='jabber:iq:roster'>${items.join('')}</query></iq>`;
const rosterResult = (...items: string[]) => `<iq type='result' id='g1' from='alice@example.test' to='${C}'><query xmlns='jabber:iq:roster' ver='v7'>${items.join('')}</query></iq>`;
const push = (...items: string[]) => `<iq type='set' id='push1' from='alice@example.test' to='${C}'><query xmlns='jabber:iq:roster'>${items.join('')}</query></iq>`;

function jidsIn(el: { toString(): string } | undefined): string[] {
  return [...serialize(el as never).matchAll(/<item jid="([^"]+)"/g)].map((m) => m[1]!);
}

describe('roster set: only items in scope, or nothing', () => {
  it('adds a puppet under the component; adding, changing or removing bob is refused', () => {
    expect(decideOutbound(ctx().out, stanza(rosterSet(item(`+3361234@${C}`, " name='Puppet'"))))).toMatchObject({ action: 'pass' });
    for (const bob of [item('bob@example.test'), item('bob@example.test', " subscription='remove'"), item('bob@example.test', " name='b'")]) {
      const v = decideOutbound(ctx().out, stanza(rosterSet(bob)));
      expect(v, bob).toMatchObject({ action: 'reject', reason: 'out_of_scope', rule: { path: `${PATH}.roster_items`, value: '["component"]' } });
    }
  });

  it('one item out of scope refuses the whole IQ', () => {
    const v = decideOutbound(ctx().out, stanza(rosterSet(item(`a@${C}`), item('bob@example.test'), item(`b@${C}`))));
    expect(v).toMatchObject({ action: 'reject', reason: 'out_of_scope', detail: 'item bob@example.test' });
  });

  it('an item without a valid jid is a bad request', () => {
    expect(decideOutbound(ctx().out, stanza(rosterSet(`<item name='x'/>`)))).toMatchObject({ action: 'reject', reason: 'bad_structure' });
    expect(decideOutbound(ctx().out, stanza(rosterSet(item('a@@b'))))).toMatchObject({ action: 'reject', reason: 'bad_structure' });
  });

  it('[any] (the default) keeps today\'s behaviour', () => {
    expect(decideOutbound(context('example.test:\n  roster: both', GRANT).out, stanza(rosterSet(item('bob@example.test'))))).toMatchObject({ action: 'pass' });
  });

  it('the same roster through the iq right on jabber:iq:roster is judged the same', () => {
    const priv = (payload: string) =>
      `<iq type='set' id='p1' from='${C}' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='set' id='i1'><query xmlns='jabber:iq:roster'>${payload}</query></iq></privileged_iq></iq>`;
    expect(decideOutbound(ctx().out, stanza(priv(item(`x@${C}`))))).toMatchObject({ action: 'pass' });
    expect(decideOutbound(ctx().out, stanza(priv(item('bob@example.test', " subscription='remove'"))))).toMatchObject({ action: 'reject', reason: 'out_of_scope' });
  });
});

describe('a roster set through the iq right is judged as a direct roster set', () => {
  const priv = (payload: string) =>
    `<iq type='set' id='p1' from='${C}' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='set' id='i1'><query xmlns='jabber:iq:roster'>${payload}</query></iq></privileged_iq></iq>`;
  // roster_items [any]: only roster_subscription and JID preparation stand between the iq right and the user's presence.
  const open = (sub: string) => context(`example.test:\n  roster: both\n  roster_subscription: ${sub}\n  iq: { "jabber:iq:roster": both }`, GRANT);

  it('may not buy presence: a subscription outside roster_subscription is refused', () => {
    const v = decideOutbound(open('[]').out, stanza(priv(item(`spy@${C}`, " subscription='both'"))));
    expect(v).toMatchObject({ action: 'reject', reason: 'subscription_not_allowed', rule: { path: `${PATH}.roster_subscription` } });
    expect(decideOutbound(open('[]').out, stanza(priv(item(`spy@${C}`, " ask='subscribe'"))))).toMatchObject({ action: 'reject', reason: 'subscription_not_allowed' });
    expect(decideOutbound(open('[component]').out, stanza(priv(item(`spy@${C}`, " subscription='both'"))))).toMatchObject({ action: 'pass' });
    expect(decideOutbound(open('[component]').out, stanza(priv(item('bob@example.test', " subscription='both'"))))).toMatchObject({ action: 'reject', reason: 'subscription_not_allowed' });
    // Lowering stays allowed.
    expect(decideOutbound(open('[]').out, stanza(priv(item('bob@example.test', " subscription='remove'"))))).toMatchObject({ action: 'pass' });
  });

  it('refuses an item JID not in prepared form', () => {
    for (const raw of ['Bob@example.test', 'b\u00ADob@example.test', 'bob@EXAMPLE.test']) {
      expect(decideOutbound(open('[any]').out, stanza(priv(item(raw)))), raw).toMatchObject({ action: 'reject', reason: 'non_canonical_jid' });
    }
  });
});

describe('roster result: filtered to the items in scope', () => {
  it('hides bob, keeps the puppets and the version, counts what it hid', () => {
    const el = stanza(rosterResult(item('bob@example.test', " subscription='both'"), item(`x@${C}`), item(`y@${C}`, " subscription='to'")));
    const before = serialize(el);
    const v = decideInbound(ctx().in, el);
    expect(v).toMatchObject({ action: 'filter', hidden: 1, reason: 'out_of_scope', rule: { path: `${PATH}.roster_items` } });
    expect(v.audit).toEqual({ action: 'roster.result', domain: 'example.test', user: 'alice', hidden: 1 });
    if (v.action !== 'filter') throw new Error('not filtered');
    expect(jidsIn(v.stanza)).toEqual([`x@${C}`, `y@${C}`]);
    expect(serialize(v.stanza!)).toContain("ver=\"v7\"");
    expect(serialize(v.stanza!)).toMatch(/^<iq type="result" id="g1" from="alice@example.test"/);
    // The judged tree is left as it was (report mode forwards it).
    expect(serialize(el)).toBe(before);
  });

  it('nothing hidden: the result passes untouched; an empty roster stays an answer', () => {
    expect(decideInbound(ctx().in, stanza(rosterResult(item(`x@${C}`))))).toMatchObject({ action: 'pass' });
    const v = decideInbound(ctx().in, stanza(rosterResult(item('bob@example.test'))));
    expect(v).toMatchObject({ action: 'filter', hidden: 1 });
    if (v.action === 'filter') {
      expect(jidsIn(v.stanza)).toEqual([]);
      expect(v.stanza!.getChild('query', 'jabber:iq:roster')!.attrs.ver).toBe('v7');
    }
  });

  it('self, globs and domains as scopes', () => {
    const v = decideInbound(ctx('[self, "*@conference.example.test", "remote.test"]').in, stanza(rosterResult(item('alice@example.test'), item('room@conference.example.test'), item('carol@remote.test'), item('bob@example.test'))));
    expect(v).toMatchObject({ action: 'filter', hidden: 1 });
    if (v.action === 'filter') expect(jidsIn(v.stanza)).toEqual(['alice@example.test', 'room@conference.example.test', 'carol@remote.test']);
  });

  it('a privileged iq answer carrying the roster is filtered the same way', () => {
    const c = ctx();
    c.pending.set('p1', 'alice@example.test');
    const el = stanza(
      `<iq type='result' id='p1' from='alice@example.test' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='i1' to='alice@example.test'><query xmlns='jabber:iq:roster'>${item('bob@example.test')}${item(`x@${C}`)}</query></iq></forwarded></privilege></iq>`,
    );
    const v = decideInbound(c.in, el);
    expect(v).toMatchObject({ action: 'filter', hidden: 1, audit: { action: 'iq.response', namespace: 'jabber:iq:roster', hidden: 1 } });
    if (v.action === 'filter') expect(jidsIn(v.stanza)).toEqual([`x@${C}`]);
  });
});

describe('roster push: delivered only with an item in scope', () => {
  it('a push about bob is answered by privguard and not delivered', () => {
    const v = decideInbound(ctx().in, stanza(push(item('bob@example.test', " subscription='both'"))));
    expect(v).toMatchObject({ action: 'filter', hidden: 1, stanza: undefined, audit: { action: 'roster.push', hidden: 1 } });
    if (v.action !== 'filter') throw new Error('not filtered');
    expect(v.replies).toHaveLength(1);
    expect(v.replies[0]!.to).toBe('server');
    expect(serialize(v.replies[0]!.stanza)).toBe(`<iq type="result" id="push1" from="${C}" to="alice@example.test"/>`);
  });

  it('a push about a puppet goes through', () => {
    expect(decideInbound(ctx().in, stanza(push(item(`x@${C}`))))).toMatchObject({ action: 'pass', audit: { action: 'roster.push' } });
  });
});

describe('presence roster: contacts in scope only', () => {
  const pres = (from: string) => stanza(`<presence from='${from}' to='${C}'/>`);

  it('a contact on another domain in scope passes; one out of scope is hidden, audited by count only', () => {
    expect(decideInbound(ctx('["remote.test"]').in, pres('carol@remote.test/phone'))).toMatchObject({ action: 'pass' });
    const v: Verdict = decideInbound(ctx('[component]').in, pres('carol@remote.test/phone'));
    expect(v).toMatchObject({ action: 'filter', hidden: 1, stanza: undefined, replies: [] });
    expect(v.audit).toEqual({ action: 'presence', hidden: 1 });
  });

  it('[any] keeps today\'s behaviour', () => {
    expect(decideInbound(ctx('[any]').in, pres('carol@remote.test/phone'))).toMatchObject({ action: 'pass' });
  });
});
