import { afterEach, expect, it } from 'vitest';
import { describeProsody } from './harness/servers.js';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { loadPolicyText } from '../../src/config/load.js';
import { startProsody, type ProsodyInstance } from './harness/prosody.js';
import { COMPONENT_SECRET, connectComponent, connectUser, RawComponent, startStack, waitStanza, type Stack } from './harness/stack.js';
import { nextEvent, waitFor } from '../support/wait.js';

const PRIV = 'urn:xmpp:privilege:2';
const MAM = 'urn:xmpp:mam:2';
const PROSODY = {
  privileges: { 'pubsub.example.test': { roster: 'both' as const, iq: { 'jabber:iq:private': 'both' as const } } },
  delegations: { [MAM]: { jid: 'pubsub.example.test', filtering: ['node'] } },
};
const policy = (variant: 'a' | 'b') => (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
limits: { pending_timeout_ms: 20000 }
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    privileges:
      example.test: { roster: get, iq: { "jabber:iq:private": get }, users: ["*"]${variant === 'b' ? ', except_users: [nobody]' : ''} }
    delegations:
      example.test: { "${MAM}": { attributes: [node] } }
`;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const isAdvertisement = (el: Element) => el.is('message') && el.getChild('privilege', PRIV) !== undefined;

describeProsody('faults (real Prosody)', (version) => {
  it('Prosody dies with a privileged IQ pending: the component gets its answer, a stream error, and reconnects when Prosody is back', async () => {
    stack = await startStack({ prosody: { ...PROSODY, version }, policy: policy('a') });
    const comp = await connectComponent(stack);
    await waitStanza(comp.stanzas, isAdvertisement, 'advertisement');
    const prosody = stack.prosody as ProsodyInstance;
    const ports = { c2s: prosody.c2sPort, component: prosody.componentPort };
    // Frozen, Prosody reads nothing and answers nothing: the IQ stays pending.
    process.kill(prosody.pid, 'SIGSTOP');
    const answer = comp.entity.iqCaller
      .request(xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('privileged_iq', { xmlns: PRIV }, xml('iq', { xmlns: 'jabber:client', type: 'get', id: 'pf' }, xml('query', { xmlns: 'jabber:iq:private' }, xml('storage', { xmlns: 'storage:bookmarks' }))))), 15_000)
      .then(
        () => 'result',
        (e: { condition?: string }) => e.condition,
      );
    await waitFor('pending', () => (stack!.sidecar.stats()[0]?.pendingPrivileged === 1 ? true : undefined));
    const disconnected = nextEvent(comp.entity, 'disconnect', 10_000);
    process.kill(prosody.pid, 'SIGKILL');
    expect(await answer).toBe('remote-server-timeout');
    await disconnected;
    expect(comp.errors).toContain('remote-connection-failed');
    const online = nextEvent(comp.entity, 'online', 20_000);
    await prosody.stop(); // cleans the temp dir of the dead instance
    stack.prosody = await startProsody({ ...PROSODY, ports, version });
    await online;
    const res = await comp.entity.iqCaller.request(xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 10_000);
    expect(res.attrs.type).toBe('result');
  });

  it('a component killed with delegated IQs pending: every user waiting gets an answer', async () => {
    stack = await startStack({ prosody: { ...PROSODY, version }, policy: policy('a') });
    // A component that never answers, killed without closing its stream.
    const raw = await RawComponent.open(stack.port, 'pubsub.example.test');
    const alice = await connectUser(stack, 'alice', 'f');
    const waiting = ['k1', 'k2'].map((id) =>
      alice.entity.iqCaller.request(xml('iq', { type: 'set', id }, xml('query', { xmlns: MAM, queryid: id, node: 'n' })), 15_000).then(
        () => 'result',
        (e: { condition?: string }) => e.condition,
      ),
    );
    await waitFor('both at the component', () => (raw.stanzas.filter((s) => s.name === 'iq' && s.attrs.type === 'set').length === 2 ? true : undefined));
    raw.socket.destroy();
    expect(await Promise.all(waiting)).toEqual(['service-unavailable', 'service-unavailable']);
  });

  it('50 reloads under load: no connection dropped, no IQ left unanswered', async () => {
    stack = await startStack({ prosody: { ...PROSODY, version }, policy: policy('a') });
    const comp = await connectComponent(stack);
    await waitStanza(comp.stanzas, isAdvertisement, 'advertisement');
    let disconnects = 0;
    comp.entity.on('disconnect', () => void disconnects++);
    const port = stack.policy.policy.listen.port;
    const upstream = stack.policy.policy.upstream.port;
    let sent = 0;
    let answered = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 10 }, () => {
          sent++;
          return comp.entity.iqCaller
            .request(xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' })), 10_000)
            .then(
              () => void answered++,
              (e: { condition?: string }) => {
                // a denial is an answer too; a timeout is not
                if (e.condition) answered++;
              },
            );
        });
        await Promise.all(batch);
      }
    })();
    for (let i = 0; i < 50; i++) {
      const r = stack.sidecar.reload(loadPolicyText(policy(i % 2 === 0 ? 'b' : 'a')(port, upstream), 'test-policy.yaml'));
      expect(r.ok).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor('some load after the reloads', () => (answered > 200 ? true : undefined), 20_000);
    stop = true;
    await load;
    expect(answered).toBe(sent);
    expect(disconnects).toBe(0);
    expect(stack.sidecar.online()).toEqual(['pubsub.example.test']);
  });
});
