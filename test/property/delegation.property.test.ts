/**
 * Property test of delegated-IQ handling, on the real Session over scripted
 * streams and a fake clock: for random sequences of delegated IQs, component
 * replies (valid, invalid, late, duplicate, missing), time passing and
 * disconnects,
 *  1. every delegated IQ that entered privguard is answered to the server
 *     exactly once (by the component's reply or by privguard);
 *  2. no reply reaches the server without a matching pending entry.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { Element } from '@xmpp/xml';
import { loadPolicyText } from '../../src/config/load.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { createMemoryAuditSink } from '../../src/observe/audit.js';
import { silentLogger } from '../../src/observe/log.js';
import { Session } from '../../src/proxy/session.js';
import type { StreamHandlers, XmppStream } from '../../src/proxy/stream.js';
import { stanza, stanzas } from '../unit/policy/helpers.js';

const TIMEOUT = 1000;
const MAM = 'urn:xmpp:mam:2';

/** Enough of an XmppStream for a Session: records writes, lets the test play stanzas. */
class ScriptedStream {
  handlers!: StreamHandlers;
  written: Element[] = [];
  state: 'open' | 'closing' | 'closed' = 'open';
  socket = new EventEmitter();
  pausedFor: string[] = [];
  buffered = 0;
  setHandlers(h: StreamHandlers) {
    this.handlers = h;
  }
  write(xml: string): boolean {
    if (this.state !== 'open') return false;
    if (xml.trim()) this.written.push(...stanzas(xml));
    return true;
  }
  close() {
    if (this.state !== 'open') return;
    this.state = 'closing';
    queueMicrotask(() => {
      this.state = 'closed';
      this.handlers.onClose(false);
    });
  }
  pause() {}
  resume() {}
}

const compiled = compilePolicy(
  loadPolicyText(
    `limits: { pending_timeout_ms: ${TIMEOUT}, max_pending: 4 }
components:
  pubsub.example.test:
    secret: s
    upstream_secret: u
    delegations:
      example.test: { "${MAM}": { attributes: [node] } }
`,
    'p.yaml',
    {},
  ),
);

function session() {
  const client = new ScriptedStream();
  const server = new ScriptedStream();
  const component = { name: 'pubsub.example.test', key: 'pubsub.example.test', secret: 's', upstreamSecret: 's', policy: {} } as never;
  const s = new Session({
    component,
    compiled: compiled.components.get('pubsub.example.test')!,
    mode: 'enforce',
    pendingTimeoutMs: TIMEOUT,
    maxPending: 4,
    client: client as unknown as XmppStream,
    server: server as unknown as XmppStream,
    log: silentLogger,
    audit: createMemoryAuditSink(),
    onClosed: () => {},
  });
  s.start([], [stanza(`<message from='example.test' to='pubsub.example.test'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='${MAM}'><attribute name='node'/></delegated></delegation></message>`)]);
  return { s, client, server };
}

const request = (i: number, withNode: boolean) =>
  stanza(
    `<iq to='pubsub.example.test' id='W${i}' type='set' from='example.test'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='alice@example.test/r' type='set' id='u${i}'><query xmlns='${MAM}' ${withNode ? "node='n'" : ''}/></iq></forwarded></delegation></iq>`,
  );

type ReplyKind = 'valid' | 'wrong-id' | 'outer-error' | 'unwrapped' | 'inner-error';
const reply = (i: number, kind: ReplyKind) => {
  if (kind === 'outer-error') return stanza(`<iq type='error' id='W${i}' from='pubsub.example.test' to='example.test'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
  if (kind === 'unwrapped') return stanza(`<iq type='result' id='W${i}' from='pubsub.example.test' to='example.test'/>`);
  const innerId = kind === 'wrong-id' ? `x${i}` : `u${i}`;
  const type = kind === 'inner-error' ? 'error' : 'result';
  const err = kind === 'inner-error' ? "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>" : '';
  return stanza(
    `<iq type='result' id='W${i}' from='pubsub.example.test' to='example.test'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='${type}' id='${innerId}' to='alice@example.test/r'>${err}</iq></forwarded></delegation></iq>`,
  );
};

const eventArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('request' as const), withNode: fc.constantFrom(true, true, true, false) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('reply' as const), target: fc.nat(12), reply: fc.constantFrom<ReplyKind>('valid', 'valid', 'wrong-id', 'outer-error', 'unwrapped', 'inner-error') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: TIMEOUT * 1.5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const) }) },
);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('delegated IQ properties', () => {
  it('every delegated IQ is answered exactly once; no reply reaches the server without a pending entry', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { maxLength: 40 }), async (events) => {
        const { s, client, server } = session();
        let requests = 0;
        /** wrapper ids pending (by the test's own bookkeeping, from what privguard wrote). */
        for (const e of events) {
          if (s.state !== 'online') break;
          if (e.kind === 'request') {
            server.handlers.onStanza(request(requests++, e.withNode));
          } else if (e.kind === 'reply') {
            if (requests === 0) continue;
            const i = e.target % requests;
            const forwarded = client.written.some((w) => w.attrs.id === `W${i}`);
            const answeredBefore = server.written.filter((w) => w.attrs.id === `W${i}`).length;
            client.handlers.onStanza(reply(i, e.reply));
            const answeredAfter = server.written.filter((w) => w.attrs.id === `W${i}`).length;
            // 2. a reply reaches the server only for a request forwarded and not yet answered
            if (answeredAfter > answeredBefore) expect(forwarded && answeredBefore === 0).toBe(true);
          } else if (e.kind === 'tick') {
            vi.advanceTimersByTime(e.ms);
          } else {
            client.close();
            await Promise.resolve();
          }
        }
        // Let every deadline pass, then close.
        vi.advanceTimersByTime(TIMEOUT * 2);
        s.close();
        await Promise.resolve();
        // 1. exactly one answer per request
        for (let i = 0; i < requests; i++) {
          const answers = server.written.filter((w) => w.name === 'iq' && w.attrs.id === `W${i}` && (w.attrs.type === 'result' || w.attrs.type === 'error'));
          expect(answers, `request W${i}`).toHaveLength(1);
        }
        expect(s.stats().pendingDelegated).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('a reload that removes a delegation', () => {
  it('answers the IQs pending under it at once, exactly once, and keeps the others', () => {
    const { s, client, server } = session();
    server.handlers.onStanza(request(0, true));
    server.handlers.onStanza(request(1, true));
    expect(client.written.filter((w) => w.attrs.id === 'W0' || w.attrs.id === 'W1')).toHaveLength(2);
    const without = compilePolicy(loadPolicyText('components:\n  pubsub.example.test: { secret: s, upstream_secret: u }\n', 'p.yaml', {})).components.get('pubsub.example.test')!;
    s.applyPolicy(without);
    for (const id of ['W0', 'W1']) {
      const answers = server.written.filter((w) => w.attrs.id === id);
      expect(answers).toHaveLength(1);
      expect(answers[0]!.getChild('delegation')!.getChild('forwarded')!.getChild('iq')!.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    }
    // the component's reply afterwards does not reach the server
    client.handlers.onStanza(reply(0, 'valid'));
    expect(server.written.filter((w) => w.attrs.id === 'W0')).toHaveLength(1);
    expect(s.stats().pendingDelegated).toBe(0);
    // an unchanged policy leaves a pending IQ alone
    const again = session();
    again.server.handlers.onStanza(request(0, true));
    again.s.applyPolicy(compiled.components.get('pubsub.example.test')!);
    expect(again.s.stats().pendingDelegated).toBe(1);
  });
});
