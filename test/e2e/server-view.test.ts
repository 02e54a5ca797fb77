/**
 * Issue 11 items 2 and 3 on real servers: privguard's view of what the
 * component sends must be the server's.
 *  - Delegation replies in shapes Prosody's mod_delegation discards without
 *    answering (white space between the wrappers, two payloads in a result,
 *    three in an error, an outer "from" with a resource or a localpart): the
 *    user gets exactly one answer, the component's (rebuilt) or
 *    service-unavailable.
 *  - Input Prosody would answer with a stream error (a name libexpat refuses,
 *    an element in the xml namespace, invalid UTF-8): privguard refuses it on
 *    the component's stream, and the delegated IQ pending on the upstream is
 *    answered first. A "from" domain differing in case or by a trailing dot is
 *    answered jid-malformed and never forwarded; the upstream stays up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEjabberd, describeProsody, type ServerName } from './harness/servers.js';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { COMPONENT_SECRET, connectUser, ejabberdServer, RawComponent, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';
import { waitFor } from '../support/wait.js';

const DELEG = 'urn:xmpp:delegation:2';
const MAM = 'urn:xmpp:mam:2';
const COMPONENT = 'pubsub.example.test';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

const policy = (pendingMs: number) => (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
limits: { pending_timeout_ms: ${pendingMs} }
components:
  ${COMPONENT}:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    speaks: { privilege: 2, delegation: 2 }
    delegations:
      example.test:
        "${MAM}": { attributes: [node] }
`;

/**
 * On every server that delegates: Prosody, and ejabberd 23.01 and 24.12 — 24.12 without mod_privilege,
 * since with it loaded it never activates delegation (#4336; ejabberd.test.ts shows that). ejabberd
 * delegates only after the component answered its disco nesting queries; on a busy machine it answers
 * in seconds, so its runs get a longer deadline.
 */
