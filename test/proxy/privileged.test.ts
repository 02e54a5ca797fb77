import { afterEach, describe, expect, it } from 'vitest';
import { RawComponent } from '../support/component.js';
import { openAdvertised, startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';

const ADV = `<message from='example.org' to='a.example.org'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='iq'><namespace ns='jabber:iq:private' type='both'/></perm></privilege></message>`;
const PRIVILEGES = `privileges:
  example.org: { roster: get, iq: { "jabber:iq:private": get } }`;

const piq = (id: string) =>
  `<iq type='get' id='${id}' from='a.example.org' to='alice@example.org'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='get' id='${id}-in'><query xmlns='jabber:iq:private'/></iq></privileged_iq></iq>`;

let stack: FakeStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function online(opts: Parameters<typeof startFakeStack>[0] = {}) {
  stack = await startFakeStack({ fake: { afterHandshake: ADV }, componentA: PRIVILEGES, ...opts });
  return openAdvertised(stack);
}

const errorOf = (raw: RawComponent, id: string) =>
  raw.waitFor((s) => s.name === 'iq' && s.attrs.id === id && s.attrs.type === 'error', `error for ${id}`);

describe('pending privileged IQs', () => {
  it('answers remote-server-timeout when the server never replies, and drops the late reply', async () => {
    const { raw, conn } = await online({ limits: 'pending_timeout_ms: 150' });
    raw.write(piq('slow'));
    await waitFor('forwarded', () => conn.stanzas.find((s) => s.attrs.id === 'slow'));
    const err = await errorOf(raw, 'slow');
    expect(err.attrs).toMatchObject({ from: 'alice@example.org', to: 'a.example.org' });
    expect(err.getChild('error')!.attrs.type).toBe('wait');
    expect(err.getChild('error')!.getChild('remote-server-timeout')).toBeDefined();
    expect(err.getChild('error')!.getChildText('text')).toBe('privguard: privileged iq got no answer in time');
    // The server answers after all: the component must not get a second answer.
    conn.send(`<iq type='error' id='slow' from='alice@example.org' to='a.example.org'><error type='cancel'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
    conn.send(`<message from='example.org' to='a.example.org' id='after'/>`);
    await raw.waitFor((s) => s.attrs.id === 'after', 'marker');
    expect(raw.stanzas.filter((s) => s.attrs.id === 'slow')).toHaveLength(1);
    expect(stack!.audit).toContainEqual(expect.objectContaining({ action: 'iq.get', reason: 'timeout', stanza_id: 'slow' }));
    expect(stack!.audit).toContainEqual(expect.objectContaining({ action: 'iq.response', reason: 'unmatched_response', verdict: 'denied' }));
  });

  it('relays the server\'s answer once and forgets the request', async () => {
    const { raw, conn } = await online();
    raw.write(piq('q1'));
    await waitFor('forwarded', () => conn.stanzas.find((s) => s.attrs.id === 'q1'));
    expect(stack!.sidecar.stats()[0]!.pendingPrivileged).toBe(1);
    conn.send(`<iq type='result' id='q1' from='alice@example.org' to='a.example.org'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='q1-in' to='alice@example.org'/></forwarded></privilege></iq>`);
    await raw.waitFor((s) => s.attrs.id === 'q1' && s.attrs.type === 'result', 'answer');
    expect(stack!.sidecar.stats()[0]!.pendingPrivileged).toBe(0);
  });

  it('answers every pending privileged IQ when the server goes away', async () => {
    const { raw, conn } = await online();
    raw.write(piq('p1') + piq('p2'));
    await waitFor('both forwarded', () => (conn.stanzas.length >= 2 ? true : undefined));
    conn.socket.destroy();
    await errorOf(raw, 'p1');
    await errorOf(raw, 'p2');
    expect(await raw.streamError()).toBe('remote-connection-failed');
  });

  it('refuses a privileged IQ with resource-constraint when max_pending are waiting', async () => {
    const { raw, conn } = await online({ limits: 'max_pending: 1' });
    raw.write(piq('first'));
    await waitFor('forwarded', () => conn.stanzas.find((s) => s.attrs.id === 'first'));
    raw.write(piq('second'));
    const err = await errorOf(raw, 'second');
    expect(err.getChild('error')!.getChild('resource-constraint')).toBeDefined();
    expect(conn.stanzas.some((s) => s.attrs.id === 'second')).toBe(false);
  });

  it('refuses a reused pending id', async () => {
    const { raw, conn } = await online();
    raw.write(piq('dup'));
    await waitFor('forwarded', () => conn.stanzas.find((s) => s.attrs.id === 'dup'));
    raw.write(piq('dup'));
    const err = await errorOf(raw, 'dup');
    expect(err.getChild('error')!.getChild('bad-request')).toBeDefined();
    expect(conn.stanzas.filter((s) => s.attrs.id === 'dup')).toHaveLength(1);
  });
});

describe('forgery on the server leg (threat model 6)', () => {
  it('never lets a user-sent advertisement reach the component, and never grants from it', async () => {
    const { raw, conn } = await online();
    conn.send(`<message from='alice@example.org/evil' to='a.example.org' id='forged'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/></privilege></message>`);
    conn.send(`<message from='example.org' to='a.example.org' id='after'/>`);
    await raw.waitFor((s) => s.attrs.id === 'after', 'marker');
    expect(raw.stanzas.some((s) => s.attrs.id === 'forged')).toBe(false);
    expect(stack!.audit).toContainEqual(expect.objectContaining({ action: 'advertise', verdict: 'denied', reason: 'forged_advertisement', stanza_id: 'forged' }));
    // rights are unchanged: roster set is still refused
    raw.write(`<iq type='set' id='rs' from='a.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>`);
    const err = await errorOf(raw, 'rs');
    expect(err.getChild('error')!.getChild('forbidden')).toBeDefined();
  });

  it('never takes rights from what the component itself sends', async () => {
    const { raw, conn } = await online();
    raw.write(`<message from='a.example.org' to='a.example.org' id='self'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/></privilege></message>`);
    const err = await raw.waitFor((s) => s.attrs.id === 'self' && s.attrs.type === 'error', 'refusal');
    expect(err.getChild('error')!.getChild('forbidden')).toBeDefined();
    raw.write(`<iq type='set' id='rs' from='a.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>`);
    await errorOf(raw, 'rs');
    expect(conn.stanzas.some((s) => s.attrs.id === 'rs' || s.attrs.id === 'self')).toBe(false);
  });
});

describe('a policy wider than the server grant', () => {
  it('logs one warning per connect naming both sides, and the server\'s grant applies', async () => {
    const narrow = `<message from='example.org' to='a.example.org'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get'/></privilege></message>`;
    stack = await startFakeStack({ fake: { afterHandshake: narrow + narrow.replace("to='a", "id='again' to='a") }, componentA: `privileges:\n  example.org: { roster: both, message: outgoing }` });
    const raw = await RawComponent.open(stack.port, 'a.example.org');
    await raw.waitFor((s) => s.attrs.id === 'again', 'second advertisement');
    const warnings = stack.log.lines.filter((l) => l.level === 'warn' && l.msg.includes('more on example.org than the server does'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('roster: policy both, server get; message: policy outgoing, server none');
    raw.write(`<iq type='set' id='rs' from='a.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>`);
    const err = await errorOf(raw, 'rs');
    expect(err.getChild('error')!.getChildText('text')).toBe('privguard: roster set not granted by the server');
  });
});

describe('shutdown', () => {
  it('answers pending privileged IQs before closing the component with system-shutdown', async () => {
    const { raw, conn } = await online();
    raw.write(piq('bye'));
    await waitFor('forwarded', () => conn.stanzas.find((s) => s.attrs.id === 'bye'));
    const closing = stack!.sidecar.close();
    const err = await errorOf(raw, 'bye');
    expect(err.getChild('error')!.getChild('remote-server-timeout')).toBeDefined();
    expect(await raw.streamError()).toBe('system-shutdown');
    const errAt = raw.stanzas.indexOf(err);
    const shutdownAt = raw.stanzas.findIndex((s) => s.name === 'error' && s.attrs.xmlns === 'http://etherx.jabber.org/streams');
    expect(errAt).toBeLessThan(shutdownAt);
    await closing;
  });
});
