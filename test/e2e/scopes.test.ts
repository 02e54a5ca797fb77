/**
 * Content scopes end to end on real servers (issue 14): the server grants the
 * component everything it can; privguard narrows it to its own domain for
 * messages and roster items, and to the bookmarks node for pubsub.
 * On the whole matrix. Where the servers differ, the case reads the version:
 * ejabberd 23.01 fails a privileged roster set (#3942) and speaks privilege:1
 * (no iq permission: every privileged pubsub IQ is refused); 24.12 sends a
 * privileged IQ to the user's own JID back unanswered (#4347), which
 * privguard answers service-unavailable. The refusals are privguard's own
 * everywhere, and the user's data stays unchanged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEjabberd, describeProsody, type ServerName } from './harness/servers.js';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { COMPONENT_SECRET, connectComponent, connectUser, ejabberdServer, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';

const PRIV = 'urn:xmpp:privilege:2';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const C = 'pubsub.example.test';
const OMEMO = 'urn:xmpp:omemo:2:devices';

const PROSODY = {
  privileges: {
    [C]: {
      roster: 'both' as const,
      message: 'outgoing' as const,
      presence: 'roster' as const,
      iq: { [PUBSUB]: 'both' as const },
    },
  },
};

const policy = (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
components:
  ${C}:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    speaks: { privilege: 2, delegation: 2 }
    privileges:
      example.test:
        roster: both
        roster_items: [component]
        message: outgoing
        message_to: [component]
        iq:
          "${PUBSUB}": { type: both, to: [self], nodes: ["urn:xmpp:bookmarks:1"] }
`;

function isAdvertisement(el: Element): boolean {
  return el.is('message') && el.attrs.from === 'example.test' && el.getChild('privilege', PRIV) !== undefined;
}

/** The stanza error condition of a failed request (undefined: it succeeded). */
async function outcome(p: Promise<Element>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: { condition?: string; text?: string }) => `${e.condition ?? 'error'}${e.text ? `: ${e.text}` : ''}`,
  );
}

const rosterJids = (res: Element): string[] => (res.getChild('query', 'jabber:iq:roster')?.getChildren('item') ?? []).map((i) => String(i.attrs.jid));

// The inner "to" written out: ejabberd 24.12 fails to route a privileged IQ without one (no answer at all).
const privilegedIq = (type: 'get' | 'set', payload: Element) =>
  xml('iq', { type, from: C, to: 'alice@example.test' }, xml('privileged_iq', { xmlns: PRIV }, xml('iq', { xmlns: 'jabber:client', type, id: `in-${Math.random().toString(36).slice(2)}`, to: 'alice@example.test' }, payload)));

const publish = (node: string, item: Element) => xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node }, xml('item', { id: 'current' }, item)));

/** ejabberd in the Debian 13 root, on a busy machine, answers in seconds: generous deadlines (never a delay). */
const T = 15_000;

