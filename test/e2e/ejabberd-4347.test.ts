/**
 * ejabberd #4347 (24.10 to 25.02, fixed in 25.03 by PR #4348), on real
 * ejabberd: a privileged IQ to the user's own bare JID. 24.12 sends the
 * component its own request back, wrapped like an answer but still an IQ get,
 * and never answers it. Straight to the server the component waits in vain;
 * through privguard it gets one answer at once (service-unavailable naming
 * the bug) and never sees the copy. 23.01 speaks privilege:1, which has no iq
 * permission: straight to it, the IQ is an ordinary IQ to alice and the server
 * answers it; through privguard it is refused. Either way one answer.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { describeEjabberd } from './harness/servers.js';
import { waitFor } from '../support/wait.js';
import { COMPONENT_SECRET, connectComponent, ejabberdServer, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';

const PRIV2 = 'urn:xmpp:privilege:2';
const C = 'pubsub.example.test';
// Far beyond the time the answers take here: an answer that came from the deadline would show.
const PENDING_TIMEOUT_MS = 20_000;

const policy = (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
limits: { pending_timeout_ms: ${PENDING_TIMEOUT_MS} }
components:
  ${C}:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    speaks: { privilege: 2, delegation: 2 }
    privileges:
      example.test: { roster: get, iq: { "vcard-temp": get } }
`;

const isAdvertisement = (el: Element) => el.is('message') && el.attrs.from === 'example.test' && el.getChild('privilege') !== undefined;

const vcardOfAlice = (id: string) =>
  xml('iq', { type: 'get', from: C, to: 'alice@example.test', id }, xml('privileged_iq', { xmlns: PRIV2 }, xml('iq', { xmlns: 'jabber:client', type: 'get', id: `${id}-inner`, to: 'alice@example.test' }, xml('vCard', { xmlns: 'vcard-temp' }))));

/** The looped copy: the request's id, from alice, an IQ get wrapping the request. */
const isLoopedCopy = (id: string) => (el: Element) => el.is('iq') && el.attrs.id === id && el.attrs.type === 'get' && el.getChild('privilege', PRIV2) !== undefined;
const answersTo = (peer: Peer, id: string) => peer.stanzas.filter((el) => el.is('iq') && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'));

describeEjabberd('a privileged IQ to the user\'s own bare JID (ejabberd #4347)', (version) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ server: ejabberdServer({ version }), policy });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it(`without privguard: ${version === '24.12' ? 'the request comes back as an IQ get and is never answered' : 'ejabberd 23.01 answers it as an ordinary IQ to alice'}`, async () => {
    const direct = await connectComponent(stack, C, 's3cr3t', stack.prosody.componentPort);
    await waitStanza(direct.stanzas, isAdvertisement, "the server's advertisement");
    await direct.entity.send(vcardOfAlice('direct-1'));
    if (version === '24.12') {
      await waitStanza(direct.stanzas, isLoopedCopy('direct-1'), 'the looped copy');
      // Bounded: the bug is that nothing ever comes.
      await expect(waitStanza(direct.stanzas, (el) => answersTo(direct, 'direct-1').includes(el), 'an answer', 3000)).rejects.toThrow(/timed out/);
    } else {
      await waitStanza(direct.stanzas, (el) => answersTo(direct, 'direct-1').includes(el), 'the answer');
      expect(direct.stanzas.some(isLoopedCopy('direct-1'))).toBe(false);
    }
    direct.entity.reconnect.stop();
    await direct.entity.stop();
  });

  it(`through privguard: one answer at once, ${version === '24.12' ? 'service-unavailable naming the bug; the copy never reaches the component' : 'forbidden: privilege:1 has no iq permission'}`, async () => {
    await waitFor('the direct session gone', () => (stack.sidecar.online().includes(C) ? undefined : true), 10_000);
    const comp = await connectComponent(stack, C);
    await waitStanza(comp.stanzas, isAdvertisement, 'the advertisement');
    const t0 = Date.now();
    await comp.entity.send(vcardOfAlice('pg-1'));
    const answer = await waitStanza(comp.stanzas, (el) => answersTo(comp, 'pg-1').includes(el), 'the answer');
    expect(Date.now() - t0).toBeLessThan(PENDING_TIMEOUT_MS / 2);
    expect(answer.attrs).toMatchObject({ type: 'error', from: 'alice@example.test', to: C });
    const error = answer.getChild('error')!;
    if (version === '24.12') {
      expect(error.attrs.type).toBe('cancel');
      expect(error.getChild('service-unavailable')).toBeDefined();
      expect(error.getChildText('text')).toContain('ejabberd bug #4347');
      expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'iq.get', verdict: 'denied', reason: 'looped_request', user: 'alice', stanza_id: 'pg-1' }));
      expect(stack.log.lines.filter((l) => l.level === 'warn' && l.msg.includes('#4347'))).toHaveLength(1);
    } else {
      expect(error.getChild('forbidden')).toBeDefined();
      expect(error.getChildText('text')).toContain('urn:xmpp:privilege:1 has no iq permission');
    }
    // A roster get after it is answered (the link is healthy), and by then nothing else came for pg-1.
    const roster = await comp.entity.iqCaller.request(xml('iq', { type: 'get', from: C, to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(roster.attrs.type).toBe('result');
    expect(answersTo(comp, 'pg-1')).toHaveLength(1);
    expect(comp.stanzas.some(isLoopedCopy('pg-1'))).toBe(false);
    expect(stack.audit.filter((a) => a.reason === 'timeout')).toEqual([]);
  });
});
