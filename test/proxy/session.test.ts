import { afterEach, describe, expect, it } from 'vitest';
import { RawComponent } from '../support/component.js';
import { startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';

let stack: FakeStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function online(name = 'a.example.org', opts: Parameters<typeof startFakeStack>[0] = {}) {
  stack ??= await startFakeStack(opts);
  const raw = await RawComponent.open(stack.port, name);
  const conn = await waitFor('upstream connection', () => stack!.fake.connections.find((c) => c.to === name));
  return { raw, conn };
}

describe('session: relay', () => {
  it('re-serialises stanzas both ways with their meaning intact', async () => {
    const { raw, conn } = await online();
    raw.write(`<message from='a.example.org' to='u@example.org' id='1' x='l1&#10;l2'><p:body xmlns:p='jabber:component:accept'>a &amp; b</p:body></message>`);
    await waitFor('stanza upstream', () => conn.stanzas[0]);
    expect(conn.raw).toBe('<message from="a.example.org" to="u@example.org" id="1" x="l1&#10;l2"><body>a &amp; b</body></message>');
    expect(conn.stanzas[0]!.attrs.x).toBe('l1\nl2');

    conn.send(`<iq type='get' id='q1' from='u@example.org/r' to='a.example.org'><query xmlns='urn:x'/></iq>`);
    const got = await raw.waitFor((s) => s.attrs.id === 'q1', 'iq at component');
    expect(got.getChild('query', 'urn:x')).toBeDefined();
  });

  it('forwards a stanza with nothing to judge as it arrived, and re-serialises one with something', async () => {
    const { raw, conn } = await online();
    const plain = `<message from='a.example.org' to='u@example.org' id='f1' type='chat'><body>hé &gt; x</body></message>`;
    const fast = `<message from='a.example.org' to='u@example.org' id='f1' type='chat'><body>hé > x</body></message>`;
    raw.write(fast + plain);
    await waitFor('both upstream', () => conn.stanzas[1]);
    // The first as its very characters; the second (a reference) from its tree.
    expect(conn.raw).toBe(`${fast}<message from="a.example.org" to="u@example.org" id="f1" type="chat"><body>hé &gt; x</body></message>`);

    const reply = `<iq type='result' id='q2' from='u@example.org/r' to='a.example.org'><query xmlns='urn:x'/></iq>`;
    conn.send(reply);
    await raw.waitFor((s) => s.attrs.id === 'q2', 'iq at component');
    expect(raw.received).toContain(reply);
  });

  it('passes white space keep-alives both ways without keeping them', async () => {
    const { raw, conn } = await online();
    raw.write(' ');
    await waitFor('keep-alive upstream', () => (conn.raw.includes(' ') ? true : undefined));
    const before = raw.received.length;
    conn.send('\n');
    await waitFor('keep-alive at component', () => (raw.received.length > before ? true : undefined));
    expect(raw.received.slice(before)).toBe(' ');
  });

  it('ignores character data the server writes between stanzas', async () => {
    const { raw, conn } = await online();
    conn.send(`<message from='example.org' to='a.example.org' id='m1'/>306<message from='example.org' to='a.example.org' id='m2'/>`);
    await raw.waitFor((s) => s.attrs.id === 'm2', 'second message');
    expect(raw.stanzas.filter((s) => s.name === 'message').map((s) => s.attrs.id as string)).toEqual(['m1', 'm2']);
    // (after the header: the random stream id may contain any digits)
    expect(raw.received.slice(raw.received.indexOf('<handshake/>'))).not.toContain('306');
  });
});

describe('session: the component may only be itself (threat model)', () => {
  it.each([
    ["<message from='alice@example.org' to='bob@example.org' id='s1'/>", 'invalid-from', 'invalid_from'],
    ["<message to='bob@example.org' id='s1'/>", 'invalid-from', 'invalid_from'],
    ["<message from='a.example.org' id='s1'/>", 'improper-addressing', 'missing_to'],
    ["<foo from='a.example.org' to='bob@example.org' id='s1'/>", 'unsupported-stanza-type', 'unsupported_stanza_type'],
    ["<message xmlns='jabber:client' from='a.example.org' to='bob@example.org' id='s1'/>", 'unsupported-stanza-type', 'unsupported_stanza_type'],
  ])('%s → %s, audited, never forwarded', async (stanza, condition, reason) => {
    const { raw, conn } = await online();
    raw.write(stanza);
    expect(await raw.streamError()).toBe(condition);
    await waitFor('upstream closed', () => (conn.closed ? true : undefined));
    expect(conn.stanzas).toEqual([]);
    expect(stack!.audit).toEqual([expect.objectContaining({ component: 'a.example.org', verdict: 'denied', reason, stanza_id: 's1' })]);
  });

  it('answers a "from" not in prepared form with jid-malformed and forwards nothing (the server would read it as another JID)', async () => {
    const { raw, conn } = await online();
    raw.write("<message from='Bot@A.Example.ORG/x' to='bob@example.org' id='alias'/><message from='bot@a.example.org/x' to='bob@example.org' id='ok'/>");
    await waitFor('forwarded', () => conn.stanzas.find((s) => s.attrs.id === 'ok'));
    const err = await raw.waitFor((s) => s.attrs.id === 'alias', 'error at component');
    expect(err.attrs.type).toBe('error');
    expect(err.getChild('error')!.getChild('jid-malformed', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    expect(conn.stanzas.some((s) => s.attrs.id === 'alias')).toBe(false);
  });
});

describe('session: hostile input ends only the offender', () => {
  it.each([
    ['an oversize stanza', () => `<message from='a.example.org' to='b@example.org'><body>${'x'.repeat(20000)}</body></message>`, 'policy-violation'],
    ['a DOCTYPE (and the stanza after it is not swallowed silently)', () => "<!DOCTYPE x [<!ENTITY e 'v'>]><message from='a.example.org' to='b@example.org' id='after'/>", 'restricted-xml'],
    ['an undefined entity', () => "<message from='a.example.org' to='b@example.org'><body>&foo;</body></message>", 'not-well-formed'],
    ['nesting deeper than 64', () => `<message from='a.example.org' to='b@example.org'>${'<a>'.repeat(70)}`, 'policy-violation'],
    ['a processing instruction', () => "<?evil?><message from='a.example.org' to='b@example.org'/>", 'restricted-xml'],
  ])('%s → %s', async (_what, input, condition) => {
    const a = await online('a.example.org');
    const b = await online('b.example.org');
    a.raw.write(input());
    expect(await a.raw.streamError()).toBe(condition);
    await a.raw.closed;
    await waitFor('upstream of a closed', () => (a.conn.closed ? true : undefined));
    expect(a.conn.stanzas).toEqual([]);
    // the other component is untouched
    b.raw.write("<message from='b.example.org' to='x@example.org' id='alive'/>");
    await waitFor('b still relays', () => b.conn.stanzas.find((s) => s.attrs.id === 'alive'));
    expect(stack!.sidecar.online()).toEqual(['b.example.org']);
  });
});

describe('session: lifecycle', () => {
  it('closes the upstream cleanly when the component closes its stream', async () => {
    const { raw, conn } = await online();
    raw.write('</stream:stream>');
    await waitFor('upstream saw the end tag', () => (conn.ended ? true : undefined));
    await raw.closed;
    expect(raw.ended).toBe(true);
    await waitFor('session gone', () => (stack!.sidecar.online().length === 0 ? true : undefined));
  });

  it('closes the component cleanly when the server closes the stream', async () => {
    const { raw, conn } = await online();
    conn.send('</stream:stream>');
    await raw.closed;
    expect(raw.ended).toBe(true);
    expect(raw.stanzas.some((s) => s.name === 'error')).toBe(false);
  });

  it('gives the component remote-connection-failed when the server connection drops', async () => {
    const { raw, conn } = await online();
    conn.socket.destroy();
    expect(await raw.streamError()).toBe('remote-connection-failed');
    await raw.closed;
  });

  it('passes the server\'s stream error on to the component', async () => {
    const { raw, conn } = await online();
    conn.send("<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
    expect(await raw.streamError()).toBe('system-shutdown');
  });

  it('closes components with system-shutdown when privguard stops', async () => {
    const { raw } = await online();
    const closing = stack!.sidecar.close();
    expect(await raw.streamError()).toBe('system-shutdown');
    await closing;
  });

  it('lets the component connect again after it left', async () => {
    const first = await online();
    first.raw.socket.destroy();
    await waitFor('session gone', () => (stack!.sidecar.online().length === 0 ? true : undefined));
    const again = await RawComponent.open(stack!.port, 'a.example.org');
    expect(again.stanzas[0]!.name).toBe('handshake');
  });
});

describe('session: backpressure', () => {
  it('stops reading the component while the server does not read, holds little, and loses nothing', async () => {
    const { raw, conn } = await online('a.example.org', { maxStanzaBytes: 65536 });
    conn.socket.pause();
    const body = 'z'.repeat(1000);
    const total = 20_000; // ~21 MB, far more than the kernel's socket buffers hold
    // A careless component: it writes everything without looking at backpressure.
    for (let i = 0; i < total; i++) {
      raw.socket.write(`<message from='a.example.org' to='u@example.org' id='f${i}'><body>${body}</body></message>`);
    }
    const paused = await waitFor('privguard pauses the component', () =>
      stack!.sidecar.stats().find((s) => s.componentPaused.includes('backpressure')),
    10_000);
    // What privguard holds for the server is bounded by one read's worth, not by the flood.
    expect(paused.toServerBuffered).toBeLessThan(512 * 1024);
    expect(raw.socket.writableLength).toBeGreaterThan(5_000_000);
    conn.socket.resume();
    await waitFor('every stanza upstream', () => (conn.stanzas.length === total ? true : undefined), 60_000, 50);
    expect(conn.stanzas.map((s) => s.attrs.id as string)).toEqual(Array.from({ length: total }, (_, i) => `f${i}`));
    expect(stack!.sidecar.stats()[0]!.componentPaused).toEqual([]);
  });
});
