/**
 * Issue 11 item 1 on real Prosody: a JID the server prepares to another text
 * (stringprep: B.1 characters deleted, B.2 case folding, NFKC) must not let a
 * component act for a user the policy excludes. With except_users [bob, boss]
 * every alias of bob is refused — roster get, roster set, privileged IQ,
 * privileged message — with jid-malformed, audited non_canonical_jid; bob's
 * roster and private storage are unchanged afterwards (checked as bob). And the
 * converse: an alias of an allowed user is refused at once (before, Prosody ran
 * it as alice and privguard dropped the answer, leaving a timeout), while the
 * prepared JID's request is answered.
 * On every server of the matrix: ejabberd prepares JIDs with its own stringprep
 * (not Prosody's), and whatever it would make of an alias, privguard refuses
 * it before the server sees it, and bob's data stays as it was. Where the
 * servers differ (the privileged IQ of the converse case), the case reads the
 * version.
 */
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEjabberd, describeProsody, type ServerName } from './harness/servers.js';
import { COMPONENT_SECRET, connectComponent, connectUser, ejabberdServer, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';

const PRIV = 'urn:xmpp:privilege:2';
const C = 'pubsub.example.test';

const PROSODY = {
  privileges: {
    [C]: { roster: 'both' as const, message: 'outgoing' as const, presence: 'none' as const, iq: { 'jabber:iq:private': 'both' as const } },
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
        message: outgoing
        iq: { "jabber:iq:private": both }
        users: ["*"]
        except_users: [bob, boss]
`;

/** What Prosody reads as bob (B.1 deletions, case, width) or boss (B.2: ß is ss). */
const ALIASES: [string, string][] = [
  ['b\u00adob', 'soft hyphen'],
  ['bo\u200bb', 'zero width space'],
  ['\ufeffbob', 'zero width no-break space'],
  ['b\u034fob', 'combining grapheme joiner'],
  ['bo\u2060b', 'word joiner'],
  ['b\ufe0fob', 'variation selector 16'],
  ['bo\u180bb', 'Mongolian free variation selector'],
  ['Bob', 'capital'],
  ['BOB', 'capitals'],
  ['ｂｏｂ', 'fullwidth'],
  ['boß', 'sharp s (boss)'],
];

function rosterJids(res: Element): string[] {
  return (res.getChild('query', 'jabber:iq:roster')?.getChildren('item') ?? []).map((i) => String(i.attrs.jid)).sort();
}

const privateGet = (id: string) => xml('iq', { xmlns: 'jabber:client', type: 'get', id }, xml('query', { xmlns: 'jabber:iq:private' }, xml('x', { xmlns: 'privguard:test' })));
const privateSet = (id: string, to?: string) =>
  xml('iq', { xmlns: 'jabber:client', type: 'set', id, ...(to ? { to } : {}) }, xml('query', { xmlns: 'jabber:iq:private' }, xml('x', { xmlns: 'privguard:test' }, 'written by the component')));

function privileged(to: string, id: string, inner: Element): Element {
  return xml('iq', { type: inner.attrs.type as string, from: C, to, id }, xml('privileged_iq', { xmlns: PRIV }, inner));
}

function privilegedMessage(innerFrom: string, id: string): Element {
  return xml(
    'message',
    { from: C, to: 'example.test', id },
    xml('privilege', { xmlns: PRIV }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('message', { xmlns: 'jabber:client', from: innerFrom, to: 'alice@example.test', id: `${id}-inner`, type: 'chat' }, xml('body', {}, 'hi')))),
  );
}

/** The error a request got, or undefined when it succeeded. */
async function errorOf(comp: Peer, el: Element): Promise<string | undefined> {
  return comp.entity.iqCaller.request(el, 5000).then(
    () => undefined,
    (e: { condition?: string }) => e.condition ?? 'no condition',
  );
}

function suite(server: ServerName, start: () => Promise<Stack>): void {
  let stack: Stack;
  let comp: Peer;
  let alice: Peer;
  beforeAll(async () => {
    stack = await start();
    comp = await connectComponent(stack, C);
    // ejabberd, busy, can take several seconds to advertise.
    await waitStanza(comp.stanzas, (el) => el.is('message') && el.getChild('privilege', PRIV) !== undefined, 'advertisement', 20_000);
    alice = await connectUser(stack, 'alice', 'watch');
    await alice.entity.send(xml('presence'));
    await waitStanza(alice.stanzas, (el) => el.is('presence') && el.attrs.from === 'alice@example.test/watch', 'alice available');
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it.each(ALIASES)('%j (%s): roster get, roster set, privileged IQ and privileged message are refused with jid-malformed', async (alias) => {
    const to = `${alias}@example.test`;
    const tag = Buffer.from(alias).toString('hex');
    expect(await errorOf(comp, xml('iq', { type: 'get', from: C, to, id: `rg-${tag}` }, xml('query', { xmlns: 'jabber:iq:roster' })))).toBe('jid-malformed');
    expect(
      await errorOf(comp, xml('iq', { type: 'set', from: C, to, id: `rs-${tag}` }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'mallory@example.test' })))),
    ).toBe('jid-malformed');
    expect(await errorOf(comp, privileged(to, `pi-${tag}`, privateSet(`pi-${tag}-inner`)))).toBe('jid-malformed');
    await comp.entity.send(privilegedMessage(to, `pm-${tag}`));
    const err = await waitStanza(comp.stanzas, (el) => el.attrs.id === `pm-${tag}` && el.attrs.type === 'error', 'privileged message refused');
    expect(err.getChild('error')?.getChild('jid-malformed', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    const denied = stack.audit.filter((a) => a.reason === 'non_canonical_jid' && String(a.stanza_id).endsWith(tag));
    expect(denied.map((a) => [a.action, a.verdict, a.user])).toEqual([
      ['roster.get', 'denied', alias === 'boß' ? 'boss' : 'bob'],
      ['roster.set', 'denied', alias === 'boß' ? 'boss' : 'bob'],
      ['iq.set', 'denied', alias === 'boß' ? 'boss' : 'bob'],
      ['message.outgoing', 'denied', alias === 'boß' ? 'boss' : 'bob'],
    ]);
  });

  it("bob's roster and private storage are unchanged, and no message reached alice as bob", async () => {
    const bob = await connectUser(stack, 'bob', 'check');
    const roster = await bob.entity.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(rosterJids(roster)).toEqual(['alice@example.test']);
    const stored = await bob.entity.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:private' }, xml('x', { xmlns: 'privguard:test' }))), 5000);
    expect(stored.getChild('query', 'jabber:iq:private')?.getChild('x', 'privguard:test')?.text() ?? '').toBe('');
    await bob.entity.stop();
    // A message as carol (in scope) arrives; none as bob came before it.
    await comp.entity.send(privilegedMessage('carol@example.test', 'pm-carol'));
    await waitStanza(alice.stanzas, (el) => el.attrs.id === 'pm-carol-inner', 'message as carol at alice');
    const privileged = alice.stanzas.filter((el) => el.is('message') && String(el.attrs.id ?? '').startsWith('pm-'));
    expect(privileged.map((el) => [String(el.attrs.id), String(el.attrs.from)])).toEqual([['pm-carol-inner', 'carol@example.test']]);
  });

  it(`the converse: an alias of alice is refused at once, alice herself is answered${server === 'prosody-0.12' || server === 'prosody-13' ? ' (matched on the prepared JID)' : ` (${server}: ${server === 'ejabberd-23.01' ? 'forbidden, privilege:1 has no iq permission' : 'service-unavailable, ejabberd #4347'})`}`, async () => {
    expect(await errorOf(comp, privileged('al\u00adice@example.test', 'al-alias', privateGet('al-alias-inner')))).toBe('jid-malformed');
    // With the inner "to" written out: ejabberd 24.12 fails to route a privileged IQ without one (no answer at all).
    if (server === 'ejabberd-23.01') {
      expect(await errorOf(comp, privileged('alice@example.test', 'al-ok', privateSet('al-ok-inner', 'alice@example.test')))).toBe('forbidden');
    } else if (server === 'ejabberd-24.12') {
      // ejabberd 24.12 sends a privileged IQ to the user's own JID back unanswered (#4347); privguard answers it.
      expect(await errorOf(comp, privileged('alice@example.test', 'al-ok', privateSet('al-ok-inner', 'alice@example.test')))).toBe('service-unavailable');
    } else {
      const res = await comp.entity.iqCaller.request(privileged('alice@example.test', 'al-ok', privateSet('al-ok-inner', 'alice@example.test')), 5000);
      const inner = res.getChild('privilege', PRIV)?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('iq');
      expect(inner?.attrs).toMatchObject({ type: 'result', id: 'al-ok-inner' });
    }
    const roster = await comp.entity.iqCaller.request(xml('iq', { type: 'get', from: C, to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(rosterJids(roster)).toEqual(['bob@example.test']);
    expect(stack.audit.filter((a) => a.reason === 'timeout')).toEqual([]);
  });
}

describeProsody('JID aliases on real Prosody (issue 11 item 1)', (version) => suite(`prosody-${version}`, () => startStack({ prosody: { ...PROSODY, version }, policy })));

describeEjabberd('JID aliases on real ejabberd (its own stringprep)', (version) =>
  suite(`ejabberd-${version}`, () => startStack({ server: ejabberdServer({ version, iq: { 'jabber:iq:private': 'both' } }), policy })),
);
