import { describe, expect, it } from 'vitest';
import { decideInbound } from '../../../src/policy/inbound.js';
import type { Verdict } from '../../../src/policy/verdict.js';
import { parseAdvertisement } from '../../../src/protocol/privilege.js';
import { SubscriptionLedger } from '../../../src/policy/subscriptions.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { received } from '../../fixtures/recordings.js';
import { context, FULL_GRANT, stanza, stanzas, type Ctx } from './helpers.js';

const POLICY = `example.test:
  roster: get
  presence: managed_entity
  iq: { "jabber:iq:private": get }
  users: ["alice", "bob"]`;

const ctx = (...ads: string[]) => context(POLICY, ...(ads.length ? ads : [FULL_GRANT]));
const decide = (c: Ctx, xml: string): Verdict => decideInbound(c.in, stanza(xml));

describe('privilege advertisements (XEP-0356 §4.2)', () => {
  it('rewrites the real Prosody advertisement to the effective rights', () => {
    const data = received('prosody', 'component-connect', 'pubsub').replace(/^<\?xml[^>]*\?>/, '').replace(/^<stream:stream[^>]*>/, '');
    const adv = stanzas(data).find((s) => s.name === 'message')!;
    const v = decideInbound(context(POLICY).in, adv);
    expect(v.action).toBe('rewrite');
    if (v.action !== 'rewrite') return;
    // Prosody writes no push: neither does privguard (XEP-0356 §4.1 default, see grants.test.ts).
    expect(serialize(v.stanza)).toBe(
      '<message from="example.test" to="pubsub.example.test"><privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="get"/><perm access="message" type="none"/><perm access="presence" type="managed_entity"/><perm access="iq"><namespace ns="jabber:iq:private" type="get"/></perm></privilege></message>',
    );
    expect(v.grant).toMatchObject({ domain: 'example.test', version: 2, presence: 'managed_entity' });
    expect(v.wider).toEqual([]);
    expect(v.audit).toEqual({ action: 'advertise', domain: 'example.test' });
  });

  it('leaves out a perm the server left out, as Prosody 13 does for slidge (no presence), and writes none where the policy takes one away', () => {
    const c = context('example.test: { roster: both, message: none }').in;
    const omitted = decideInbound(
      c,
      stanza(`<message from='example.test' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/></privilege></message>`),
    );
    expect(omitted.action === 'rewrite' && serialize(omitted.stanza)).toBe(
      '<message from="example.test" to="pubsub.example.test"><privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="both"/><perm access="message" type="none"/></privilege></message>',
    );
    const stated = decideInbound(
      c,
      stanza(`<message from='example.test' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='presence' type='roster'/></privilege></message>`),
    );
    expect(stated.action === 'rewrite' && serialize(stated.stanza)).toBe(
      '<message from="example.test" to="pubsub.example.test"><privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="both"/><perm access="presence" type="none"/></privilege></message>',
    );
  });

  it('says where the policy asks for more than the server grants', () => {
    const v = decideInbound(
      context('example.test: { roster: both, message: outgoing, iq: { a: set } }').in,
      stanza(`<message from='example.test' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get'/></privilege></message>`),
    );
    expect(v.action === 'rewrite' && v.wider).toEqual(['iq a: policy set, server none', 'roster: policy both, server get', 'message: policy outgoing, server none']);
  });

  it.each([
    ['a user', 'alice@example.test/res'],
    ['a bare user JID', 'alice@example.test'],
    ['a remote server', 'evil.example'],
    ['no sender at all', undefined],
  ])('drops a forged advertisement from %s', (_w, from) => {
    const fromAttr = from ? ` from='${from}'` : '';
    const v = decide(ctx(), `<message${fromAttr} to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/></privilege></message>`);
    expect(v).toMatchObject({ action: 'drop', replies: [] });
    expect(['forged_advertisement', 'unconfigured_domain']).toContain(v.reason);
  });

  it('drops an advertisement from a domain the policy does not name', () => {
    expect(decide(ctx(), `<message from='other.test' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'/></message>`)).toMatchObject({
      action: 'drop',
      reason: 'unconfigured_domain',
      rule: { path: 'components.pubsub.example.test.privileges.other.test', value: 'absent' },
    });
  });

  it('drops any message to the component carrying another privilege element', () => {
    expect(decide(ctx(), `<message from='alice@example.test/x' to='pubsub.example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'/></message>`)).toMatchObject({ action: 'drop' });
  });
});

