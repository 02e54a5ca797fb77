/**
 * Content scopes end to end on real Prosody (issue 14): Prosody grants the
 * component everything; privguard narrows it to its own domain for messages
 * and roster items, and to the bookmarks node for pubsub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { COMPONENT_SECRET, connectComponent, connectUser, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';

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

const privilegedIq = (type: 'get' | 'set', payload: Element) =>
  xml('iq', { type, from: C, to: 'alice@example.test' }, xml('privileged_iq', { xmlns: PRIV }, xml('iq', { xmlns: 'jabber:client', type, id: `in-${Math.random().toString(36).slice(2)}` }, payload)));

const publish = (node: string, item: Element) => xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node }, xml('item', { id: 'current' }, item)));

describe('content scopes on real Prosody (the server grants everything; the policy narrows)', () => {
  let stack: Stack;
  let comp: Peer;
  beforeAll(async () => {
    stack = await startStack({ prosody: PROSODY, policy });
    comp = await connectComponent(stack, C);
    await waitStanza(comp.stanzas, isAdvertisement, 'advertisement');
  });
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
    const got = await waitStanza(comp.stanzas, (s) => s.is('message') && s.attrs.to === `x@${C}` && s.getChildText('body') === 'ok1', 'the message as alice, routed back to the component');
    expect(got.attrs.from).toBe('alice@example.test');
    await send('bob@example.test', 'no1');
    const err = await waitStanza(comp.stanzas, (s) => s.is('message') && s.attrs.id === 'no1' && s.attrs.type === 'error', 'the refusal');
    expect(err.getChild('error')!.getChild('forbidden')).toBeDefined();
    expect(err.getChild('error')!.getChildText('text')).toContain(`message_to = ["component"]`);
    // A later message to bob from alice herself arrives; the refused one never did.
    const alice = await connectUser(stack, 'alice', 'm');
    await alice.entity.send(xml('message', { to: 'bob@example.test/m', type: 'chat', id: 'mark' }, xml('body', {}, 'mark')));
    await waitStanza(bob.stanzas, (s) => s.is('message') && s.getChildText('body') === 'mark', 'marker to bob');
    expect(bob.stanzas.filter((s) => s.getChildText('body') === 'no1')).toHaveLength(0);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'message.outgoing', verdict: 'denied', reason: 'out_of_scope', rule: `components.${C}.privileges.example.test.message_to` }));
  });

  it('roster_items [component]: adds a puppet, gets alice\'s roster without bob, cannot delete bob', async () => {
    const set = (item: Element) => comp.entity.iqCaller.request(xml('iq', { type: 'set', from: C, to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' }, item)), 5000);
    expect(await outcome(set(xml('item', { jid: `+3361234@${C}`, name: 'Puppet' })))).toBeUndefined();
    const res = await comp.entity.iqCaller.request(xml('iq', { type: 'get', from: C, to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(rosterJids(res)).toEqual([`+3361234@${C}`]);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'roster.result', verdict: 'filtered', hidden: 1, user: 'alice' }));
    expect(await outcome(set(xml('item', { jid: 'bob@example.test', subscription: 'remove' })))).toMatch(/^forbidden: privguard: roster set not allowed: outside the scope/);
    // Alice herself still has bob.
    const alice = await connectUser(stack, 'alice', 'r');
    const mine = await alice.entity.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(rosterJids(mine).sort()).toEqual([`+3361234@${C}`, 'bob@example.test']);
  });

  it('pubsub nodes ["urn:xmpp:bookmarks:1"]: bookmarks publish works; the OMEMO device list is refused and unchanged', async () => {
    const alice = await connectUser(stack, 'alice', 'p');
    const devices = (id: string) => xml('devices', { xmlns: 'urn:xmpp:omemo:2' }, xml('device', { id }));
    // Alice publishes her own device list.
    await alice.entity.iqCaller.request(xml('iq', { type: 'set' }, publish(OMEMO, devices('1111'))), 5000);
    const bookmark = xml('conference', { xmlns: 'urn:xmpp:bookmarks:1', autojoin: 'true' });
    expect(await outcome(comp.entity.iqCaller.request(privilegedIq('set', publish('urn:xmpp:bookmarks:1', bookmark)), 5000))).toBeUndefined();
    const refused = await outcome(comp.entity.iqCaller.request(privilegedIq('set', publish(OMEMO, devices('6666'))), 5000));
    expect(refused).toContain('forbidden');
    expect(refused).toContain(`node "${OMEMO}"`);
    // Fetched as alice: her own list, not the component's.
    const items = await alice.entity.iqCaller.request(xml('iq', { type: 'get', to: 'alice@example.test' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: OMEMO }))), 5000);
    const ids = items.getChild('pubsub', PUBSUB)!.getChild('items')!.getChildren('item').flatMap((i) => i.getChild('devices', 'urn:xmpp:omemo:2')!.getChildren('device').map((d) => String(d.attrs.id)));
    expect(ids).toEqual(['1111']);
    // And the bookmark is there.
    const bm = await alice.entity.iqCaller.request(xml('iq', { type: 'get', to: 'alice@example.test' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: 'urn:xmpp:bookmarks:1' }))), 5000);
    expect(bm.getChild('pubsub', PUBSUB)!.getChild('items')!.getChildren('item')).toHaveLength(1);
  });
});
