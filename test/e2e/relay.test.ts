import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeProsody } from './harness/servers.js';
import { xml } from '@xmpp/component';
import { connectComponent, connectUser, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';

describeProsody('relay through privguard (real Prosody, @xmpp/component, @xmpp/client)', (version) => {
  let stack: Stack;
  let comp: Peer;
  let alice: Peer;
  beforeAll(async () => {
    stack = await startStack({ prosody: { version } });
    comp = await connectComponent(stack);
    comp.entity.iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));
    alice = await connectUser(stack, 'alice');
    alice.entity.iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('carries messages from the component to a user and back', async () => {
    await comp.entity.send(
      xml('message', { from: 'bot@pubsub.example.test', to: 'alice@example.test/test', id: 'm1' }, xml('body', {}, 'hello é€𝄞 <&>')),
    );
    const got = await waitStanza(alice.stanzas, (el) => el.is('message') && el.attrs.id === 'm1', 'message at alice');
    expect(got.attrs.from).toBe('bot@pubsub.example.test');
    expect(got.getChildText('body')).toBe('hello é€𝄞 <&>');

    await alice.entity.send(xml('message', { to: 'bot@pubsub.example.test', id: 'm2' }, xml('body', {}, 'reply')));
    const back = await waitStanza(comp.stanzas, (el) => el.is('message') && el.attrs.id === 'm2', 'message at component');
    expect(back.attrs.from).toBe('alice@example.test/test');
    expect(back.getChildText('body')).toBe('reply');
  });

  it('carries an IQ from a user to the component and its answer back', async () => {
    const res = await alice.entity.iqCaller.request(xml('iq', { type: 'get', to: 'pubsub.example.test' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
    expect(res.attrs.type).toBe('result');
    expect(res.attrs.from).toBe('pubsub.example.test');
  });

  it('carries an IQ from the component to a user and its answer back', async () => {
    const res = await comp.entity.iqCaller.request(
      xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test/test' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      5000,
    );
    expect(res.attrs.type).toBe('result');
    expect(res.attrs.from).toBe('alice@example.test/test');
  });

  it('carries an IQ from the component to the server and the server\'s answer back', async () => {
    const res = await comp.entity.iqCaller.request(
      xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'example.test' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
      5000,
    );
    expect(res.getChild('query', 'http://jabber.org/protocol/disco#info')?.getChildren('identity').length).toBeGreaterThan(0);
  });
});
