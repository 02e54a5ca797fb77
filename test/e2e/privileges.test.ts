import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeProsody } from './harness/servers.js';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import {
  COMPONENT_SECRET,
  connectComponent,
  connectUser,
  startStack,
  waitStanza,
  type Peer,
  type Stack,
} from './harness/stack.js';

const PRIV = 'urn:xmpp:privilege:2';

/** Prosody grants everything; the policy narrows it. */
const PROSODY = {
  privileges: {
    'pubsub.example.test': {
      roster: 'both' as const,
      message: 'outgoing' as const,
      presence: 'roster' as const,
      iq: { 'jabber:iq:private': 'both' as const, 'vcard-temp': 'get' as const, 'http://jabber.org/protocol/pubsub': 'set' as const },
    },
    'limited.example.test': { roster: 'both' as const, message: 'outgoing' as const, presence: 'roster' as const },
  },
};

const policy = (mode: 'enforce' | 'report') => (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
mode: ${mode}
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    privileges:
      example.test:
        roster: get
        message: outgoing
        presence: managed_entity
        iq: { "jabber:iq:private": get }
        users: ["alice", "b*"]
        except_users: ["bobby"]
  limited.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    privileges:
      example.test: { roster: get, presence: none }
  plain.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
`;

function isAdvertisement(el: Element): boolean {
  return el.is('message') && el.attrs.from === 'example.test' && el.getChild('privilege', PRIV) !== undefined;
}

function perms(adv: Element): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of adv.getChild('privilege', PRIV)!.getChildren('perm')) {
    if (p.attrs.access === 'iq') for (const n of p.getChildren('namespace')) out[`iq:${String(n.attrs.ns)}`] = String(n.attrs.type);
    else out[String(p.attrs.access)] = `${String(p.attrs.type)}${p.attrs.push !== undefined ? ` push=${String(p.attrs.push)}` : ''}`;
  }
  return out;
}

async function online(stack: Stack, name = 'pubsub.example.test'): Promise<Peer> {
  const comp = await connectComponent(stack, name);
  // A component learns its rights from the advertisement; act only after it.
  await waitStanza(comp.stanzas, isAdvertisement, `${name}'s advertisement`);
  return comp;
}

function rosterJids(res: Element): string[] {
  return (res.getChild('query', 'jabber:iq:roster')?.getChildren('item') ?? []).map((i) => String(i.attrs.jid));
}

