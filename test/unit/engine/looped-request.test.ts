/**
 * ejabberd #4347 (24.10 to 25.02; Debian 13's 24.12): a privileged IQ to the
 * user's own bare JID comes back to the component as the request itself,
 * wrapped like an answer, and no answer ever follows. The link answers the
 * component's pending request at once (service-unavailable naming the bug),
 * exactly once, in every mode, and the copy goes nowhere. The shapes are those
 * recorded from ejabberd 24.12 (recordings/debian13/ejabberd24).
 */
import { describe, expect, it } from 'vitest';
import type { Mode } from '../../../src/config/schema.js';
import { loadPolicyText } from '../../../src/config/load.js';
import { Link } from '../../../src/engine/link.js';
import { createMemoryAuditSink } from '../../../src/observe/audit.js';
import { createDecisionBus, observeDecisions } from '../../../src/observe/events.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { parseStanza } from '../../support/stanzas.js';

const C = 'pubsub.example.test';
const policy = compilePolicy(
  loadPolicyText(
    `components:
  ${C}:
    secret: s
    upstream_secret: u
    privileges:
      example.test: { iq: { "vcard-temp": get } }
`,
    'p.yaml',
    {},
  ),
);

const ADV = `<message to='${C}' from='example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='iq'><namespace type='get' ns='vcard-temp'/></perm></privilege></message>`;
const request = `<iq type='get' id='pv1' from='${C}' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='get' id='pv1-inner' to='alice@example.test'><vCard xmlns='vcard-temp'/></iq></privileged_iq></iq>`;
const looped = (from = 'alice@example.test', id = 'pv1') =>
  `<iq to='${C}' from='${from}' type='get' id='${id}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><iq to='alice@example.test' from='alice@example.test' type='get' id='pv1-inner' xmlns='jabber:client'><vCard xmlns='vcard-temp'/></iq></forwarded></privilege></iq>`;

async function harness(mode: Mode = 'enforce') {
  const audit = createMemoryAuditSink();
  const bus = createDecisionBus();
  observeDecisions(bus, audit, await createMetrics());
  const toComponent: string[] = [];
  const toServer: string[] = [];
  const logs: string[] = [];
  let clock = 0;
  const link = new Link({
    name: C,
    compiled: policy.components.get(C)!,
    mode,
    pendingTimeoutMs: 30_000,
    maxPending: 10,
    now: () => clock,
    effects: {
      toComponent: (xml) => void toComponent.push(xml),
      toServer: (xml) => void toServer.push(xml),
      closeStreams: () => {},
      decision: (e) => bus.publish(e),
      log: (_level, _fields, msg) => void logs.push(msg),
    },
  });
  link.fromServer(parseStanza(ADV));
  toComponent.length = 0;
  link.fromComponent(parseStanza(request));
  expect(toServer).toHaveLength(1);
  toServer.length = 0;
  const advance = (ms: number) => {
    clock += ms;
    link.tick(clock);
  };
  return { audit, link, toComponent, toServer, logs, advance };
}

const answersTo = (out: string[], id: string) => out.map(parseStanza).filter((el) => el.is('iq') && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'));

describe('a privileged IQ the server loops back as a request (ejabberd #4347)', () => {
  it.each(['enforce', 'report'] as const)('%s: the component gets service-unavailable naming the bug at once, exactly once; the copy goes nowhere', async (mode) => {
    const h = await harness(mode);
    h.link.fromServer(parseStanza(looped()));
    expect(h.toComponent).toHaveLength(1);
    const [answer] = answersTo(h.toComponent, 'pv1');
    expect(answer!.attrs).toMatchObject({ type: 'error', from: 'alice@example.test', to: C });
    expect(answer!.getChild('error')!.attrs.type).toBe('cancel');
    expect(answer!.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    expect(answer!.getChild('error')!.getChildText('text')).toContain('ejabberd bug #4347');
    expect(h.toServer).toEqual([]);
    expect(h.link.pendingPrivileged).toBe(0);
    expect(h.audit.records.filter((r) => r.stanza_id === 'pv1').map((r) => [r.action, r.verdict, r.reason, r.user])).toEqual([
      ['iq.get', 'allowed', 'ok', 'alice'],
      ['iq.get', 'denied', 'looped_request', 'alice'],
    ]);
    expect(h.logs.filter((l) => l.includes('#4347'))).toHaveLength(1);
    // The deadline passes: no second answer; a second copy answers nothing either.
    h.advance(30_001);
    h.link.fromServer(parseStanza(looped()));
    expect(answersTo(h.toComponent, 'pv1')).toHaveLength(1);
  });

  it("a copy from another user, or with another id, is not the component's request: it goes on as before, and the deadline answers", async () => {
    const h = await harness();
    h.link.fromServer(parseStanza(looped('bob@example.test')));
    h.link.fromServer(parseStanza(looped('alice@example.test', 'other')));
    expect(answersTo(h.toComponent, 'pv1')).toHaveLength(0);
    expect(h.toComponent).toHaveLength(2);
    expect(h.link.pendingPrivileged).toBe(1);
    h.advance(30_001);
    const answers = answersTo(h.toComponent, 'pv1');
    expect(answers).toHaveLength(1);
    expect(answers[0]!.getChild('error')!.getChild('remote-server-timeout')).toBeDefined();
  });

  it('a real answer (type result) still settles the request as before', async () => {
    const h = await harness();
    h.link.fromServer(parseStanza(looped().replace("type='get' id='pv1'", "type='result' id='pv1'")));
    expect(answersTo(h.toComponent, 'pv1').map((el) => String(el.attrs.type))).toEqual(['result']);
    expect(h.link.pendingPrivileged).toBe(0);
  });
});
