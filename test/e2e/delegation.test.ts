import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeProsody } from './harness/servers.js';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { COMPONENT_SECRET, connectComponent, connectUser, serveDelegation, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';
import { waitFor } from '../support/wait.js';

const DELEG = 'urn:xmpp:delegation:2';
const MAM = 'urn:xmpp:mam:2';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const PENDING_TIMEOUT_MS = 2000;

const PROSODY = {
  delegations: {
    [MAM]: { jid: 'pubsub.example.test', filtering: ['node'] },
    [PUBSUB]: { jid: 'pubsub.example.test' },
  },
};

const policy = (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
limits: { pending_timeout_ms: ${PENDING_TIMEOUT_MS} }
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    delegations:
      example.test:
        "${MAM}": { attributes: [node] }
`;

type Mode = 'answer' | 'silent' | 'wrong-id';

/** The component answers MAM queries (or never, or with the wrong id). */
function serveDelegated(comp: Peer, mode: () => Mode): void {
  serveDelegation(comp, {
    payload: () => xml('fin', { xmlns: MAM, complete: 'true' }),
    answer: () => mode() !== 'silent',
    innerId: (inner) => (mode() === 'wrong-id' ? 'not-the-id' : String(inner.attrs.id)),
  });
}

const mamQuery = (id: string) => xml('iq', { type: 'set', id }, xml('query', { xmlns: MAM, queryid: id, node: 'urn:xmpp:microblog:0' }));

async function iqError(peer: Peer, iq: Element, timeoutMs = 10_000): Promise<{ condition?: string; ms: number }> {
  const t0 = Date.now();
  try {
    await peer.entity.iqCaller.request(iq, timeoutMs);
    return { ms: Date.now() - t0 };
  } catch (e) {
    return { condition: (e as { condition?: string }).condition, ms: Date.now() - t0 };
  }
}

describeProsody('XEP-0355 through privguard (real Prosody delegates MAM with node and pubsub; the policy only MAM)', (version) => {
  let stack: Stack;
  let comp: Peer;
  let alice: Peer;
  let mode: Mode = 'answer';
  const delegatedSeen = () => comp.stanzas.filter((el) => el.is('iq') && el.getChild('delegation', DELEG) !== undefined);

  beforeAll(async () => {
    stack = await startStack({ prosody: { ...PROSODY, version }, policy });
    comp = await connectComponent(stack);
    serveDelegated(comp, () => mode);
    await waitStanza(comp.stanzas, (el) => el.is('message') && el.getChild('delegation', DELEG) !== undefined, 'delegation advertisement');
    alice = await connectUser(stack, 'alice', 'd');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('the component is told only the effective delegation, with its attribute', () => {
    const adv = comp.stanzas.filter((el) => el.is('message') && el.getChild('delegation', DELEG) !== undefined);
    expect(adv).toHaveLength(1);
    const delegated = adv[0]!.getChild('delegation', DELEG)!.getChildren('delegated');
    expect(delegated.map((d) => [String(d.attrs.namespace), d.getChildren('attribute').map((a) => String(a.attrs.name))])).toEqual([[MAM, ['node']]]);
  });

  it('the server\'s disco nesting queries reach the component for MAM only; pubsub ones get item-not-found', async () => {
    const nodes = () => comp.stanzas.filter((el) => el.is('iq') && el.attrs.type === 'get').map((el) => String(el.getChild('query', 'http://jabber.org/protocol/disco#info')?.attrs.node));
    await waitFor('MAM nesting queries', () => (nodes().filter((n) => n.includes(MAM)).length === 2 ? true : undefined));
    expect(nodes().some((n) => n.includes(PUBSUB))).toBe(false);
    expect(stack.audit.filter((a) => a.action === 'delegation.disco' && a.verdict === 'denied').map((a) => a.namespace)).toEqual([PUBSUB, PUBSUB]);
  });

  it('alice\'s pubsub IQ to her own bare JID: service-unavailable, and the component never sees it', async () => {
    const before = delegatedSeen().length;
    const r = await iqError(alice, xml('iq', { type: 'get', to: 'alice@example.test', id: 'ps1' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: 'x' }))));
    expect(r.condition).toBe('service-unavailable');
    expect(delegatedSeen().length).toBe(before);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'delegation.forward', verdict: 'denied', reason: 'not_delegated', namespace: PUBSUB, user: 'alice' }));
  });

  it('alice\'s MAM query with node: the component answers and alice gets the answer with her id', async () => {
    mode = 'answer';
    const res = await alice.entity.iqCaller.request(mamQuery('mam-ok'), 5000);
    expect(res.attrs).toMatchObject({ type: 'result', id: 'mam-ok' });
    expect(res.getChild('fin', MAM)).toBeDefined();
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'delegation.reply', verdict: 'allowed', namespace: MAM }));
  });

  it('a reply with the wrong id: alice gets service-unavailable at once', async () => {
    mode = 'wrong-id';
    const r = await iqError(alice, mamQuery('mam-forged'));
    expect(r.condition).toBe('service-unavailable');
    expect(r.ms).toBeLessThan(PENDING_TIMEOUT_MS);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'delegation.reply', verdict: 'denied', reason: 'reply_mismatch', field: 'id' }));
  });

  it('the component never answers: alice gets an error within pending_timeout_ms + 1 s', async () => {
    mode = 'silent';
    const r = await iqError(alice, mamQuery('mam-silent'));
    expect(r.condition).toBe('service-unavailable');
    expect(r.ms).toBeGreaterThanOrEqual(PENDING_TIMEOUT_MS - 50);
    expect(r.ms).toBeLessThan(PENDING_TIMEOUT_MS + 1000);
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'delegation.forward', reason: 'timeout', namespace: MAM }));
  });

  it('the component disconnects with 3 pending IQs: alice gets 3 errors at once', async () => {
    mode = 'silent';
    const before = delegatedSeen().length;
    const answers = ['a', 'b', 'c'].map((id) => iqError(alice, mamQuery(`mam-${id}`)));
    await waitFor('3 delegated IQs at the component', () => (delegatedSeen().length === before + 3 ? true : undefined));
    expect(stack.sidecar.stats()[0]!.pendingDelegated).toBe(3);
    comp.entity.reconnect.stop();
    const t0 = Date.now();
    await comp.entity.stop();
    const results = await Promise.all(answers);
    expect(results.map((r) => r.condition)).toEqual(['service-unavailable', 'service-unavailable', 'service-unavailable']);
    expect(Date.now() - t0).toBeLessThan(PENDING_TIMEOUT_MS / 2);
    expect(stack.audit.filter((a) => a.reason === 'component_gone')).toHaveLength(3);
  });
});
