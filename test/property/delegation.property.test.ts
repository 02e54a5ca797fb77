/**
 * Property test of delegated-IQ handling, on the engine's Link with a fake
 * clock (no sockets): for random sequences of delegated IQs, component replies
 * (valid, invalid, late, duplicate, missing), time passing and disconnects,
 *  1. every delegated IQ that entered privguard is answered to the server
 *     exactly once (by the component's reply or by privguard);
 *  2. no reply reaches the server without a matching pending entry.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Element } from '@xmpp/xml';
import { loadPolicyText } from '../../src/config/load.js';
import { offlineLink, type OfflineLink } from '../../src/engine/offline.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { parseStanzas, parseStanza as stanza } from '../support/stanzas.js';

const TIMEOUT = 1000;
const MAM = 'urn:xmpp:mam:2';

/** What the link sent one side so far, parsed. */
function written(off: OfflineLink, to: 'component' | 'server'): Element[] {
  return off.sent.filter((s) => s.to === to).flatMap((s) => parseStanzas(s.xml));
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

function session(opts: { maxPending?: number } = {}) {
  const off = offlineLink({ compiled: compiled.components.get('pubsub.example.test')!, pendingTimeoutMs: TIMEOUT, maxPending: opts.maxPending ?? 4 });
  off.link.fromServer(stanza(`<message from='example.test' to='pubsub.example.test'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='${MAM}'><attribute name='node'/></delegated></delegation></message>`));
  return off;
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

describe('delegated IQ properties', () => {
  it('every delegated IQ is answered exactly once; no reply reaches the server without a pending entry', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), (events) => {
        const off = session();
        const { link } = off;
        let requests = 0;
        for (const e of events) {
          if (!link.open) break;
          if (e.kind === 'request') {
            link.fromServer(request(requests++, e.withNode));
          } else if (e.kind === 'reply') {
            if (requests === 0) continue;
            const i = e.target % requests;
            const forwarded = written(off, 'component').some((w) => w.attrs.id === `W${i}`);
            const answeredBefore = written(off, 'server').filter((w) => w.attrs.id === `W${i}`).length;
            link.fromComponent(reply(i, e.reply));
            const answeredAfter = written(off, 'server').filter((w) => w.attrs.id === `W${i}`).length;
            // 2. a reply reaches the server only for a request forwarded and not yet answered
            if (answeredAfter > answeredBefore) expect(forwarded && answeredBefore === 0).toBe(true);
          } else if (e.kind === 'tick') {
            off.advance(e.ms);
          } else {
            link.close('component_gone');
          }
        }
        // Let every deadline pass, then close.
        off.advance(TIMEOUT * 2);
        link.close('shutdown');
        // 1. exactly one answer per request
        const toServer = written(off, 'server');
        for (let i = 0; i < requests; i++) {
          const answers = toServer.filter((w) => w.name === 'iq' && w.attrs.id === `W${i}` && (w.attrs.type === 'result' || w.attrs.type === 'error'));
          expect(answers, `request W${i}`).toHaveLength(1);
        }
        expect(link.pendingDelegated).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  // The flake this property found (seeds -34787898, -1505478440): an IQ privguard
  // answered itself, once its id left a memory as small as max_pending, let a
  // later plain reply with that id through as a second answer.
  it('drops a plain reply for an id privguard answered itself, however many answers came after', () => {
    const off = session({ maxPending: 2 });
    off.link.fromServer(request(0, true));
    off.advance(TIMEOUT + 1); // W0 answered by privguard (timeout)
    for (let i = 1; i <= 20; i++) {
      off.link.fromServer(request(i, true));
      off.link.fromComponent(reply(i, 'valid'));
    }
    for (const kind of ['outer-error', 'unwrapped'] as const) off.link.fromComponent(reply(0, kind));
    expect(written(off, 'server').filter((w) => w.attrs.id === 'W0')).toHaveLength(1);
  });

  it('drops a plain reply for an id answered with resource-constraint (no room to track it)', () => {
    const off = session({ maxPending: 1 });
    off.link.fromServer(request(0, true));
    off.link.fromServer(request(1, true)); // table full: answered at once
    const first = written(off, 'server').filter((w) => w.attrs.id === 'W1');
    expect(first).toHaveLength(1);
    off.link.fromComponent(reply(1, 'unwrapped'));
    expect(written(off, 'server').filter((w) => w.attrs.id === 'W1')).toHaveLength(1);
  });
});

describe('a reload that removes a delegation', () => {
  it('answers the IQs pending under it at once, exactly once, and keeps the others', () => {
    const off = session();
    off.link.fromServer(request(0, true));
    off.link.fromServer(request(1, true));
    expect(written(off, 'component').filter((w) => w.attrs.id === 'W0' || w.attrs.id === 'W1')).toHaveLength(2);
    const without = compilePolicy(loadPolicyText('components:\n  pubsub.example.test: { secret: s, upstream_secret: u }\n', 'p.yaml', {})).components.get('pubsub.example.test')!;
    off.link.reload(without);
    for (const id of ['W0', 'W1']) {
      const answers = written(off, 'server').filter((w) => w.attrs.id === id);
      expect(answers).toHaveLength(1);
      expect(answers[0]!.getChild('delegation')!.getChild('forwarded')!.getChild('iq')!.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    }
    // the component's reply afterwards does not reach the server
    off.link.fromComponent(reply(0, 'valid'));
    expect(written(off, 'server').filter((w) => w.attrs.id === 'W0')).toHaveLength(1);
    expect(off.link.pendingDelegated).toBe(0);
    // an unchanged policy leaves a pending IQ alone
    const again = session();
    again.link.fromServer(request(0, true));
    again.link.reload(compiled.components.get('pubsub.example.test')!);
    expect(again.link.pendingDelegated).toBe(1);
  });
});
