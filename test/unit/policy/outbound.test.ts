import { describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { decideOutbound } from '../../../src/policy/outbound.js';
import type { Verdict } from '../../../src/policy/verdict.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { recording } from '../../fixtures/recordings.js';
import { context, FULL_GRANT, stanza, stanzas, type Ctx } from './helpers.js';

const POLICY = `example.test:
  roster: get
  message: outgoing
  iq: { "jabber:iq:private": both, "vcard-temp": get }
  users: ["*"]
  except_users: ["admin", "ops-*"]`;

const ctx = () => context(POLICY, FULL_GRANT);

function decide(c: Ctx, xml: string): Verdict {
  return decideOutbound(c.out, stanza(xml));
}

/** The single reply a rejection sends to the component. */
function reply(v: Verdict): Element {
  expect(v.action).toBe('reject');
  if (v.action !== 'reject') throw new Error('not a rejection');
  expect(v.replies).toHaveLength(1);
  expect(v.replies[0]!.to).toBe('component');
  return v.replies[0]!.stanza;
}

/** What the component sent in a recording, as stanzas. */
function sent(name: string): Element[] {
  return stanzas(
    recording('prosody', name)
      .filter((c) => c.kind === 'SEND' && c.connection === 'pubsub' && !c.data.startsWith('<?xml') && !c.data.startsWith('<handshake'))
      .map((c) => c.data)
      .join(''),
  );
}

describe('roster (XEP-0356 §4.3)', () => {
  it('allows a roster get the server and the policy grant (recordings/prosody/roster-get)', () => {
    const [req] = sent('roster-get');
    const v = decideOutbound(ctx().out, req!);
    expect(v).toMatchObject({ action: 'pass', audit: { action: 'roster.get', domain: 'example.test', user: 'alice' } });
  });

  it('denies a roster set the policy does not grant, naming the rule and its value', () => {
    const [req] = sent('roster-set-add');
    const v = decideOutbound(ctx().out, req!);
    expect(v).toMatchObject({
      reason: 'policy_denied',
      rule: { path: 'components.pubsub.example.test.privileges.example.test.roster', value: 'get' },
    });
    const err = reply(v);
    expect(err.attrs).toMatchObject({ type: 'error', id: String(req!.attrs.id), from: 'alice@example.test', to: 'pubsub.example.test' });
    expect(err.getChild('error')!.attrs).toEqual({ type: 'auth', by: 'pubsub.example.test' });
    expect(err.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    expect(err.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBe(
      'privguard: roster set not allowed: components.pubsub.example.test.privileges.example.test.roster = get',
    );
  });

  it('denies what the policy grants but the server does not', () => {
    const c = context('example.test: { roster: both }', `<message from='example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get'/></privilege></message>`);
    expect(decide(c, `<iq type='set' id='1' from='${'pubsub.example.test'}' to='alice@example.test'><query xmlns='jabber:iq:roster'/></iq>`)).toMatchObject({
      action: 'reject',
      reason: 'server_denied',
      rule: null,
    });
  });

  it('denies everything before the server advertised (default deny, its own reason)', () => {
    const c = context(POLICY);
    const v = decide(c, `<iq type='get' id='1' from='pubsub.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'/></iq>`);
    expect(v).toMatchObject({ action: 'reject', reason: 'not_advertised', rule: null });
    expect(reply(v).getChild('error')!.getChildText('text')).toBe('privguard: roster get not allowed: the server has not advertised privileges for this domain');
  });

  it('denies a domain the policy does not name', () => {
    const v = decide(ctx(), `<iq type='get' id='1' from='pubsub.example.test' to='alice@other.test'><query xmlns='jabber:iq:roster'/></iq>`);
    expect(v).toMatchObject({ reason: 'policy_denied', rule: { path: 'components.pubsub.example.test.privileges.other.test', value: 'absent' } });
  });

  it.each([
    ['a full JID (recordings/prosody/roster-get-full-jid)', 'alice@example.test/res'],
    ['the server domain', 'example.test'],
  ])('refuses a roster IQ to %s', (_w, to) => {
    expect(decide(ctx(), `<iq type='get' id='1' from='pubsub.example.test' to='${to}'><query xmlns='jabber:iq:roster'/></iq>`)).toMatchObject({
      action: 'reject',
      reason: 'not_managed_target',
    });
  });

  it('refuses a target not in prepared form: ADMIN@Example.TEST is admin@example.test to the server (non_canonical_jid)', () => {
    const v = decide(ctx(), `<iq type='get' id='1' from='pubsub.example.test' to='ADMIN@Example.TEST'><query xmlns='jabber:iq:roster'/></iq>`);
    expect(v).toMatchObject({ action: 'reject', reason: 'non_canonical_jid', audit: { user: 'admin', domain: 'example.test' } });
    expect(decide(ctx(), `<iq type='get' id='1' from='pubsub.example.test' to='admin@example.test'><query xmlns='jabber:iq:roster'/></iq>`)).toMatchObject({
      reason: 'user_out_of_scope',
      rule: { path: 'components.pubsub.example.test.privileges.example.test.except_users', value: '["admin","ops-*"]' },
    });
  });

  it('except_users globs win over users', () => {
    expect(decide(ctx(), `<iq type='get' id='1' from='pubsub.example.test' to='ops-1@example.test'><query xmlns='jabber:iq:roster'/></iq>`)).toMatchObject({ reason: 'user_out_of_scope' });
    expect(decide(ctx(), `<iq type='get' id='1' from='pubsub.example.test' to='opsy@example.test'><query xmlns='jabber:iq:roster'/></iq>`)).toMatchObject({ action: 'pass' });
  });

  it('passes roster results and errors the component sends (it answers, it does not ask)', () => {
    expect(decide(ctx(), `<iq type='result' id='1' from='pubsub.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'/></iq>`)).toMatchObject({ action: 'pass' });
  });
});

const pm = (inner: string, outerTo = 'example.test', ns = 'urn:xmpp:privilege:2') =>
  `<message from='pubsub.example.test' to='${outerTo}' id='pm1'><privilege xmlns='${ns}'><forwarded xmlns='urn:xmpp:forward:0'>${inner}</forwarded></privilege></message>`;
const inner = (from: string, extra = '') => `<message xmlns='jabber:client' from='${from}' to='bob@example.test' id='i1' ${extra}><body>x</body></message>`;

describe('roster sets and subscriptions: roster_subscription (issue 11 item 4)', () => {
  const policy = (scope?: string) => `example.test: { roster: both${scope === undefined ? '' : `, roster_subscription: ${scope}`} }`;
  const set = (items: string) => `<iq type='set' id='rs' from='pubsub.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'>${items}</query></iq>`;
  const decideSet = (scope: string | undefined, items: string) => decide(context(policy(scope), FULL_GRANT), set(items));

  it.each(['both', 'from', 'to'])('refuses subscription %s by default, the whole IQ, naming the rule', (sub) => {
    const v = decideSet(undefined, `<item jid='puppet@pubsub.example.test'/><item jid='pubsub.example.test' subscription='${sub}'/>`);
    expect(v).toMatchObject({
      action: 'reject',
      reason: 'subscription_not_allowed',
      rule: { path: 'components.pubsub.example.test.privileges.example.test.roster_subscription', value: '[]' },
      detail: `item pubsub.example.test with subscription ${sub}`,
      audit: { action: 'roster.set', user: 'alice', domain: 'example.test' },
    });
    const err = reply(v);
    expect(err.getChild('error')!.attrs).toEqual({ type: 'auth', by: 'pubsub.example.test' });
    expect(err.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    expect(err.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBe(
      `privguard: roster set may not give this roster item a subscription (item pubsub.example.test with subscription ${sub}): components.pubsub.example.test.privileges.example.test.roster_subscription = []`,
    );
  });

  it('refuses an ask, whatever its value', () => {
    expect(decideSet(undefined, `<item jid='spy@pubsub.example.test' ask='subscribe'/>`)).toMatchObject({ reason: 'subscription_not_allowed', detail: 'item spy@pubsub.example.test with ask subscribe' });
  });

  it('allows items without a subscription, lowering ones, and remove', () => {
    for (const items of [
      `<item jid='puppet@pubsub.example.test' name='P'><group>G</group></item>`,
      `<item jid='bob@example.test' subscription='none'/>`,
      `<item jid='bob@example.test' subscription='remove'/>`,
      `<item jid='bob@example.test' subscription='Both'/>`,
    ]) {
      expect(decideSet(undefined, items)).toMatchObject({ action: 'pass', audit: { action: 'roster.set' } });
    }
  });

  it('allows a subscription inside the scope, and only there', () => {
    expect(decideSet('[component]', `<item jid='pubsub.example.test' subscription='both'/>`)).toMatchObject({ action: 'pass' });
    expect(decideSet('[component]', `<item jid='+3361234@pubsub.example.test' subscription='both'/>`)).toMatchObject({ action: 'pass' });
    // An item JID not in prepared form is refused before any scope (issue 11 item 1).
    expect(decideSet('[component]', `<item jid='+3361234@PubSub.Example.TEST' subscription='both'/>`)).toMatchObject({ reason: 'non_canonical_jid' });
    expect(decideSet('[component]', `<item jid='pubsub.example.test' subscription='both'/><item jid='spy@elsewhere.test' subscription='from'/>`)).toMatchObject({
      reason: 'subscription_not_allowed',
      rule: { value: '["component"]' },
      detail: 'item spy@elsewhere.test with subscription from',
    });
    expect(decideSet('[any]', `<item jid='spy@elsewhere.test' subscription='from'/>`)).toMatchObject({ action: 'pass' });
    expect(decideSet('["*@conference.example.test"]', `<item jid='room@conference.example.test' subscription='to'/>`)).toMatchObject({ action: 'pass' });
  });

  it('refuses a subscription on an item whose JID is not valid', () => {
    expect(decideSet('[component]', `<item jid='a b@pubsub.example.test' subscription='both'/>`)).toMatchObject({ reason: 'subscription_not_allowed' });
    expect(decideSet('[component]', `<item subscription='both'/>`)).toMatchObject({ reason: 'subscription_not_allowed' });
  });

  it('judges every roster query in the IQ, whatever the item element', () => {
    const iq = `<iq type='set' id='rs' from='pubsub.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'/><query xmlns='jabber:iq:roster'><item jid='x@elsewhere.test' subscription='both'/></query></iq>`;
    expect(decide(context(policy('[component]'), FULL_GRANT), iq)).toMatchObject({ reason: 'subscription_not_allowed' });
  });

  it('does not look at roster gets', () => {
    const get = `<iq type='get' id='rg' from='pubsub.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'><item jid='x@elsewhere.test' subscription='both'/></query></iq>`;
    expect(decide(context(policy(), FULL_GRANT), get)).toMatchObject({ action: 'pass' });
  });
});

describe('privileged message (XEP-0356 §5)', () => {
  it('allows the recorded privileged message (recordings/prosody/message-outgoing)', () => {
    const [msg] = sent('message-outgoing');
    expect(decideOutbound(ctx().out, msg!)).toMatchObject({ action: 'pass', audit: { action: 'message.outgoing', domain: 'example.test', user: 'alice' } });
  });

  it('allows the server domain itself as sender (recordings/prosody/message-outgoing-from-server)', () => {
    const [msg] = sent('message-outgoing-from-server');
    expect(decideOutbound(ctx().out, msg!)).toMatchObject({ action: 'pass' });
  });

  it('allows a delay before the forwarded message; refuses an inner from written in capitals (non_canonical_jid)', () => {
    expect(decide(ctx(), pm(`<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/>${inner('alice@example.test')}`))).toMatchObject({ action: 'pass' });
    expect(decide(ctx(), pm(`<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/>${inner('Alice@EXAMPLE.test')}`))).toMatchObject({ reason: 'non_canonical_jid' });
  });

  it.each([
    ['an inner from with a resource (recordings/prosody/message-denied-full-jid-from)', inner('alice@example.test/phone'), 'bad_inner_from', 'forbidden'],
    ['an inner from of another domain (recordings/prosody/message-denied-foreign-from)', inner('alice@elsewhere.test'), 'bad_inner_from', 'forbidden'],
    ['no inner from', `<message xmlns='jabber:client' to='bob@example.test'/>`, 'bad_inner_from', 'forbidden'],
    ['two forwarded stanzas', `${inner('alice@example.test')}${inner('alice@example.test')}`, 'bad_structure', 'bad-request'],
    ['an inner message outside jabber:client (recordings/prosody/message-bad-inner-ns)', `<message xmlns='jabber:server' from='alice@example.test' to='bob@example.test'/>`, 'wrong_inner_namespace', 'bad-request'],
    ['an inner iq', `<iq xmlns='jabber:client' from='alice@example.test' to='bob@example.test' type='get' id='x'/>`, 'bad_structure', 'bad-request'],
    ['an inner message without to', `<message xmlns='jabber:client' from='alice@example.test'/>`, 'bad_structure', 'bad-request'],
  ])('refuses %s', (_w, body, reason, condition) => {
    const v = decide(ctx(), pm(body));
    expect(v).toMatchObject({ action: 'reject', reason });
    const err = reply(v);
    expect(err.name).toBe('message');
    expect(err.attrs).toMatchObject({ type: 'error', id: 'pm1', from: 'example.test', to: 'pubsub.example.test' });
    expect(err.getChild('error')!.getChild(condition)).toBeDefined();
  });

  it('refuses a privilege without <forwarded/> (recordings/prosody/message-bad-no-forwarded)', () => {
    expect(decide(ctx(), `<message from='pubsub.example.test' to='example.test' id='m'><privilege xmlns='urn:xmpp:privilege:2'/></message>`)).toMatchObject({ reason: 'bad_structure' });
  });

  it('refuses the wrong namespace version (recordings/prosody/message-wrong-namespace-version)', () => {
    expect(decide(ctx(), pm(inner('alice@example.test'), 'example.test', 'urn:xmpp:privilege:1'))).toMatchObject({ reason: 'privilege_version' });
  });

  it('refuses a privileged message not addressed to the server domain (recordings/prosody/message-privilege-to-user)', () => {
    expect(decide(ctx(), pm(inner('alice@example.test'), 'bob@example.test'))).toMatchObject({ action: 'reject', reason: 'not_managed_target' });
  });

  it('refuses a user out of scope', () => {
    expect(decide(ctx(), pm(inner('admin@example.test')))).toMatchObject({ reason: 'user_out_of_scope' });
  });

  it('refuses when the policy has message none, naming the rule', () => {
    const c = context('example.test: { message: none }', FULL_GRANT);
    expect(decide(c, pm(inner('alice@example.test')))).toMatchObject({
      reason: 'policy_denied',
      rule: { path: 'components.pubsub.example.test.privileges.example.test.message', value: 'none' },
    });
  });

  it('judges a prefixed wrapper as the privilege wrapper it is (threat model 2)', () => {
    const v = decide(
      ctx(),
      `<message from='pubsub.example.test' to='example.test' id='p'><p:privilege xmlns:p='urn:xmpp:privilege:2'><f:forwarded xmlns:f='urn:xmpp:forward:0'><message xmlns='jabber:client' from='admin@example.test' to='bob@example.test'/></f:forwarded></p:privilege></message>`,
    );
    expect(v).toMatchObject({ action: 'reject', reason: 'user_out_of_scope' });
  });

  it('drops (never answers) a privileged message of type error', () => {
    const v = decide(ctx(), `<message type='error' from='pubsub.example.test' to='example.test'><privilege xmlns='urn:xmpp:privilege:2'/></message>`);
    expect(v).toMatchObject({ action: 'drop', replies: [] });
  });
});

const piq = (o: { type?: string; to?: string; innerType?: string; innerNs?: string; innerFrom?: string; id?: string | null; payload?: string; extra?: string } = {}) => {
  const innerId = o.id === null ? '' : ` id='${o.id ?? 'in1'}'`;
  const from = o.innerFrom ? ` from='${o.innerFrom}'` : '';
  const payload = o.payload ?? `<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>`;
  return `<iq type='${o.type ?? 'get'}' id='pi1' from='pubsub.example.test' to='${o.to ?? 'alice@example.test'}'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='${o.innerNs ?? 'jabber:client'}' type='${o.innerType ?? o.type ?? 'get'}'${innerId}${from}>${payload}</iq></privileged_iq>${o.extra ?? ''}</iq>`;
};

describe('privileged IQ (XEP-0356 §6.3)', () => {
  it('allows a granted namespace and type, and asks the session to track it (recordings/prosody/privileged-iq-get)', () => {
    const [req] = sent('privileged-iq-get');
    const v = decideOutbound(ctx().out, req!);
    expect(v).toMatchObject({
      action: 'pass',
      track: { kind: 'privileged_iq', id: 'pi1', domain: 'example.test', user: 'alice@example.test' },
      audit: { action: 'iq.get', namespace: 'jabber:iq:private', user: 'alice' },
    });
  });

  it('allows an inner from equal to the outer to', () => {
    expect(decide(ctx(), piq({ innerFrom: 'alice@example.test' }))).toMatchObject({ action: 'pass' });
  });

  it.each([
    ['(a) a full JID target', { to: 'alice@example.test/res' }, 'not_managed_target', 'forbidden'],
    ['(a) the server domain as target', { to: 'example.test' }, 'not_managed_target', 'forbidden'],
    ['(b) a namespace the policy does not name (recordings/prosody/privileged-iq-denied-namespace)', { payload: `<query xmlns='jabber:iq:roster'/>` }, 'policy_denied', 'forbidden'],
    ['(c) a type the policy does not grant', { type: 'set', payload: `<vCard xmlns='vcard-temp'/>` }, 'policy_denied', 'forbidden'],
    ['(d) an inner iq outside jabber:client', { innerNs: 'jabber:server' }, 'wrong_inner_namespace', 'forbidden'],
    ['(e) an inner from of another user (recordings/prosody/privileged-iq-denied-from-mismatch)', { innerFrom: 'bob@example.test' }, 'bad_inner_from', 'forbidden'],
    ['(e) an inner from with a resource', { innerFrom: 'alice@example.test/r' }, 'bad_inner_from', 'forbidden'],
    ['(f) differing types (recordings/prosody/privileged-iq-denied-type-mismatch)', { type: 'get', innerType: 'set' }, 'type_mismatch', 'forbidden'],
    ['an inner iq without id (recordings/prosody/privileged-iq-missing-inner-id)', { id: null }, 'bad_structure', 'bad-request'],
    ['an inner iq with two payloads', { payload: `<query xmlns='jabber:iq:private'/><x xmlns='y'/>` }, 'bad_structure', 'bad-request'],
    ['an inner iq with no payload', { payload: '' }, 'bad_structure', 'bad-request'],
    ['a second child next to privileged_iq', { extra: `<x xmlns='y'/>` }, 'bad_structure', 'bad-request'],
    ['a reserved namespace', { payload: `<q xmlns='urn:xmpp:delegation:2'/>` }, 'reserved_namespace', 'forbidden'],
    ['a user out of scope', { to: 'ops-7@example.test' }, 'user_out_of_scope', 'forbidden'],
  ])('refuses %s', (_w, o, reason, condition) => {
    const v = decide(ctx(), piq(o));
    expect(v).toMatchObject({ action: 'reject', reason });
    const err = reply(v);
    expect(err.attrs).toMatchObject({ type: 'error', id: 'pi1', to: 'pubsub.example.test' });
    expect(err.getChild('error')!.getChild(condition)).toBeDefined();
  });

  it('names the type rule when the namespace is granted for get only', () => {
    expect(decide(ctx(), piq({ type: 'set', payload: `<vCard xmlns='vcard-temp'/>` }))).toMatchObject({
      rule: { path: 'components.pubsub.example.test.privileges.example.test.iq.vcard-temp', value: 'get' },
    });
  });

  it('refuses before the advertisement, and on a privilege:1 server (no iq permission there)', () => {
    expect(decide(context(POLICY), piq())).toMatchObject({ reason: 'not_advertised' });
    const v1 = context(POLICY, FULL_GRANT.replaceAll('privilege:2', 'privilege:1'));
    const v = decide(v1, piq());
    expect(v).toMatchObject({ reason: 'privilege_version' });
    expect(reply(v).getChild('error')!.getChildText('text')).toContain('urn:xmpp:privilege:1 has no iq permission');
  });

  it('refuses an id already pending, and answers resource-constraint when the table is full', () => {
    const c = ctx();
    c.pending.set('pi1', 'alice@example.test');
    expect(decide(c, piq())).toMatchObject({ reason: 'duplicate_id' });
    const full = ctx();
    full.out.pendingFull = true;
    const v = decide(full, piq());
    expect(v).toMatchObject({ reason: 'pending_full' });
    expect(reply(v).getChild('error')!.attrs.type).toBe('wait');
  });

  it('drops a privileged_iq inside a result (it cannot be answered)', () => {
    expect(decide(ctx(), piq({ type: 'result' }))).toMatchObject({ action: 'drop' });
  });
});

describe('privilege elements anywhere else are refused (specs §6.3 P3)', () => {
  it.each([
    ['a presence', `<presence from='pubsub.example.test' to='alice@example.test'><privilege xmlns='urn:xmpp:privilege:2'/></presence>`],
    ['an iq get', `<iq type='get' id='x' from='pubsub.example.test' to='alice@example.test'><privilege xmlns='urn:xmpp:privilege:2'/></iq>`],
    ['a message with privileged_iq', `<message from='pubsub.example.test' to='example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'/></message>`],
  ])('%s', (_w, xml) => {
    expect(decide(ctx(), xml)).toMatchObject({ action: 'reject', reason: 'misplaced_privilege' });
  });

  it('passes ordinary stanzas untouched', () => {
    const el = stanza(`<message from='pubsub.example.test' to='alice@example.test'><body>hi</body></message>`);
    expect(decideOutbound(ctx().out, el)).toMatchObject({ action: 'pass', reason: 'ok' });
    expect(serialize(el)).toBe('<message from="pubsub.example.test" to="alice@example.test"><body>hi</body></message>');
  });
});
