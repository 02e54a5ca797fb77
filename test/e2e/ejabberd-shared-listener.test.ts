/**
 * ejabberd with one `ejabberd_service` listener for two components
 * (`global_routes: false`, a password each) and one privguard in front of it:
 * each component authenticates upstream with its own password, gets only its
 * own traffic and keeps only its own rights. ejabberd's own `from` check
 * accepts any domain of the listener; privguard's is what stops one component
 * from sending as the other.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { xml } from '@xmpp/component';
import { startEjabberd } from './harness/ejabberd.js';
import { describeEjabberd } from './harness/servers.js';
import { COMPONENT_SECRET, connectComponent, connectUser, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';
import { waitFor } from '../support/wait.js';

const PASSWORDS = { 'pubsub.example.test': 'pw-pubsub', 'plain.example.test': 'pw-plain' };

const policy = (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: ${PASSWORDS['pubsub.example.test']}
    privileges:
      example.test: { roster: get, message: outgoing, presence: roster }
  plain.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: ${PASSWORDS['plain.example.test']}
`;

describeEjabberd('two components behind one privguard on one ejabberd listener (global_routes: false)', (version) => {
  let stack: Stack;
  let pubsub: Peer;
  let plain: Peer;

  beforeAll(async () => {
    stack = await startStack({
      server: async () => {
        const ej = await startEjabberd(Object.keys(PASSWORDS), { version, sharedListener: true, passwords: PASSWORDS });
        expect(new Set(Object.values(ej.componentPorts)).size).toBe(1);
        return { c2sPort: ej.c2sPort, componentPort: ej.componentPorts['pubsub.example.test']!, stop: () => ej.stop() };
      },
      policy,
    });
    pubsub = await connectComponent(stack, 'pubsub.example.test');
    plain = await connectComponent(stack, 'plain.example.test');
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('each authenticates upstream with its own password; only the privileged one gets an advertisement', async () => {
    await waitStanza(pubsub.stanzas, (el) => el.is('message') && el.getChild('privilege') !== undefined, 'pubsub advertisement');
    const res = await pubsub.entity.iqCaller.request(xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000);
    expect(res.getChild('query', 'jabber:iq:roster')!.getChildren('item').map((i) => String(i.attrs.jid))).toEqual(['bob@example.test']);
    expect(plain.stanzas.some((el) => el.is('message') && el.getChild('privilege') !== undefined)).toBe(false);
  });

  it('no cross-delivery: each component gets only what is addressed to it', async () => {
    const alice = await connectUser(stack, 'alice', 'shared');
    await alice.entity.send(xml('message', { to: 'plain.example.test', id: 'to-plain' }, xml('body', {}, 'p')));
    await alice.entity.send(xml('message', { to: 'pubsub.example.test', id: 'to-pubsub' }, xml('body', {}, 's')));
    await waitStanza(plain.stanzas, (el) => el.attrs.id === 'to-plain', 'message at plain');
    await waitStanza(pubsub.stanzas, (el) => el.attrs.id === 'to-pubsub', 'message at pubsub');
    expect(plain.stanzas.some((el) => el.attrs.id === 'to-pubsub')).toBe(false);
    expect(pubsub.stanzas.some((el) => el.attrs.id === 'to-plain')).toBe(false);
    // and each one's answers reach alice from its own address
    await plain.entity.send(xml('message', { from: 'plain.example.test', to: 'alice@example.test/shared', id: 'from-plain' }, xml('body', {}, 'hi')));
    const got = await waitStanza(alice.stanzas, (el) => el.attrs.id === 'from-plain', 'plain answer at alice');
    expect(got.attrs.from).toBe('plain.example.test');
    await alice.entity.stop();
  });

  it('each keeps its own rights: the unprivileged one cannot read a roster', async () => {
    const err = await plain.entity.iqCaller
      .request(xml('iq', { type: 'get', from: 'plain.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000)
      .then(
        () => undefined,
        (e: { condition?: string }) => e.condition,
      );
    expect(err).toBe('forbidden');
  });

  it('one cannot send as the other: privguard closes the stream with invalid-from, nothing reaches alice', async () => {
    const alice = await connectUser(stack, 'alice', 'spoof');
    plain.entity.reconnect.stop();
    await plain.entity.send(xml('message', { from: 'pubsub.example.test', to: 'alice@example.test/spoof', id: 'spoofed' }, xml('body', {}, 'as pubsub')));
    await waitFor('plain closed with invalid-from', () => (plain.errors.includes('invalid-from') ? true : undefined));
    // pubsub is untouched and a barrier through it arrives after anything the spoof could have caused
    await pubsub.entity.send(xml('message', { from: 'pubsub.example.test', to: 'alice@example.test/spoof', id: 'barrier' }));
    await waitStanza(alice.stanzas, (el) => el.attrs.id === 'barrier', 'barrier at alice');
    expect(alice.stanzas.some((el) => el.attrs.id === 'spoofed')).toBe(false);
    expect(stack.audit).toContainEqual(expect.objectContaining({ verdict: 'denied', action: 'stanza.message' }));
    await alice.entity.stop();
  });
});
