import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeProsody } from './harness/servers.js';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { loadPolicyText } from '../../src/config/load.js';
import { COMPONENT_SECRET, connectComponent, connectUser, makeComponent, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';
import { waitFor } from '../support/wait.js';

const PRIV = 'urn:xmpp:privilege:2';
const DELEG = 'urn:xmpp:delegation:2';
const MAM = 'urn:xmpp:mam:2';

const PROSODY = {
  privileges: { 'pubsub.example.test': { roster: 'both' as const, message: 'outgoing' as const, presence: 'roster' as const } },
  delegations: { [MAM]: { jid: 'pubsub.example.test', filtering: ['node'] } },
};

const policyText = (listen: number, upstream: number, o: { roster?: string; mam?: boolean; plainSecret?: string; withPlain?: boolean } = {}) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
limits: { pending_timeout_ms: 20000 }
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    privileges:
      example.test: { roster: ${o.roster ?? 'get'} }
${o.mam === false ? '' : `    delegations:\n      example.test: { "${MAM}": { attributes: [node] } }\n`}${
  o.withPlain === false
    ? ''
    : `  plain.example.test:
    secret: ${o.plainSecret ?? COMPONENT_SECRET}
    upstream_secret: s3cr3t
`
}`;

const rosterPerm = (el: Element): string | undefined => {
  const t: unknown = el.getChild('privilege', PRIV)?.getChildren('perm').find((p) => p.attrs.access === 'roster')?.attrs.type;
  return typeof t === 'string' ? t : undefined;
};

describeProsody('hot reload (real Prosody), without dropping the component\'s connection', (version) => {
  let stack: Stack;
  let comp: Peer;
  let listen = 0;
  let upstream = 0;
  let disconnects = 0;
  const reload = (o: Parameters<typeof policyText>[2]) => {
    const r = stack.sidecar.reload(loadPolicyText(policyText(listen, upstream, o), 'test-policy.yaml'));
    expect(r.ok).toBe(true);
  };

  beforeAll(async () => {
    stack = await startStack({
      prosody: { ...PROSODY, version },
      policy: (l, u) => {
        listen = l;
        upstream = u;
        return policyText(l, u);
      },
    });
    comp = makeComponent(stack);
    comp.entity.iqCallee.set(DELEG, 'delegation', () => new Promise(() => {})); // never answers
    comp.entity.on('disconnect', () => void disconnects++);
    await comp.entity.start();
    await waitStanza(comp.stanzas, (el) => el.is('message') && rosterPerm(el) === 'get', 'first advertisement');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('recomputes the rights and re-advertises them; the new rights apply at once', async () => {
    const rosterGet = () =>
      comp.entity.iqCaller.request(xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000).then(
        (r) => String(r.attrs.type),
        (e: { condition?: string }) => e.condition,
      );
    expect(await rosterGet()).toBe('result');
    reload({ roster: 'none' });
    await waitStanza(comp.stanzas, (el) => el.is('message') && rosterPerm(el) === 'none', 'new advertisement');
    expect(await rosterGet()).toBe('forbidden');
    reload({ roster: 'get' });
    await waitStanza(comp.stanzas, (el) => el.is('message') && rosterPerm(el) === 'get' && comp.stanzas.indexOf(el) > 1, 'advertisement again');
    expect(await rosterGet()).toBe('result');
    expect(disconnects).toBe(0);
  });

  it('answers the pending delegated IQs whose delegation the new policy removes', async () => {
    const alice = await connectUser(stack, 'alice', 'r');
    const answer = alice.entity.iqCaller.request(xml('iq', { type: 'set', id: 'mam-r' }, xml('query', { xmlns: MAM, queryid: 'q', node: 'n' })), 15_000).then(
      () => 'result',
      (e: { condition?: string }) => e.condition,
    );
    await waitFor('pending at privguard', () => (stack.sidecar.stats().find((s) => s.component === 'pubsub.example.test')?.pendingDelegated === 1 ? true : undefined));
    const t0 = Date.now();
    reload({ mam: false });
    expect(await answer).toBe('service-unavailable');
    expect(Date.now() - t0).toBeLessThan(2000); // not the 20 s timeout
    expect(stack.audit).toContainEqual(expect.objectContaining({ action: 'delegation.forward', reason: 'delegation_removed' }));
    expect(disconnects).toBe(0);
    await alice.entity.stop();
  });

  it('a changed secret applies to the next connect; the live connection stays', async () => {
    const plain = await connectComponent(stack, 'plain.example.test');
    let plainDisconnects = 0;
    plain.entity.on('disconnect', () => void plainDisconnects++);
    reload({ mam: false, plainSecret: 'rotated-secret' });
    const old = makeComponent(stack, 'plain.example.test', COMPONENT_SECRET);
    old.entity.reconnect.stop();
    // conflict (already connected) would hide the secret check: free the name first
    plain.entity.reconnect.stop();
    await plain.entity.stop();
    await waitFor('plain gone', () => (stack.sidecar.online().includes('plain.example.test') ? undefined : true));
    await expect(old.entity.start()).rejects.toMatchObject({ condition: 'not-authorized' });
    const rotated = await connectComponent(stack, 'plain.example.test', 'rotated-secret');
    expect(stack.sidecar.online()).toContain('plain.example.test');
    expect(plainDisconnects).toBe(1); // only our own stop
    rotated.entity.reconnect.stop();
    await rotated.entity.stop();
    // privguard frees the name once both legs have closed
    await waitFor('plain gone again', () => (stack.sidecar.online().includes('plain.example.test') ? undefined : true));
  });

  it('a component removed from the policy is disconnected with not-authorized', async () => {
    const plain = await connectComponent(stack, 'plain.example.test', 'rotated-secret');
    plain.entity.reconnect.stop();
    reload({ mam: false, withPlain: false });
    await waitFor('not-authorized', () => (plain.errors.includes('not-authorized') ? true : undefined));
    await waitFor('gone', () => (stack.sidecar.online().includes('plain.example.test') ? undefined : true));
    expect(stack.sidecar.online()).toContain('pubsub.example.test');
    expect(disconnects).toBe(0);
  });

  it('an invalid policy keeps the old one in force', () => {
    const r = stack.sidecar.reload();
    // startStack's policy has no file to read: it fails, and nothing changes
    expect(r.ok).toBe(false);
    expect(stack.sidecar.online()).toContain('pubsub.example.test');
    expect(stack.log.lines.some((l) => l.level === 'error' && l.msg.includes('policy reload failed, the previous policy stays in force'))).toBe(true);
  });
});