function suite(server: ServerName, PENDING_TIMEOUT_MS: number, start: (policy: (listen: number, upstream: number) => string) => Promise<Stack>): void {
  const ejabberd = server.startsWith('ejabberd-');
  let stack: Stack;
  let alice: Peer;

  beforeAll(async () => {
    stack = await start(policy(PENDING_TIMEOUT_MS));
    alice = await connectUser(stack, 'alice', 'sv');
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  async function component(): Promise<RawComponent> {
    // The previous connection's session must be gone, or the newcomer gets conflict.
    await waitFor('no session left', () => (stack.sidecar.online().includes(COMPONENT) ? undefined : true), 10_000);
    const raw = await RawComponent.open(stack.port, COMPONENT);
    stack.sockets.push(raw.socket);
    if (ejabberd) {
      // ejabberd asks the component about each delegated namespace (XEP-0355 §4.2, nodes :: and :bare:).
      for (const prefix of [`${DELEG}::`, `${DELEG}:bare:`]) {
        const q = await raw.waitFor((el) => el.name === 'iq' && el.getChild('query', DISCO_INFO)?.attrs.node === `${prefix}${MAM}`, `nesting query ${prefix}`, 15_000);
        raw.write(`<iq type='result' id='${String(q.attrs.id)}' from='${COMPONENT}' to='example.test'><query xmlns='${DISCO_INFO}' node='${prefix}${MAM}'><feature var='${MAM}'/></query></iq>`);
      }
    }
    await raw.waitFor((el) => el.name === 'message' && el.getChild('delegation', DELEG) !== undefined, 'delegation advertisement', ejabberd ? 15_000 : 5000);
    return raw;
  }

  /** alice's MAM query `id`, as the component receives it: the wrapper and the user's iq. */
  async function delegate(raw: RawComponent, id: string): Promise<{ wrapper: Element; inner: Element }> {
    await alice.entity.send(xml('iq', { type: 'set', id }, xml('query', { xmlns: MAM, queryid: id, node: 'urn:xmpp:microblog:0' })));
    const innerOf = (el: Element) => el.getChild('delegation', DELEG)?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('iq');
    const wrapper = await raw.waitFor((el) => el.name === 'iq' && innerOf(el)?.attrs.id === id, `delegated ${id}`);
    return { wrapper, inner: innerOf(wrapper)! };
  }

  const answersTo = (id: string) => alice.stanzas.filter((el) => el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'));

  /** The one answer alice gets for `id`, well before privguard's deadline would answer it. */
  async function answer(id: string): Promise<Element> {
    const t0 = Date.now();
    const a = await waitStanza(alice.stanzas, (el) => answersTo(id).includes(el), `alice's answer to ${id}`, PENDING_TIMEOUT_MS - 1000);
    expect(Date.now() - t0).toBeLessThan(PENDING_TIMEOUT_MS - 1000);
    return a;
  }

  const errorCondition = (el: Element) => el.getChild('error')?.getChildElements()[0]?.name;

  describe('delegation replies in every shape: alice gets exactly one answer', () => {
    let raw: RawComponent;
    beforeAll(async () => {
      raw = await component();
    });
    afterAll(async () => {
      raw.write('</stream:stream>');
      await raw.closed;
    });

    /** Reply to `id` with `body` inside the inner iq; `shape` bends the wrappers. */
    async function roundTrip(id: string, shape: (w: string, inner: Element) => string): Promise<Element> {
      const { wrapper, inner } = await delegate(raw, id);
      raw.write(shape(String(wrapper.attrs.id), inner));
      const a = await answer(id);
      // A correct round trip after it: anything more for `id` would have come by now.
      const marker = `${id}-marker`;
      const m = await delegate(raw, marker);
      raw.write(plain(String(m.wrapper.attrs.id), m.inner, `<fin xmlns='${MAM}' complete='true'/>`));
      expect((await answer(marker)).attrs.type).toBe('result');
      expect(answersTo(id)).toHaveLength(1);
      return a;
    }

    const innerIq = (inner: Element, body: string, type = 'result') =>
      `<iq xmlns='jabber:client' type='${type}' id='${String(inner.attrs.id)}' to='${String(inner.attrs.from)}'>${body}</iq>`;
    const plain = (w: string, inner: Element, body: string, opts: { type?: string; from?: string; ws?: string } = {}) => {
      const ws = opts.ws ?? '';
      return `<iq type='result' id='${w}' from='${opts.from ?? COMPONENT}' to='example.test'>${ws}<delegation xmlns='${DELEG}'>${ws}<forwarded xmlns='urn:xmpp:forward:0'>${ws}${innerIq(inner, body, opts.type)}${ws}</forwarded>${ws}</delegation>${ws}</iq>`;
    };

    it('a pretty-printed reply reaches alice (rebuilt without the white space)', async () => {
      const a = await roundTrip('pretty', (w, inner) => plain(w, inner, `\n    <fin xmlns='${MAM}' complete='true'/>\n  `, { ws: '\n  ' }));
      expect(a.attrs.type).toBe('result');
      expect(a.getChild('fin', MAM)).toBeDefined();
      expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'delegation.reply', verdict: 'allowed' }));
    });

    it.each([
      ['two payloads in a result', (w: string, inner: Element) => plain(w, inner, `<fin xmlns='${MAM}'/><fin xmlns='${MAM}'/>`), 'payload'],
      [
        'three children in an error',
        (w: string, inner: Element) => plain(w, inner, `<fin xmlns='${MAM}'/><x xmlns='urn:x'/><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`, { type: 'error' }),
        'payload',
      ],
      ['text between the wrappers', (w: string, inner: Element) => plain(w, inner, `<fin xmlns='${MAM}'/>`, { ws: 'x' }), 'text'],
      ['an outer from with a resource', (w: string, inner: Element) => plain(w, inner, `<fin xmlns='${MAM}'/>`, { from: `${COMPONENT}/r` }), 'outer from'],
      ['an outer from with a localpart', (w: string, inner: Element) => plain(w, inner, `<fin xmlns='${MAM}'/>`, { from: `bot@${COMPONENT}` }), 'outer from'],
    ])('%s: alice gets service-unavailable at once', async (_what, shape, field) => {
      const id = `shape-${field.replace(' ', '-')}-${Math.random().toString(36).slice(2, 8)}`;
      const a = await roundTrip(id, shape);
      expect(a.attrs.type).toBe('error');
      expect(errorCondition(a)).toBe('service-unavailable');
      expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'delegation.reply', verdict: 'denied', reason: 'reply_shape', field }));
    });
  });

  describe('input the server would answer with a stream error: refused by privguard, the pending IQ answered', () => {
    it.each([
      ['a fullwidth attribute name (XML 1.0 5th edition, not libexpat)', `<message from='${COMPONENT}' to='alice@example.test' \uFF49\uFF44='1'/>`, 'not-well-formed'],
      ['an element in the xml namespace', `<message from='${COMPONENT}' to='alice@example.test'><xml:x/></message>`, 'policy-violation'],
      ['invalid UTF-8', Buffer.concat([Buffer.from(`<message from='${COMPONENT}' to='alice@example.test'><body>`), Buffer.from([0xc0, 0xaf]), Buffer.from('</body></message>')]), 'not-well-formed'],
    ])('%s', async (what, input, condition) => {
      const raw = await component();
      const id = `bad-${Math.random().toString(36).slice(2, 8)}`;
      await delegate(raw, id);
      const before = alice.stanzas.filter((el) => el.name === 'message').length;
      raw.write(input);
      expect(await raw.streamError(), what).toBe(condition);
      const a = await answer(id);
      expect(errorCondition(a)).toBe('service-unavailable');
      expect(answersTo(id)).toHaveLength(1);
      expect(alice.stanzas.filter((el) => el.name === 'message').length).toBe(before);
      await raw.closed;
    });

    // Not in prepared form: answered jid-malformed on the component's stream, which stays up (issue 11 items 1 and 3c).
    it.each([
      ['a from domain in another case', `<message from='PubSub.example.test' to='alice@example.test' id='bad-from'/>`],
      ['a from domain with a trailing dot', `<message from='${COMPONENT}.' to='alice@example.test' id='bad-from'/>`],
    ])('%s: jid-malformed, nothing forwarded, the upstream stays up and the pending IQ is answered by the component', async (_what, input) => {
      const raw = await component();
      const id = `from-${Math.random().toString(36).slice(2, 8)}`;
      const { wrapper, inner } = await delegate(raw, id);
      const before = alice.stanzas.filter((el) => el.name === 'message').length;
      raw.write(input);
      const err = await raw.waitFor((el) => el.attrs.id === 'bad-from' && el.attrs.type === 'error', 'error at the component');
      expect(err.getChild('error')?.getChild('jid-malformed', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
      raw.write(
        `<iq type='result' id='${String(wrapper.attrs.id)}' from='${COMPONENT}' to='example.test'><delegation xmlns='${DELEG}'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='${id}' to='${String(inner.attrs.from)}'><fin xmlns='${MAM}'/></iq></forwarded></delegation></iq>`,
      );
      expect((await answer(id)).attrs.type).toBe('result');
      expect(alice.stanzas.filter((el) => el.name === 'message').length).toBe(before);
      raw.write('</stream:stream>');
      await raw.closed;
    });

    it('the component connects again afterwards and its IQs are served', async () => {
      const raw = await component();
      const { wrapper, inner } = await delegate(raw, 'after');
      raw.write(
        `<iq type='result' id='${String(wrapper.attrs.id)}' from='${COMPONENT}' to='example.test'><delegation xmlns='${DELEG}'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='after' to='${String(inner.attrs.from)}'><fin xmlns='${MAM}'/></iq></forwarded></delegation></iq>`,
      );
      expect((await answer('after')).attrs.type).toBe('result');
    });
  });
}

describeProsody("privguard's view is the server's (real Prosody)", (version) =>
  suite(`prosody-${version}`, 4000, (policy) => startStack({ prosody: { version, delegations: { [MAM]: { jid: COMPONENT, filtering: ['node'] } } }, policy })),
);

describeEjabberd("privguard's view is the server's (real ejabberd)", (version) =>
  suite(`ejabberd-${version}`, 10_000, (policy) => startStack({ server: ejabberdServer({ version, withoutPrivilege: version === '24.12' }), policy })),
);