describe('privileged IQ responses (XEP-0356 §6.3)', () => {
  const response = `<iq to='pubsub.example.test' id='pi1' type='result' from='alice@example.test'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' to='alice@example.test' id='pi1-inner' type='result'/></forwarded></privilege></iq>`;

  it('passes the answer to a pending request from its user', () => {
    const c = ctx();
    c.pending.set('pi1', 'alice@example.test');
    expect(decide(c, response)).toMatchObject({ action: 'pass' });
  });

  it('passes Prosody\'s plain error answer to a pending request', () => {
    const c = ctx();
    c.pending.set('pi1', 'alice@example.test');
    expect(decide(c, `<iq to='pubsub.example.test' id='pi1' type='error' from='alice@example.test'><error type='cancel'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)).toMatchObject({ action: 'pass' });
  });

  it('drops an answer from another user', () => {
    const c = ctx();
    c.pending.set('pi1', 'bob@example.test');
    expect(decide(c, response)).toMatchObject({ action: 'drop', reason: 'unmatched_response' });
  });

  it('drops a privilege-wrapped answer to nothing pending', () => {
    expect(decide(ctx(), response)).toMatchObject({ action: 'drop', reason: 'unmatched_response' });
  });

  it('drops a late answer to a request privguard already answered with a timeout', () => {
    const c = ctx();
    c.expired.set('pi9', 'alice@example.test');
    expect(decide(c, `<iq to='pubsub.example.test' id='pi9' type='error' from='alice@example.test'><error type='cancel'/></iq>`)).toMatchObject({
      action: 'drop',
      detail: 'it came after the deadline',
    });
  });

  it('passes ordinary results', () => {
    expect(decide(ctx(), `<iq to='pubsub.example.test' id='r1' type='result' from='alice@example.test'><query xmlns='jabber:iq:roster'/></iq>`)).toMatchObject({ action: 'pass' });
  });
});

describe('roster pushes (XEP-0356 §4.4)', () => {
  const push = (from = 'alice@example.test') => `<iq type='set' id='push1' from='${from}' to='pubsub.example.test'><query xmlns='jabber:iq:roster'><item jid='x@example.test'/></query></iq>`;

  it('passes a push with roster read, push and the user in scope', () => {
    expect(decide(ctx(), push())).toMatchObject({ action: 'pass', audit: { action: 'roster.push', user: 'alice' } });
  });

  it('answers the server itself when pushes are off, and does not deliver', () => {
    const c = context(`example.test: { roster: get, roster_push: false }`, FULL_GRANT);
    const v = decide(c, push());
    expect(v).toMatchObject({ action: 'drop', reason: 'policy_denied', rule: { path: 'components.pubsub.example.test.privileges.example.test.roster_push', value: 'false' } });
    if (v.action !== 'drop') return;
    expect(v.replies.map((r) => [r.to, serialize(r.stanza)])).toEqual([['server', '<iq type="result" id="push1" from="pubsub.example.test" to="alice@example.test"/>']]);
  });

  it('answers the server for a user out of scope', () => {
    expect(decide(ctx(), push('carol@example.test'))).toMatchObject({ action: 'drop', reason: 'user_out_of_scope' });
  });

  it('treats a "push" from a full JID or another domain as an ordinary IQ', () => {
    expect(decide(ctx(), push('alice@example.test/res'))).toMatchObject({ action: 'pass', reason: 'ok', subject: '<iq>' });
    expect(decide(ctx(), push('alice@remote.test'))).toMatchObject({ action: 'pass', subject: '<iq>' });
  });
});

describe('privilege-derived presence (XEP-0356 §7)', () => {
  it('passes a managed user\'s presence with managed_entity (recordings/prosody/presence-initial-alice)', () => {
    expect(decide(ctx(), `<presence xml:lang='en' to='pubsub.example.test' from='alice@example.test/rec'/>`)).toMatchObject({
      action: 'pass',
      audit: { action: 'presence', user: 'alice', domain: 'example.test' },
    });
    expect(decide(ctx(), `<presence type='unavailable' to='pubsub.example.test' from='alice@example.test/rec'/>`)).toMatchObject({ action: 'pass' });
  });

  it('drops silently (no reply at all) a user out of scope', () => {
    expect(decide(ctx(), `<presence to='pubsub.example.test' from='carol@example.test/x'/>`)).toMatchObject({ action: 'drop', reason: 'user_out_of_scope', replies: [] });
  });

  it('drops with presence none, naming the rule', () => {
    const c = context('example.test: { roster: get, presence: none }', FULL_GRANT);
    expect(decide(c, `<presence to='pubsub.example.test' from='alice@example.test/x'/>`)).toMatchObject({
      reason: 'presence_not_granted',
      rule: { path: 'components.pubsub.example.test.privileges.example.test.presence', value: 'none' },
    });
  });

  it('passes before the advertisement: the server has granted no presence yet, so it is subscription presence', () => {
    expect(decideInbound(context(POLICY).in, stanza(`<presence to='pubsub.example.test' from='carol@example.test/x'/>`))).toMatchObject({
      action: 'pass',
      subject: '<presence>',
    });
  });

  it('shows contacts of other domains only with presence roster (where the server grants it)', () => {
    const contact = `<presence to='pubsub.example.test' from='romeo@montague.test/orchard'/>`;
    expect(decide(ctx(), contact)).toMatchObject({ action: 'drop', reason: 'presence_not_granted' });
    const withRoster = context('example.test: { roster: get, presence: roster }', FULL_GRANT);
    expect(decide(withRoster, contact)).toMatchObject({ action: 'pass' });
  });

  it('passes presence to a JID under the component, subscriptions and errors', () => {
    expect(decide(ctx(), `<presence to='bot@pubsub.example.test' from='carol@example.test/x'/>`)).toMatchObject({ action: 'pass' });
    expect(decide(ctx(), `<presence type='subscribe' to='pubsub.example.test' from='carol@example.test'/>`)).toMatchObject({ action: 'pass' });
    expect(decide(ctx(), `<presence type='error' to='pubsub.example.test' from='carol@example.test/x'/>`)).toMatchObject({ action: 'pass' });
  });
});

describe('subscription presence (issue 11 item 4)', () => {
  const NO_PRESENCE = FULL_GRANT.replace(`<perm access='presence' type='roster'/>`, `<perm access='presence' type='none'/>`);
  const toDomain = (from: string, type = '') => `<presence${type ? ` type='${type}'` : ''} to='pubsub.example.test' from='${from}'/>`;

  it('passes every presence where the server grants no presence privilege on the domain', () => {
    const c = context('example.test: { roster: set, presence: none, users: [alice] }', NO_PRESENCE);
    for (const from of ['alice@example.test/phone', 'carol@example.test/x', 'romeo@montague.test/orchard']) {
      expect(decide(c, toDomain(from))).toMatchObject({ action: 'pass', subject: '<presence>' });
      expect(decide(c, toDomain(from, 'unavailable'))).toMatchObject({ action: 'pass' });
    }
  });

  it('where the server grants presence, passes a subscription privguard has seen and judges the rest', () => {
    const c = context('example.test: { roster: set, presence: none }', FULL_GRANT);
    const ledger = new SubscriptionLedger();
    c.in.subscriptions = ledger;
    expect(decide(c, toDomain('alice@example.test/phone'))).toMatchObject({ action: 'drop', reason: 'presence_not_granted' });
    ledger.apply([{ op: 'add', user: 'alice@example.test', contact: 'pubsub.example.test' }]);
    expect(decide(c, toDomain('alice@example.test/phone'))).toMatchObject({ action: 'pass', subject: '<presence>' });
    expect(decide(c, toDomain('ALICE@example.test/phone'))).toMatchObject({ action: 'pass' });
    // Another user, and alice to another JID, are still judged.
    expect(decide(c, toDomain('bob@example.test/phone'))).toMatchObject({ action: 'drop', reason: 'presence_not_granted' });
    ledger.apply([{ op: 'remove', user: 'alice@example.test', contact: 'pubsub.example.test' }]);
    expect(decide(c, toDomain('alice@example.test/phone'))).toMatchObject({ action: 'drop' });
  });

  it('a contact elsewhere with a subscription seen passes even where the server sends contacts', () => {
    const c = context('example.test: { roster: get, presence: managed_entity }', FULL_GRANT);
    const ledger = new SubscriptionLedger();
    c.in.subscriptions = ledger;
    expect(decide(c, toDomain('romeo@montague.test/orchard'))).toMatchObject({ action: 'drop' });
    ledger.apply([{ op: 'add', user: 'romeo@montague.test', contact: 'pubsub.example.test' }]);
    expect(decide(c, toDomain('romeo@montague.test/orchard'))).toMatchObject({ action: 'pass' });
  });
});

describe('parse → effective, end to end', () => {
  it('the rewritten advertisement parses back to the effective grant', () => {
    const v = decideInbound(context(POLICY).in, stanza(FULL_GRANT));
    if (v.action !== 'rewrite') throw new Error('expected a rewrite');
    const back = parseAdvertisement(v.stanza)!;
    expect(back.grant.roster).toEqual(v.grant!.roster);
    expect(back.grant.presence).toBe(v.grant!.presence);
    expect([...back.grant.iq.keys()]).toEqual([...v.grant!.iq.keys()]);
  });
});
