import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { RawComponent, COMPONENT_SECRET } from '../support/component.js';
import { startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { freePort } from '../support/ports.js';
import { nextEvent, waitFor } from '../support/wait.js';
import { handshake } from '../../src/protocol/stanzas.js';

const OPEN = (to: string, ns = 'jabber:component:accept') =>
  `<?xml version='1.0'?><stream:stream xmlns='${ns}' xmlns:stream='http://etherx.jabber.org/streams' to='${to}'>`;

let stack: FakeStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function rawConnect(port: number): Promise<RawComponent> {
  const raw = new RawComponent(port);
  await nextEvent(raw.socket, 'connect');
  return raw;
}

describe('listener: XEP-0114 server side', () => {
  it('answers the header with a fresh 128-bit stream id from the component name', async () => {
    stack = await startFakeStack();
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const raw = await rawConnect(stack.port);
      raw.write(OPEN('A.Example.ORG'));
      const h = await waitFor('header', () => raw.header);
      expect(h.attrs.from).toBe('a.example.org');
      expect(h.attrs.id).toMatch(/^[0-9a-f]{32}$/);
      ids.add(h.attrs.id!);
      raw.socket.destroy();
    }
    expect(ids.size).toBe(3);
  });

  it('authenticates with the component secret and only then says <handshake/>', async () => {
    stack = await startFakeStack();
    const raw = await RawComponent.open(stack.port, 'a.example.org');
    expect(raw.stanzas[0]!.name).toBe('handshake');
    expect(stack.fake.connections).toHaveLength(1);
    expect(stack.fake.connections[0]!.to).toBe('a.example.org');
    expect(raw.received).not.toContain('s3cr3t');
    raw.socket.destroy();
  });

  it.each([
    ['unknown component', OPEN('nobody.example.org'), 'host-unknown'],
    ['wrong content namespace', OPEN('a.example.org', 'jabber:client'), 'invalid-namespace'],
    ['no "to"', "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>", 'improper-addressing'],
    ['wrong root element', "<stream xmlns='jabber:component:accept' to='a.example.org'>", 'invalid-namespace'],
    ['stanza before the handshake', `${OPEN('a.example.org')}<message to='x@y' from='a.example.org'/>`, 'not-authorized'],
    ['wrong secret', null, 'not-authorized'],
    ['malformed XML before anything', '<<<', 'not-well-formed'],
  ])('%s → %s', async (_what, input, condition) => {
    stack = await startFakeStack();
    const raw = await rawConnect(stack.port);
    if (input === null) {
      raw.write(OPEN('a.example.org'));
      const h = await waitFor('header', () => raw.header);
      raw.write(handshake(h.attrs.id!, 'not-the-secret'));
    } else {
      raw.write(input);
    }
    expect(await raw.streamError()).toBe(condition);
    await raw.closed;
    expect(stack.fake.connections).toHaveLength(0);
  });

  it('refuses a second connection for a connected component (conflict) and keeps the first', async () => {
    stack = await startFakeStack();
    const first = await RawComponent.open(stack.port, 'a.example.org');
    const second = await rawConnect(stack.port);
    second.write(OPEN('a.example.org'));
    const h = await waitFor('header', () => second.header);
    second.write(handshake(h.attrs.id!, COMPONENT_SECRET));
    expect(await second.streamError()).toBe('conflict');
    first.write("<message from='a.example.org' to='x@example.org' id='still'/>");
    await waitFor('message upstream', () => stack!.fake.connections[0]!.stanzas.find((s) => s.attrs.id === 'still'));
    first.socket.destroy();
  });

  it('holds stanzas the component pipelines behind its handshake until it is online', async () => {
    stack = await startFakeStack();
    const raw = await rawConnect(stack.port);
    raw.write(OPEN('a.example.org'));
    const h = await waitFor('header', () => raw.header);
    raw.write(handshake(h.attrs.id!, COMPONENT_SECRET) + "<message from='a.example.org' to='x@example.org' id='early'/>");
    await waitFor('early message upstream', () => stack!.fake.connections[0]?.stanzas.find((s) => s.attrs.id === 'early'));
    raw.socket.destroy();
  });
});

describe('listener: the upstream', () => {
  it('says remote-connection-failed and logs "connection refused" when the server is down', async () => {
    const downPort = await freePort();
    stack = await startFakeStack({ upstreamPort: downPort });
    const raw = await rawConnect(stack.port);
    raw.write(OPEN('a.example.org'));
    const h = await waitFor('header', () => raw.header);
    raw.write(handshake(h.attrs.id!, COMPONENT_SECRET));
    expect(await raw.streamError()).toBe('remote-connection-failed');
    expect(raw.stanzas.some((s) => s.name === 'handshake')).toBe(false);
    const retries = stack.log.lines.filter((l) => l.level === 'warn' && l.msg.includes('connection refused') && l.msg.includes('retrying'));
    expect(retries).toHaveLength(2);
    expect(stack.log.lines.some((l) => l.level === 'error' && l.msg.includes('connection refused'))).toBe(true);
  });

  it('says remote-connection-failed when the server refuses privguard\'s handshake, and logs why without the secret', async () => {
    stack = await startFakeStack({ upstreamSecret: 'wrong-upstream-secret' });
    const raw = await rawConnect(stack.port);
    raw.write(OPEN('a.example.org'));
    const h = await waitFor('header', () => raw.header);
    raw.write(handshake(h.attrs.id!, COMPONENT_SECRET));
    expect(await raw.streamError()).toBe('remote-connection-failed');
    const line = stack.log.lines.find((l) => l.level === 'error');
    expect(line?.msg).toContain('not-authorized');
    expect(JSON.stringify(stack.log.lines)).not.toContain('wrong-upstream-secret');
    expect(raw.received).not.toContain('wrong-upstream-secret');
    // not retried: a bad secret does not get better
    expect(stack.log.lines.filter((l) => l.msg.includes('retrying'))).toHaveLength(0);
  });

  it('times out a server that never answers', async () => {
    stack = await startFakeStack({ fake: { silent: true }, timeoutMs: 200 });
    const raw = await rawConnect(stack.port);
    raw.write(OPEN('a.example.org'));
    const h = await waitFor('header', () => raw.header);
    raw.write(handshake(h.attrs.id!, COMPONENT_SECRET));
    expect(await raw.streamError()).toBe('remote-connection-failed');
    expect(stack.log.lines.some((l) => l.msg.includes('no handshake answer within 200 ms'))).toBe(true);
  });

  it('delivers what the server sends right after the handshake', async () => {
    stack = await startFakeStack({ fake: { afterHandshake: "<message from='example.org' to='a.example.org' id='adv'/>" } });
    const raw = await RawComponent.open(stack.port, 'a.example.org');
    await raw.waitFor((s) => s.attrs.id === 'adv', 'advertisement');
    raw.socket.destroy();
  });
});

describe('listener: a connection that never finishes', () => {
  it('is closed with connection-timeout when the handshake does not come in time', async () => {
    stack = await startFakeStack({ handshakeTimeoutMs: 150 });
    const raw = await rawConnect(stack.port);
    raw.write(OPEN('a.example.org'));
    expect(await raw.streamError()).toBe('connection-timeout');
    await raw.closed;
  });

  it('is not left open by a client that connects and says nothing (raw socket closes cleanly on stop)', async () => {
    stack = await startFakeStack();
    const s = connect({ host: '127.0.0.1', port: stack.port });
    await nextEvent(s, 'connect');
    const closed = nextEvent(s, 'close');
    await stack.sidecar.close();
    await closed;
  });
});