function suite(server: ServerName, start: () => Promise<Stack>): void {
  const ejabberd = server.startsWith('ejabberd-');
  let stack: Stack;
  let comp: Peer;
  beforeAll(async () => {
    stack = await start();
    comp = await connectComponent(stack, C);
    // ejabberd, busy, can take several seconds to advertise.
    await waitStanza(comp.stanzas, isAdvertisement, 'advertisement', 20_000);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('message_to [component]: writes as alice to x@its domain, not to bob', async () => {
    const bob = await connectUser(stack, 'bob', 'm');
    const send = (to: string, id: string) =>
      comp.entity.send(
        xml('message', { from: C, to: 'example.test', id }, xml('privilege', { xmlns: PRIV }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('message', { xmlns: 'jabber:client', from: 'alice@example.test', to, type: 'chat', id: `${id}-in` }, xml('body', {}, id))))),
      );
    await send(`x@${C}`, 'ok1');
    const got = await waitStanza(comp.stanzas, (s) => s.is('message') && s.attrs.to === `x@${C}` && s.getChildText('body') === 'ok1', 'the message as alice, routed back to the component', T);
    expect(got.attrs.from).toBe('alice@example.test');
    await send('bob@example.test', 'no1');
    const err = await waitStanza(comp.stanzas, (s) => s.is('message') && s.attrs.id === 'no1' && s.attrs.type === 'error', 'the refusal', T);
    expect(err.getChild('error')!.getChild('forbidden')).toBeDefined();
    expect(err.getChild('error')!.getChildText('text')).toContain(`message_to = ["component"]`);
    // A later message to bob from alice herself arrives; the refused one never did.
    const alice = await connectUser(stack, 'alice', 'm');
    await alice.entity.send(xml('message', { to: 'bob@example.test/m', type: 'chat', id: 'mark' }, xml('body', {}, 'mark')));
    await waitStanza(bob.stanzas, (s) => s.is('message') && s.getChildText('body') === 'mark', 'marker to bob', T);
    expect(bob.stanzas.filter((s) => s.getChildText('body') === 'no1')).toHaveLength(0);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'message.outgoing', verdict: 'denied', reason: 'out_of_scope', rule: `components.${C}.privileges.example.test.message_to` }));
  });

  it('roster_items [component]: adds a puppet, gets alice\'s roster without bob, cannot delete bob', async () => {
    const set = (item: Element) => comp.entity.iqCaller.request(xml('iq', { type: 'set', from: C, to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' }, item)), T);
    // ejabberd 23.01 fails every privileged roster set (its bug #3942, fixed in 23.10): privguard relays its answer.
    const puppets = server === 'ejabberd-23.01' ? [] : [`+3361234@${C}`];
    const added = await outcome(set(xml('item', { jid: `+3361234@${C}`, name: 'Puppet' })));
    if (server === 'ejabberd-23.01') expect(added).toMatch(/^internal-server-error/);
    else expect(added).toBeUndefined();
    const res = await comp.entity.iqCaller.request(xml('iq', { type: 'get', from: C, to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), T);
    expect(rosterJids(res)).toEqual(puppets);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'roster.result', verdict: 'filtered', hidden: 1, user: 'alice' }));
    expect(await outcome(set(xml('item', { jid: 'bob@example.test', subscription: 'remove' })))).toMatch(/^forbidden: privguard: roster set not allowed: outside the scope/);
    // Alice herself still has bob.
    const alice = await connectUser(stack, 'alice', 'r');
    const mine = await alice.entity.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })), T);
    expect(rosterJids(mine).sort()).toEqual([...puppets, 'bob@example.test']);
  });

  it(`pubsub nodes ["urn:xmpp:bookmarks:1"]: bookmarks publish ${ejabberd ? 'is answered' : 'works'}; the OMEMO device list is refused${ejabberd ? '' : ' and unchanged'}`, async () => {
    const alice = await connectUser(stack, 'alice', 'p');
    const devices = (id: string) => xml('devices', { xmlns: 'urn:xmpp:omemo:2' }, xml('device', { id }));
    // Alice publishes her own device list (Prosody: ejabberd runs here without PEP, see below).
    if (!ejabberd) await alice.entity.iqCaller.request(xml('iq', { type: 'set' }, publish(OMEMO, devices('1111'))), T);
    const bookmark = xml('conference', { xmlns: 'urn:xmpp:bookmarks:1', autojoin: 'true' });
    const published = await outcome(comp.entity.iqCaller.request(privilegedIq('set', publish('urn:xmpp:bookmarks:1', bookmark)), T));
    if (server === 'ejabberd-23.01') expect(published).toContain('forbidden: privguard: privileged iq set uses a privilege namespace the server does not speak (urn:xmpp:privilege:1 has no iq permission)');
    else if (server === 'ejabberd-24.12') expect(published).toContain('service-unavailable: privguard: privileged iq came back from the server as a request');
    else expect(published).toBeUndefined();
    const refused = await outcome(comp.entity.iqCaller.request(privilegedIq('set', publish(OMEMO, devices('6666'))), T));
    expect(refused).toContain('forbidden');
    expect(refused).toContain(server === 'ejabberd-23.01' ? 'has no iq permission' : `node "${OMEMO}"`);
    if (ejabberd) return;
    // Fetched as alice: her own list, not the component's.
    const items = await alice.entity.iqCaller.request(xml('iq', { type: 'get', to: 'alice@example.test' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: OMEMO }))), T);
    const ids = items.getChild('pubsub', PUBSUB)!.getChild('items')!.getChildren('item').flatMap((i) => i.getChild('devices', 'urn:xmpp:omemo:2')!.getChildren('device').map((d) => String(d.attrs.id)));
    expect(ids).toEqual(['1111']);
    // And the bookmark is there where the server carried it out.
    const bm = alice.entity.iqCaller.request(xml('iq', { type: 'get', to: 'alice@example.test' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: 'urn:xmpp:bookmarks:1' }))), T);
    if (published === undefined) expect((await bm).getChild('pubsub', PUBSUB)!.getChild('items')!.getChildren('item')).toHaveLength(1);
    else expect(await outcome(bm)).toMatch(/^item-not-found/);
  });
}

describeProsody('content scopes on real Prosody (the server grants everything; the policy narrows)', (version) =>
  suite(`prosody-${version}`, () => startStack({ prosody: { ...PROSODY, version }, policy })),
);

// Without mod_pubsub: with it loaded, ejabberd 24.12 left the privileged roster set of a contact at the
// component's domain unanswered here (12 s and more); the pubsub case then checks privguard's answers only
// (23.01 has no iq permission at all; on 24.12 a publish as alice to her own JID hits #4347).
describeEjabberd('content scopes on real ejabberd (the server grants what it can; the policy narrows)', (version) =>
  suite(`ejabberd-${version}`, () => startStack({ server: ejabberdServer({ version, iq: { [PUBSUB]: 'both' } }), policy })),
);