describeProsody('XEP-0356 through privguard (real Prosody grants everything, the policy narrows)', (version) => {
  let stack: Stack;
  let comp: Peer;
  beforeAll(async () => {
    stack = await startStack({ prosody: { ...PROSODY, version }, policy: policy('enforce') });
    comp = await online(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('the component sees the rewritten advertisement: exactly the effective rights', () => {
    const ads = comp.stanzas.filter(isAdvertisement);
    expect(ads).toHaveLength(1);
    expect(perms(ads[0]!)).toEqual({
      roster: 'get', // Prosody writes no push, so neither does privguard (XEP-0356 §4.1 default)
      message: 'outgoing',
      presence: 'managed_entity',
      'iq:jabber:iq:private': 'get',
    });
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'advertise', verdict: 'allowed', domain: 'example.test' }));
  });

  it('roster get is allowed', async () => {
    const res = await comp.entity.iqCaller.request(
      xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })),
      5000,
    );
    expect(rosterJids(res)).toEqual(['bob@example.test']);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'roster.get', verdict: 'allowed', user: 'alice', domain: 'example.test' }));
  });

  it('roster set is denied with the rule that decided, and alice\'s roster is unchanged', async () => {
    const err = await comp.entity.iqCaller
      .request(
        xml(
          'iq',
          { type: 'set', from: 'pubsub.example.test', to: 'alice@example.test', id: 'rs1' },
          xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'mallory@example.test' })),
        ),
        5000,
      )
      .then(
        () => undefined,
        (e: { condition?: string; element?: Element }) => e,
      );
    expect(err?.condition).toBe('forbidden');
    const text = err?.element?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas');
    expect(text).toBe('privguard: roster set not allowed: components.pubsub.example.test.privileges.example.test.roster = get');
    const alice = await connectUser(stack, 'alice', 'rostercheck');
    const mine = await alice.entity.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(rosterJids(mine)).toEqual(['bob@example.test']);
    await alice.entity.stop();
    expect(stack.audit).toContainEqual(
      expect.objectContaining({ action: 'roster.set', verdict: 'denied', reason: 'policy_denied', stanza_id: 'rs1', rule: 'components.pubsub.example.test.privileges.example.test.roster' }),
    );
  });

  function privilegedMessage(innerFrom: string, id: string): Element {
    return xml(
      'message',
      { from: 'pubsub.example.test', to: 'example.test', id },
      xml(
        'privilege',
        { xmlns: PRIV },
        xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('message', { xmlns: 'jabber:client', from: innerFrom, to: 'bob@example.test', id: `${id}-inner`, type: 'chat' }, xml('body', {}, 'hi'))),
      ),
    );
  }

  it('a privileged message as alice reaches bob; as a user out of scope or with a full JID it is refused', async () => {
    const bob = await connectUser(stack, 'bob', 'msg');
    // available, so that Prosody delivers messages to bob's bare JID
    await bob.entity.send(xml('presence'));
    await waitStanza(bob.stanzas, (el) => el.is('presence') && el.attrs.from === 'bob@example.test/msg', 'bob available');
    await comp.entity.send(privilegedMessage('alice@example.test', 'pm-ok'));
    const got = await waitStanza(bob.stanzas, (el) => el.attrs.id === 'pm-ok-inner', 'privileged message at bob');
    expect(got.attrs.from).toBe('alice@example.test');

    await comp.entity.send(privilegedMessage('carol@example.test', 'pm-carol'));
    const e1 = await waitStanza(comp.stanzas, (el) => el.attrs.id === 'pm-carol' && el.attrs.type === 'error', 'error for carol');
    expect(e1.getChild('error')?.getChild('forbidden')).toBeDefined();
    expect(e1.attrs.from).toBe('example.test');
    expect(e1.getChild('error')?.getChildText('text')).toContain('components.pubsub.example.test.privileges.example.test.users = ["alice","b*"]');

    await comp.entity.send(privilegedMessage('alice@example.test/phone', 'pm-full'));
    const e2 = await waitStanza(comp.stanzas, (el) => el.attrs.id === 'pm-full' && el.attrs.type === 'error', 'error for full JID');
    expect(e2.getChild('error')?.getChild('forbidden')).toBeDefined();

    // Neither refused message reached bob: a later allowed one arrives alone.
    await comp.entity.send(privilegedMessage('alice@example.test', 'pm-last'));
    await waitStanza(bob.stanzas, (el) => el.attrs.id === 'pm-last-inner', 'last message at bob');
    expect(bob.stanzas.filter((el) => el.is('message') && String(el.attrs.id).startsWith('pm-')).map((el) => String(el.attrs.id))).toEqual(['pm-ok-inner', 'pm-last-inner']);
    await bob.entity.stop();
  });

  function privilegedIq(ns: string, payload: string, id: string): Element {
    return xml(
      'iq',
      { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test', id },
      xml('privileged_iq', { xmlns: PRIV }, xml('iq', { xmlns: 'jabber:client', type: 'get', id: `${id}-inner` }, xml(payload, { xmlns: ns }, ...(ns === 'jabber:iq:private' ? [xml('storage', { xmlns: 'storage:bookmarks' })] : [])))),
    );
  }

  it('a privileged IQ in an allowed namespace is answered; another namespace is refused', async () => {
    const res = await comp.entity.iqCaller.request(privilegedIq('jabber:iq:private', 'query', 'piq-ok'), 5000);
    const inner = res.getChild('privilege', PRIV)?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('iq');
    expect(inner?.attrs.type).toBe('result');
    expect(inner?.attrs.id).toBe('piq-ok-inner');

    const err = await comp.entity.iqCaller.request(privilegedIq('vcard-temp', 'vCard', 'piq-vcard'), 5000).then(
      () => undefined,
      (e: { condition?: string; element?: Element }) => e,
    );
    expect(err?.condition).toBe('forbidden');
    expect(err?.element?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBe(
      'privguard: privileged iq get not allowed: components.pubsub.example.test.privileges.example.test.iq = no entry for vcard-temp',
    );
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'iq.get', namespace: 'jabber:iq:private', verdict: 'allowed' }));
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'iq.get', namespace: 'vcard-temp', verdict: 'denied' }));
  });

  it('presence managed_entity: alice\'s presence arrives, a scoped-out user\'s does not', async () => {
    const carol = await connectUser(stack, 'carol', 'p');
    await carol.entity.send(xml('presence'));
    // Prosody sends carol's presence to the component before it routes her next stanza.
    await carol.entity.send(xml('message', { to: 'pubsub.example.test', id: 'carol-marker' }));
    await waitStanza(comp.stanzas, (el) => el.attrs.id === 'carol-marker', 'carol marker');
    expect(comp.stanzas.some((el) => el.is('presence') && String(el.attrs.from).startsWith('carol@'))).toBe(false);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'presence', user: 'carol', verdict: 'denied', reason: 'user_out_of_scope' }));

    const alice = await connectUser(stack, 'alice', 'p');
    await alice.entity.send(xml('presence'));
    await waitStanza(comp.stanzas, (el) => el.is('presence') && el.attrs.from === 'alice@example.test/p', 'alice presence');
    await alice.entity.stop();
    await carol.entity.stop();
  });

  it('presence none: the component receives no presence when alice logs in', async () => {
    const limited = await online(stack, 'limited.example.test');
    const alice = await connectUser(stack, 'alice', 'none');
    await alice.entity.send(xml('presence'));
    await alice.entity.send(xml('message', { to: 'limited.example.test', id: 'alice-marker' }));
    await waitStanza(limited.stanzas, (el) => el.attrs.id === 'alice-marker', 'alice marker');
    expect(limited.stanzas.filter((el) => el.is('presence'))).toEqual([]);
    expect(stack.audit).toContainEqual(
      expect.objectContaining({ component: 'limited.example.test', action: 'presence', verdict: 'denied', reason: 'presence_not_granted' }),
    );
    await alice.entity.stop();
  });
});

describeProsody('mode: report', (version) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ prosody: { ...PROSODY, version }, policy: policy('report') });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('relays what enforce mode denies, and audits it as would_deny', async () => {
    const comp = await online(stack);
    const ad = comp.stanzas.find(isAdvertisement)!;
    // the component sees the server's own advertisement
    expect(perms(ad).roster).toBe('both');
    const res = await comp.entity.iqCaller.request(
      xml('iq', { type: 'set', from: 'pubsub.example.test', to: 'alice@example.test', id: 'rs-report' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'mallory@example.test' }))),
      5000,
    );
    expect(res.attrs.type).toBe('result');
    const alice = await connectUser(stack, 'alice', 'r');
    const mine = await alice.entity.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(rosterJids(mine).sort()).toEqual(['bob@example.test', 'mallory@example.test']);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'roster.set', verdict: 'would_deny', reason: 'policy_denied', stanza_id: 'rs-report' }));
  });
});
