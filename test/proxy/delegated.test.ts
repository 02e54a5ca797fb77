import { afterEach, describe, expect, it } from 'vitest';
import { openAdvertised, startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';

const MAM = 'urn:xmpp:mam:2';
const ADV = `<message from='example.org' to='a.example.org'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='${MAM}'/></delegation></message>`;
const DELEGATIONS = `delegations:\n  example.org: { "${MAM}": {} }`;
const delegated = (w: string, from = 'example.org') =>
  `<iq to='a.example.org' id='${w}' type='set' from='${from}'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='alice@example.org/r' type='set' id='u-${w}'><query xmlns='${MAM}'/></iq></forwarded></delegation></iq>`;
const reply = (w: string) =>
  `<iq type='result' id='${w}' from='a.example.org' to='example.org'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='u-${w}' to='alice@example.org/r'/></forwarded></delegation></iq>`;

let stack: FakeStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function online(opts: Parameters<typeof startFakeStack>[0] = {}) {
  stack = await startFakeStack({ fake: { afterHandshake: ADV }, componentA: DELEGATIONS, ...opts });
  return openAdvertised(stack);
}

/** The inner error condition of privguard's wrapped answer for wrapper id `w`. */
async function wrappedAnswer(conn: { stanzas: import('@xmpp/xml').Element[] }, w: string): Promise<string | undefined> {
  const a = await waitFor(`answer to ${w}`, () => conn.stanzas.find((s) => s.attrs.id === w));
  const inner = a.getChild('delegation', 'urn:xmpp:delegation:2')?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('iq');
  return inner?.getChild('error')?.getChildElements()[0]?.name;
}

describe('pending delegated IQs', () => {
  it('answers service-unavailable when the component is silent past the deadline, and drops its late reply', async () => {
    const { raw, conn } = await online({ limits: 'pending_timeout_ms: 150' });
    conn.send(delegated('W1'));
    await raw.waitFor((s) => s.attrs.id === 'W1', 'delegated iq at the component');
    expect(await wrappedAnswer(conn, 'W1')).toBe('service-unavailable');
    raw.write(reply('W1'));
    raw.write(`<message from='a.example.org' to='example.org' id='marker'/>`);
    await waitFor('marker upstream', () => conn.stanzas.find((s) => s.attrs.id === 'marker'));
    expect(conn.stanzas.filter((s) => s.attrs.id === 'W1')).toHaveLength(1);
    expect(stack!.audit).toContainEqual(expect.objectContaining({ action: 'delegation.forward', reason: 'timeout', stanza_id: 'W1' }));
    expect(stack!.audit).toContainEqual(expect.objectContaining({ action: 'delegation.reply', reason: 'unmatched_response', stanza_id: 'W1' }));
  });

  it('relays a matching reply once', async () => {
    const { raw, conn } = await online();
    conn.send(delegated('W2'));
    await raw.waitFor((s) => s.attrs.id === 'W2', 'delegated iq at the component');
    raw.write(reply('W2') + reply('W2'));
    await waitFor('reply upstream', () => conn.stanzas.find((s) => s.attrs.id === 'W2'));
    raw.write(`<message from='a.example.org' to='example.org' id='marker'/>`);
    await waitFor('marker upstream', () => conn.stanzas.find((s) => s.attrs.id === 'marker'));
    expect(conn.stanzas.filter((s) => s.attrs.id === 'W2')).toHaveLength(1);
  });

  it('answers every pending delegated IQ when privguard shuts down, before closing the upstream', async () => {
    const { raw, conn } = await online();
    conn.send(delegated('S1') + delegated('S2'));
    await raw.waitFor((s) => s.attrs.id === 'S2', 'both at the component');
    await stack!.sidecar.close();
    expect(await wrappedAnswer(conn, 'S1')).toBe('service-unavailable');
    expect(await wrappedAnswer(conn, 'S2')).toBe('service-unavailable');
    await waitFor('upstream closed', () => (conn.ended || conn.closed ? true : undefined));
  });
});

describe('input the server would refuse with a stream error (issue 11 item 3)', () => {
  // Each closes the component's stream with privguard's own error; the delegated
  // IQs pending on it are answered first, on the still healthy upstream.
  it.each([
    ['a name libexpat refuses', "<message from='a.example.org' to='example.org' \uFF49\uFF44='1'/>", 'not-well-formed'],
    ['an element in the xml namespace', "<message from='a.example.org' to='example.org'><xml:x/></message>", 'policy-violation'],
  ])('%s: pending IQs are answered, nothing is forwarded', async (_what, input, condition) => {
    const { raw, conn } = await online();
    conn.send(delegated('P1'));
    await raw.waitFor((s) => s.attrs.id === 'P1', 'delegated iq at the component');
    raw.write(input);
    expect(await raw.streamError()).toBe(condition);
    expect(await wrappedAnswer(conn, 'P1')).toBe('service-unavailable');
    expect(conn.stanzas.filter((s) => s.name === 'message')).toEqual([]);
  });

  it('invalid UTF-8: not-well-formed, pending IQs answered', async () => {
    const { raw, conn } = await online();
    conn.send(delegated('P2'));
    await raw.waitFor((s) => s.attrs.id === 'P2', 'delegated iq at the component');
    raw.socket.write(Buffer.concat([Buffer.from("<message from='a.example.org' to='example.org'><body>"), Buffer.from([0xc0, 0xaf]), Buffer.from('</body></message>')]));
    expect(await raw.streamError()).toBe('not-well-formed');
    expect(await wrappedAnswer(conn, 'P2')).toBe('service-unavailable');
    expect(conn.stanzas.filter((s) => s.name === 'message')).toEqual([]);
  });
});

describe('forgery on the server leg', () => {
  it('never hands the component a delegated IQ from a user; the sender gets service-unavailable', async () => {
    const { raw, conn } = await online();
    conn.send(delegated('F1', 'mallory@example.org/x'));
    const answer = await waitFor('answer', () => conn.stanzas.find((s) => s.attrs.id === 'F1'));
    expect(answer.attrs).toMatchObject({ type: 'error', to: 'mallory@example.org/x' });
    expect(answer.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    expect(answer.getChild('error')!.getChild('text')).toBeUndefined();
    conn.send(`<message from='example.org' to='a.example.org' id='marker'/>`);
    await raw.waitFor((s) => s.attrs.id === 'marker', 'marker');
    expect(raw.stanzas.some((s) => s.attrs.id === 'F1')).toBe(false);
  });
});
