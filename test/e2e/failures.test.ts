import { afterEach, expect, it } from 'vitest';
import { describeProsody } from './harness/servers.js';
import { xml } from '@xmpp/component';
import { startProsody } from './harness/prosody.js';
import {
  connectComponent,
  connectUser,
  makeComponent,
  RawComponent,
  startStack,
  waitStanza,
  type Peer,
  type Stack,
} from './harness/stack.js';
import { nextEvent, waitFor } from '../support/wait.js';

let stack: Stack | undefined;

/**
 * Proves a refused stanza never reached the user: another component sends a
 * marker afterwards, and once the marker is there the refused one is not.
 */
async function expectNeverDelivered(stack: Stack, user: Peer, id: string): Promise<void> {
  const marker = await connectComponent(stack, 'plain.example.test');
  await marker.entity.send(xml('message', { from: 'plain.example.test', to: 'alice@example.test/test', id: `marker-${id}` }));
  await waitStanza(user.stanzas, (el) => el.attrs.id === `marker-${id}`, 'marker');
  expect(user.stanzas.some((el) => el.attrs.id === id)).toBe(false);
}
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describeProsody('connection failures (real Prosody)', (version) => {
  it('a component with the wrong secret is refused with not-authorized', async () => {
    stack = await startStack({ prosody: { version } });
    const peer = makeComponent(stack, 'pubsub.example.test', 'wrong-secret');
    peer.entity.reconnect.stop();
    await expect(peer.entity.start()).rejects.toMatchObject({ condition: 'not-authorized' });
    expect(stack.sidecar.online()).toEqual([]);
  });

  it('a component privguard does not serve is refused with host-unknown', async () => {
    stack = await startStack({ prosody: { version } });
    const peer = makeComponent(stack, 'limited.example.test');
    peer.entity.reconnect.stop();
    await expect(peer.entity.start()).rejects.toMatchObject({ condition: 'host-unknown' });
  });

  it('the server going down closes the component with remote-connection-failed; it reconnects once the server is back', async () => {
    stack = await startStack({ prosody: { version } });
    const comp = await connectComponent(stack);
    const ports = { c2s: stack.prosody.c2sPort, component: stack.prosody.componentPort };
    const disconnected = nextEvent(comp.entity, 'disconnect', 10_000);
    await stack.prosody.stop();
    await waitFor('stream error at the component', () => (comp.errors.includes('remote-connection-failed') || comp.errors.includes('system-shutdown') ? true : undefined), 10_000);
    expect(stack.log.lines.some((l) => /the server closed|connection to the server lost|system-shutdown/.test(l.msg))).toBe(true);
    const online = nextEvent(comp.entity, 'online', 20_000);
    await disconnected;
    // While the server is down, reconnects fail with a clear log line.
    await waitFor('a refused upstream logged', () => stack!.log.lines.find((l) => l.level === 'error' && l.msg.includes('connection refused')), 10_000);
    stack.prosody = await startProsody({ ports, version });
    await online;
    const alice = await connectUser(stack, 'alice');
    await comp.entity.send(xml('message', { from: 'pubsub.example.test', to: 'alice@example.test/test', id: 'back' }, xml('body', {}, 'again')));
    await waitStanza(alice.stanzas, (el) => el.attrs.id === 'back', 'message after reconnect');
  });
});

describeProsody('hostile components (real Prosody)', (version) => {
  it('an oversize stanza closes the stream with policy-violation and never reaches the user', async () => {
    stack = await startStack({ prosody: { version } });
    const alice = await connectUser(stack, 'alice');
    const comp = await connectComponent(stack);
    comp.entity.reconnect.stop();
    await comp.entity.send(xml('message', { from: 'pubsub.example.test', to: 'alice@example.test/test', id: 'big' }, xml('body', {}, 'x'.repeat(20_000)))).catch(() => {});
    await waitFor('policy-violation', () => (comp.errors.includes('policy-violation') ? true : undefined));
    await expectNeverDelivered(stack, alice, 'big');
  });

  it('a DOCTYPE closes the stream with restricted-xml, and the stanza after it is not delivered', async () => {
    stack = await startStack({ prosody: { version } });
    const alice = await connectUser(stack, 'alice');
    const raw = await RawComponent.open(stack.port, 'pubsub.example.test');
    raw.write("<!DOCTYPE x [<!ENTITY e 'v'>]><message from='pubsub.example.test' to='alice@example.test/test' id='hidden'/>");
    expect(await raw.streamError()).toBe('restricted-xml');
    await expectNeverDelivered(stack, alice, 'hidden');
  });

  it('a spoofed from closes the stream with invalid-from, is audited, and never reaches the user', async () => {
    stack = await startStack({ prosody: { version } });
    const alice = await connectUser(stack, 'alice');
    const comp = await connectComponent(stack);
    comp.entity.reconnect.stop();
    await comp.entity.send(xml('message', { from: 'bob@example.test', to: 'alice@example.test/test', id: 'spoof' }, xml('body', {}, 'I am bob'))).catch(() => {});
    await waitFor('invalid-from', () => (comp.errors.includes('invalid-from') ? true : undefined));
    expect(stack.audit).toContainEqual(
      expect.objectContaining({ component: 'pubsub.example.test', action: 'stanza.message', verdict: 'denied', reason: 'invalid_from', stanza_id: 'spoof' }),
    );
    await expectNeverDelivered(stack, alice, 'spoof');
  });

  it('an undefined entity closes only that stream; privguard keeps serving others', async () => {
    stack = await startStack({ prosody: { version } });
    const other = await connectComponent(stack, 'plain.example.test');
    const raw = await RawComponent.open(stack.port, 'pubsub.example.test');
    raw.write("<message from='pubsub.example.test' to='alice@example.test'><body>&foo;</body></message>");
    expect(await raw.streamError()).toBe('not-well-formed');
    const alice = await connectUser(stack, 'alice');
    await other.entity.send(xml('message', { from: 'plain.example.test', to: 'alice@example.test/test', id: 'alive' }));
    await waitStanza(alice.stanzas, (el) => el.attrs.id === 'alive', 'message from the other component');
  });
});
