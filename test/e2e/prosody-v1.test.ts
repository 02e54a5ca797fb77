/**
 * A component speaking privilege:1 / delegation:1 (as older components such as
 * Spectrum2 do) on real Prosody, which speaks only :2. First without privguard
 * (the failure it fixes), then through it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeProsody } from './harness/servers.js';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { COMPONENT_SECRET, connectComponent, connectUser, makeComponent, serveDelegation, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';

const PRIV1 = 'urn:xmpp:privilege:1';
const PRIV2 = 'urn:xmpp:privilege:2';
const DELEG1 = 'urn:xmpp:delegation:1';
const FWD = 'urn:xmpp:forward:0';
const MAM = 'urn:xmpp:mam:2';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

const PROSODY = {
  privileges: {
    'pubsub.example.test': { roster: 'both' as const, message: 'outgoing' as const, presence: 'roster' as const, iq: { 'jabber:iq:private': 'both' as const } },
    // the same grant, for the check without privguard (Prosody sends nesting queries only on a component's first connection)
    'limited.example.test': { roster: 'both' as const, message: 'outgoing' as const, presence: 'roster' as const, iq: { 'jabber:iq:private': 'both' as const } },
  },
  delegations: { [MAM]: { jid: 'pubsub.example.test', filtering: ['node'] } },
};

const policy = (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    speaks: { privilege: 1, delegation: 1 }
    privileges:
      example.test: { roster: get, message: outgoing, presence: managed_entity, iq: { "jabber:iq:private": get } }
    delegations:
      example.test: { "${MAM}": { attributes: [node] } }
`;

const isAdvertisement = (ns: string) => (el: Element) => el.is('message') && el.getChild('privilege', ns) !== undefined;

describeProsody('a :1 component on real Prosody', (version) => {
  let stack: Stack;
  let comp: Peer;
  beforeAll(async () => {
    stack = await startStack({ prosody: { ...PROSODY, version }, policy });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('without privguard it gets only a privilege:2 advertisement, which it cannot read', async () => {
    const direct = await connectComponent(stack, 'limited.example.test', 's3cr3t', stack.prosody.componentPort);
    await waitStanza(direct.stanzas, isAdvertisement(PRIV2), 'the server\'s own advertisement');
    expect(direct.stanzas.some(isAdvertisement(PRIV1))).toBe(false);
    direct.entity.reconnect.stop();
    await direct.entity.stop();
  });

  it('through privguard it gets a :1 advertisement, without iq and without push', async () => {
    comp = makeComponent(stack);
    comp.entity.iqCallee.get(DISCO_INFO, 'query', ({ element }) => xml('query', { xmlns: DISCO_INFO, node: String(element.attrs.node) }, xml('feature', { var: MAM })));
    serveDelegation(comp, { version: 1, payload: () => xml('fin', { xmlns: MAM, complete: 'true' }) });
    await comp.entity.start();
    const adv = await waitStanza(comp.stanzas, isAdvertisement(PRIV1), ':1 advertisement');
    const perms = adv.getChild('privilege', PRIV1)!.getChildren('perm');
    expect(perms.map((p) => `${String(p.attrs.access)}=${String(p.attrs.type)}`)).toEqual(['roster=get', 'message=outgoing', 'presence=managed_entity']);
    expect(perms.some((p) => p.attrs.push !== undefined)).toBe(false);
    expect(comp.stanzas.some(isAdvertisement(PRIV2))).toBe(false);
  });

  it('the server\'s disco nesting queries arrive with :1 nodes', async () => {
    const nodes = () => comp.stanzas.filter((el) => el.is('iq') && el.getChild('query', DISCO_INFO)).map((el) => String(el.getChild('query', DISCO_INFO)!.attrs.node));
    await waitStanza(comp.stanzas, (el) => el.is('iq') && el.getChild('query', DISCO_INFO) !== undefined, 'nesting query');
    expect(nodes().every((n) => n.startsWith('urn:xmpp:delegation:1:'))).toBe(true);
  });

  it('roster get works', async () => {
    const res = await comp.entity.iqCaller.request(xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(res.attrs.type).toBe('result');
  });

  it('a privileged message with the privilege:1 wrapper reaches bob', async () => {
    const bob = await connectUser(stack, 'bob', 'v1');
    await bob.entity.send(xml('presence'));
    await waitStanza(bob.stanzas, (el) => el.is('presence') && el.attrs.from === 'bob@example.test/v1', 'bob available');
    await comp.entity.send(
      xml('message', { from: 'pubsub.example.test', to: 'example.test', id: 'v1-pm' }, xml('privilege', { xmlns: PRIV1 }, xml('forwarded', { xmlns: FWD }, xml('message', { xmlns: 'jabber:client', from: 'alice@example.test', to: 'bob@example.test', id: 'v1-pm-inner', type: 'chat' }, xml('body', {}, 'from a :1 component'))))),
    );
    const got = await waitStanza(bob.stanzas, (el) => el.attrs.id === 'v1-pm-inner', 'message at bob');
    expect(got.attrs.from).toBe('alice@example.test');
    await bob.entity.stop();
  });

  it('a delegated MAM query with node arrives as delegation:1, and alice gets the component\'s answer', async () => {
    const alice = await connectUser(stack, 'alice', 'v1');
    const res = await alice.entity.iqCaller.request(xml('iq', { type: 'set', id: 'v1-mam' }, xml('query', { xmlns: MAM, queryid: 'q', node: 'n' })), 5000);
    expect(res.attrs).toMatchObject({ type: 'result', id: 'v1-mam' });
    const seen = comp.stanzas.find((el) => el.is('iq') && el.getChild('delegation', DELEG1)?.getChild('forwarded', FWD)?.getChild('iq')?.attrs.id === 'v1-mam');
    expect(seen).toBeDefined();
    await alice.entity.stop();
  });
});
