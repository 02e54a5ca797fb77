import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/component';
import { connectComponent, connectUser, startStack, waitStanza, type Stack } from './harness/stack.js';

describe('relay through privguard (real Prosody)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('carries messages both ways between a component and a user', async () => {
    const comp = await connectComponent(stack);
    const alice = await connectUser(stack, 'alice');
    await comp.entity.send(xml('message', { from: 'bot@pubsub.example.test', to: 'alice@example.test/test', id: 'm1' }, xml('body', {}, 'hello é€𝄞 <&>')));
    const got = await waitStanza(alice.stanzas, (el) => el.is('message') && el.attrs.id === 'm1', 'message at alice');
    expect(got.attrs.from).toBe('bot@pubsub.example.test');
    expect(got.getChildText('body')).toBe('hello é€𝄞 <&>');

    await alice.entity.send(xml('message', { to: 'bot@pubsub.example.test', id: 'm2' }, xml('body', {}, 'reply')));
    const back = await waitStanza(comp.stanzas, (el) => el.is('message') && el.attrs.id === 'm2', 'message at component');
    expect(back.attrs.from).toBe('alice@example.test/test');
    expect(back.getChildText('body')).toBe('reply');
  });
});
