/**
 * One decision event: every audit record of one action has the same keys
 * whoever decided it (the policy, a timeout, the component or the server
 * going away), `user` is the normalised localpart, and every decision is
 * counted in privguard_decisions_total.
 */
import { describe, expect, it } from 'vitest';
import { loadPolicyText } from '../../../src/config/load.js';
import { Link } from '../../../src/engine/link.js';
import type { EndReason } from '../../../src/engine/decision.js';
import { createMemoryAuditSink } from '../../../src/observe/audit.js';
import { createDecisionBus, observeDecisions } from '../../../src/observe/events.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { parseStanza } from '../../support/stanzas.js';

const C = 'pubsub.example.test';
const MAM = 'urn:xmpp:mam:2';
const policy = compilePolicy(
  loadPolicyText(
    `limits: { pending_timeout_ms: 1000 }
components:
  ${C}:
    secret: s
    upstream_secret: u
    privileges:
      example.test: { iq: { "jabber:iq:private": both } }
    delegations:
      example.test: { "${MAM}": {} }
`,
    'p.yaml',
    {},
  ),
);

const ADV = `<message from='example.test' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='iq'><namespace ns='jabber:iq:private' type='both'/></perm></privilege></message>`;
const DELEG = `<message from='example.test' to='${C}'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='${MAM}'/></delegation></message>`;
const piq = (id: string) =>
  `<iq type='get' id='${id}' from='${C}' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='get' id='${id}-in'><query xmlns='jabber:iq:private'/></iq></privileged_iq></iq>`;
const delegated = (id: string) =>
  `<iq to='${C}' id='${id}' type='set' from='example.test'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='Alice@example.test/r' type='set' id='u-${id}'><query xmlns='${MAM}'/></iq></forwarded></delegation></iq>`;

async function harness() {
  const audit = createMemoryAuditSink();
  const metrics = await createMetrics();
  const bus = createDecisionBus();
  observeDecisions(bus, audit, metrics);
  let clock = 0;
  const link = new Link({
    name: C,
    compiled: policy.components.get(C)!,
    mode: 'enforce',
    pendingTimeoutMs: 1000,
    maxPending: 10,
    now: () => clock,
    effects: { toComponent: () => {}, toServer: () => {}, closeStreams: () => {}, decision: (e) => bus.publish(e), log: () => {} },
  });
  link.fromServer(parseStanza(ADV));
  link.fromServer(parseStanza(DELEG));
  const advance = (ms: number) => {
    clock += ms;
    link.tick(clock);
  };
  return { audit, metrics, link, advance };
}

const keys = (r: object) => Object.keys(r).sort();

describe('decision events', () => {
  it.each(['iq.get', 'delegation.forward'])('%s: the same keys whether the policy, a timeout, the component or the server decided', async (action) => {
    const seen = new Map<string, string[]>();
    const send = (h: Awaited<ReturnType<typeof harness>>, id: string) =>
      action === 'iq.get' ? h.link.fromComponent(parseStanza(piq(id))) : h.link.fromServer(parseStanza(delegated(id)));
    // decided by the policy
    const a = await harness();
    send(a, 'x1');
    const allowed = a.audit.records.find((r) => r.action === action && r.verdict === 'allowed')!;
    expect(allowed.user).toBe('alice');
    seen.set('policy', keys(allowed));
    // timeout
    a.advance(1001);
    seen.set('timeout', keys(a.audit.records.find((r) => r.action === action && r.reason === 'timeout')!));
    // a side gone
    for (const why of ['component_gone', 'server_gone', 'shutdown'] satisfies EndReason[]) {
      const h = await harness();
      send(h, 'x2');
      h.link.close(why);
      const r = h.audit.records.find((x) => x.action === action && x.reason === why)!;
      expect(r, why).toBeDefined();
      expect(r.user).toBe('alice');
      seen.set(why, keys(r));
      const text = (await h.metrics.render()).text;
      expect(text).toMatch(new RegExp(`privguard_decisions_total\\{mode="enforce",action="reject",verdict="denied",reason="${why}"\\} 1`));
      expect(text).toMatch(/privguard_decisions_total\{mode="enforce",action="pass",verdict="allowed",reason="ok"\} 1/);
    }
    const [first, ...rest] = [...seen.values()];
    for (const k of rest) expect(k).toEqual(first);
    expect(first).toEqual(['action', 'component', 'domain', 'namespace', 'reason', 'stanza_id', 'user', 'verdict']);
    const text = (await a.metrics.render()).text;
    expect(text).toMatch(/privguard_decisions_total\{mode="enforce",action="reject",verdict="denied",reason="timeout"\} 1/);
  });

  it('counts every audited decision: the counter total equals the number of records', async () => {
    const h = await harness();
    h.link.fromComponent(parseStanza(piq('a')));
    h.link.fromServer(parseStanza(delegated('b')));
    h.link.close('server_gone');
    const text = (await h.metrics.render()).text;
    const total = [...text.matchAll(/^privguard_decisions_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(total).toBe(h.audit.records.length);
    expect(total).toBeGreaterThanOrEqual(6);
  });
});

describe('the decision channel', () => {
  it('publishes every event on privguard:decision for outside tools, and each sidecar bus only to its own subscribers', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const { DECISION_CHANNEL } = await import('../../../src/observe/events.js');
    const outside: unknown[] = [];
    const listener = (m: unknown) => void outside.push(m);
    subscribe(DECISION_CHANNEL, listener);
    try {
      const a = createDecisionBus();
      const b = createDecisionBus();
      const seenA: unknown[] = [];
      const seenB: unknown[] = [];
      a.subscribe((e) => void seenA.push(e));
      const off = b.subscribe((e) => void seenB.push(e));
      const event = { component: C } as never;
      a.publish(event);
      off();
      b.publish(event);
      expect(seenA).toEqual([event]);
      expect(seenB).toEqual([]);
      expect(outside).toEqual([event, event]);
    } finally {
      unsubscribe(DECISION_CHANNEL, listener);
    }
  });
});
