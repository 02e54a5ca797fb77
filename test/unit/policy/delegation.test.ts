import { describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { decideInbound } from '../../../src/policy/inbound.js';
import { decideOutbound } from '../../../src/policy/outbound.js';
import type { DelegatedIqTrack, Verdict } from '../../../src/policy/verdict.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { recording } from '../../fixtures/recordings.js';
import { contextForPolicy, stanza, stanzas, type Ctx } from './helpers.js';

const MAM = 'urn:xmpp:mam:2';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const POLICY_DELEGATIONS = `components:
  pubsub.example.test:
    secret: s
    upstream_secret: u
    delegations:
      example.test:
        "${MAM}": { attributes: [node] }
        "urn:xmpp:delegation:2:bare:disco#info:*": {}
`;

/** A context whose server delegated MAM (filter node), pubsub and the bare disco#info special namespace. */
function ctx(serverDelegates: Record<string, string[]> = { [MAM]: ['node'], [PUBSUB]: [], 'urn:xmpp:delegation:2:bare:disco#info:*': [] }): Ctx {
  const c = contextForPolicy(POLICY_DELEGATIONS);
  c.delegations.set('example.test', new Map(Object.entries(serverDelegates)));
  return c;
}

/** Stanzas one side wrote in a recording. */
function chunks(server: 'prosody' | 'ejabberd', name: string, conn: string, kind: 'SEND' | 'RECV'): Element[] {
  return stanzas(
    recording(server, name)
      .filter((c) => c.connection === conn && c.kind === kind)
      .map((c) => c.data)
      .join('')
      .replace(/<\?xml[^>]*\?>/g, '')
      .replace(/<stream:stream[^>]*>/g, ''),
  );
}

const inbound = (c: Ctx, el: Element | string): Verdict => decideInbound(c.in, typeof el === 'string' ? stanza(el) : el);
const outbound = (c: Ctx, el: Element | string): Verdict => decideOutbound(c.out, typeof el === 'string' ? stanza(el) : el);

const delegated = (inner: string, opts: { from?: string; id?: string; type?: string; ns?: string } = {}) =>
  `<iq to='pubsub.example.test' id='${opts.id ?? 'W1'}' type='${opts.type ?? 'set'}' from='${opts.from ?? 'example.test'}'><delegation xmlns='${opts.ns ?? 'urn:xmpp:delegation:2'}'><forwarded xmlns='urn:xmpp:forward:0'>${inner}</forwarded></delegation></iq>`;
const mamIq = (attrs = "node='urn:xmpp:microblog:0'", to = '') =>
  `<iq xmlns='jabber:client' from='alice@example.test/rec' type='set' id='mam1'${to}><query xmlns='${MAM}' queryid='q1' ${attrs}/></iq>`;

function answerToServer(v: Verdict): Element {
  expect(v.action).toBe('reject');
  if (v.action !== 'reject') throw new Error('not a rejection');
  expect(v.replies).toHaveLength(1);
  expect(v.replies[0]!.to).toBe('server');
  return v.replies[0]!.stanza;
}

describe('delegation advertisements (XEP-0355 §4.2)', () => {
  it('rewrites Prosody\'s advertisement to what the policy delegates, attributes kept', () => {
    const adv = chunks('prosody', 'component-connect', 'pubsub', 'RECV').find((s) => s.name === 'message' && s.getChild('delegation', 'urn:xmpp:delegation:2'))!;
    const c = ctx({});
    const v = inbound(c, adv);
    expect(v.action).toBe('rewrite');
    if (v.action !== 'rewrite') return;
    expect(serialize(v.stanza)).toBe(
      `<message from="example.test" to="pubsub.example.test"><delegation xmlns="urn:xmpp:delegation:2"><delegated namespace="${MAM}"><attribute name="node"/></delegated></delegation></message>`,
    );
    expect([...v.learn!.delegated.keys()].sort()).toEqual([PUBSUB, MAM].sort());
  });

  it('adds the policy\'s attributes to the server\'s (the policy can only narrow)', () => {
    const v = inbound(ctx({}), `<message from='example.test' to='pubsub.example.test'><delegation xmlns='urn:xmpp:delegation:1'><delegated namespace='${MAM}'/></delegation></message>`);
    expect(v.action === 'rewrite' && serialize(v.stanza)).toBe(
      `<message from="example.test" to="pubsub.example.test"><delegation xmlns="urn:xmpp:delegation:1"><delegated namespace="${MAM}"><attribute name="node"/></delegated></delegation></message>`,
    );
  });

  it('sends nothing when nothing is left, but still learns what the server delegated (ejabberd: one message per namespace)', () => {
    const v = inbound(ctx({}), `<message from='example.test' to='pubsub.example.test'><delegation xmlns='urn:xmpp:delegation:1'><delegated namespace='${PUBSUB}'/></delegation></message>`);
    expect(v).toMatchObject({ action: 'drop', reason: 'nothing_delegated', learn: { domain: 'example.test' } });
  });

  it.each([
    ['a user', 'alice@example.test/x', 'forged_advertisement'],
    ['a domain the policy does not name', 'other.test', 'unconfigured_domain'],
  ])('drops an advertisement from %s', (_w, from, reason) => {
    const v = inbound(ctx({}), `<message from='${from}' to='pubsub.example.test'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='${MAM}'/></delegation></message>`);
    expect(v).toMatchObject({ action: 'drop', reason, replies: [] });
  });
});

describe('delegated IQs (XEP-0355 §4.3)', () => {
  it('forwards MAM with node and asks the session to track it (recordings/prosody/delegated-mam-with-node)', () => {
    const [req] = chunks('prosody', 'delegated-mam-with-node', 'pubsub', 'RECV');
    const v = inbound(ctx(), req!);
    expect(v).toMatchObject({
      action: 'pass',
      audit: { action: 'delegation.forward', domain: 'example.test', user: 'alice', namespace: MAM },
      track: { kind: 'delegated_iq', id: String(req!.attrs.id), domain: 'example.test', version: 2, namespace: MAM },
    });
  });

  it('refuses MAM without node (ejabberd forwards it, ignoring filtering) with the wrapped service-unavailable', () => {
    const v = inbound(ctx(), delegated(mamIq("", " to='alice@example.test'")));
    expect(v).toMatchObject({ reason: 'missing_attribute', detail: 'node', rule: { path: `components.pubsub.example.test.delegations.example.test.${MAM}.attributes`, value: '["node"]' } });
    // Outer result (ejabberd would relay an outer error with the wrapper id), inner error with the user's id,
    // from/to the exact swap, no text: the user must not see privguard.
    expect(serialize(answerToServer(v))).toBe(
      `<iq type="result" id="W1" from="pubsub.example.test" to="example.test"><delegation xmlns="urn:xmpp:delegation:2"><forwarded xmlns="urn:xmpp:forward:0"><iq xmlns="jabber:client" type="error" id="mam1" from="alice@example.test" to="alice@example.test/rec"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq></forwarded></delegation></iq>`,
    );
  });

  it('refuses a namespace the server delegates but the policy does not (recordings/prosody/delegated-pubsub-publish-own-bare)', () => {
    const [req] = chunks('prosody', 'delegated-pubsub-publish-own-bare', 'pubsub', 'RECV');
    const v = inbound(ctx(), req!);
    expect(v).toMatchObject({ reason: 'not_delegated', rule: { path: 'components.pubsub.example.test.delegations.example.test', value: `no entry for ${PUBSUB}` } });
    const inner = answerToServer(v).getChild('delegation')!.getChild('forwarded')!.getChild('iq')!;
    // the request had no "to" (her own account): no "from" in the answer
    expect(inner.attrs).toEqual({ xmlns: 'jabber:client', type: 'error', id: 'pub1', to: 'alice@example.test/rec' });
  });

  it('refuses what the policy delegates but the server has not (yet)', () => {
    expect(inbound(ctx({}), delegated(mamIq()))).toMatchObject({ reason: 'not_delegated', rule: null, detail: 'the server has not delegated it' });
  });

  it('reads ejabberd\'s delegation:1 wrapper (recordings/ejabberd/delegated-pubsub-publish-own-bare)', () => {
    const [req] = chunks('ejabberd', 'delegated-pubsub-publish-own-bare', 'pubsub', 'RECV').filter((s) => s.name === 'iq');
    const v = inbound(ctx(), req!);
    expect(v).toMatchObject({ reason: 'not_delegated' });
    expect(answerToServer(v).getChild('delegation', 'urn:xmpp:delegation:1')).toBeDefined();
  });

  it('treats the special bare disco#info namespace like any other', () => {
    const disco = `<iq xmlns='jabber:client' from='bob@example.test/x' to='alice@example.test' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:xmpp:microblog:0'/></iq>`;
    expect(inbound(ctx(), delegated(disco))).toMatchObject({ action: 'pass', track: { namespace: 'urn:xmpp:delegation:2:bare:disco#info:*' } });
  });

  it('refuses a forwarded IQ to a full JID (never delegated)', () => {
    expect(inbound(ctx(), delegated(mamIq(undefined, " to='alice@example.test/other'")))).toMatchObject({ reason: 'not_bare_target' });
  });

  it('answers a forged delegated IQ (from a user) like a component that does not support it', () => {
    const v = inbound(ctx(), delegated(mamIq(), { from: 'mallory@example.test/x' }));
    expect(v).toMatchObject({ reason: 'forged_delegation' });
    expect(serialize(answerToServer(v))).toBe(
      '<iq type="error" id="W1" from="pubsub.example.test" to="mallory@example.test/x"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>',
    );
  });

  it.each([
    ['an outer get', delegated(mamIq(), { type: 'get' })],
    ['no forwarded iq', `<iq to='pubsub.example.test' id='W1' type='set' from='example.test'><delegation xmlns='urn:xmpp:delegation:2'/></iq>`],
    ['an inner result', delegated(`<iq xmlns='jabber:client' from='alice@example.test/rec' type='result' id='x'/>`)],
    ['an inner message', delegated(`<message xmlns='jabber:client' from='alice@example.test/rec'/>`)],
  ])('answers the server bad-request for %s', (_w, xml) => {
    const reply = answerToServer(inbound(ctx(), xml));
    expect(reply.attrs).toMatchObject({ type: 'error', id: 'W1', to: 'example.test' });
    expect(reply.getChild('error')!.getChild('bad-request')).toBeDefined();
  });

  it('answers at once (wait/resource-constraint) when max_pending are waiting', () => {
    const c = ctx();
    c.in.delegationPendingFull = true;
    const inner = answerToServer(inbound(c, delegated(mamIq()))).getChild('delegation')!.getChild('forwarded')!.getChild('iq')!;
    expect(inner.getChild('error')!.attrs.type).toBe('wait');
    expect(inner.getChild('error')!.getChild('resource-constraint')).toBeDefined();
  });
});

describe('disco nesting (XEP-0355 §7.2)', () => {
  const q = (node: string) => `<iq to='pubsub.example.test' id='Q1' type='get' from='example.test'><query node='${node}' xmlns='http://jabber.org/protocol/disco#info'/></iq>`;

  it.each([`urn:xmpp:delegation:2::${MAM}`, `urn:xmpp:delegation:2:bare:${MAM}`, `urn:xmpp:delegation:1::${MAM}`])('passes %s (the policy delegates MAM)', (node) => {
    expect(inbound(ctx({}), q(node))).toMatchObject({ action: 'pass', audit: { action: 'delegation.disco', namespace: MAM } });
  });

  it('answers item-not-found for a namespace the policy does not delegate', () => {
    const v = inbound(ctx(), q(`urn:xmpp:delegation:2::${PUBSUB}`));
    expect(serialize(answerToServer(v))).toBe(
      '<iq type="error" id="Q1" from="pubsub.example.test" to="example.test"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>',
    );
  });

  it('leaves other disco#info queries alone', () => {
    expect(inbound(ctx(), `<iq to='pubsub.example.test' id='Q2' type='get' from='alice@example.test/x'><query node='x' xmlns='http://jabber.org/protocol/disco#info'/></iq>`)).toMatchObject({ action: 'pass', reason: 'ok' });
  });
});

describe('the component\'s replies (XEP-0355 §4.3)', () => {
  /** A context with the recorded MAM request pending. */
  function pendingCtx(): { c: Ctx; track: DelegatedIqTrack } {
    const c = ctx();
    const v = inbound(c, delegated(mamIq(undefined, " to='alice@example.test'")));
    if (v.action !== 'pass' || v.track?.kind !== 'delegated_iq') throw new Error('expected a tracked request');
    c.delegPending.set(v.track.id, v.track);
    return { c, track: v.track };
  }
  const reply = (inner: string, opts: { id?: string; to?: string; type?: string; ns?: string } = {}) =>
    `<iq type='${opts.type ?? 'result'}' id='${opts.id ?? 'W1'}' from='pubsub.example.test' to='${opts.to ?? 'example.test'}'><delegation xmlns='${opts.ns ?? 'urn:xmpp:delegation:2'}'><forwarded xmlns='urn:xmpp:forward:0'>${inner}</forwarded></delegation></iq>`;
  const innerReply = (a: { id?: string; to?: string; from?: string | null; type?: string } = {}) =>
    `<iq xmlns='jabber:client' type='${a.type ?? 'result'}' id='${a.id ?? 'mam1'}' to='${a.to ?? 'alice@example.test/rec'}'${a.from === null ? '' : ` from='${a.from ?? 'alice@example.test'}'`}><fin xmlns='${MAM}'/>${a.type === 'error' ? "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>" : ''}</iq>`;

  const rebuilt = (v: Verdict): string => {
    expect(v.action).toBe('rewrite');
    return v.action === 'rewrite' ? serialize(v.stanza) : '';
  };

  it('passes a matching reply, rebuilt from its judged parts, and settles its entry (recordings/prosody/delegated-mam-with-node shape)', () => {
    const { c } = pendingCtx();
    const v = outbound(c, reply(innerReply()));
    expect(v).toMatchObject({ action: 'rewrite', reason: 'ok', settle: { id: 'W1' }, audit: { action: 'delegation.reply', namespace: MAM } });
    expect(rebuilt(v)).toBe(
      '<iq type="result" id="W1" from="pubsub.example.test" to="example.test"><delegation xmlns="urn:xmpp:delegation:2"><forwarded xmlns="urn:xmpp:forward:0"><iq xmlns="jabber:client" type="result" id="mam1" to="alice@example.test/rec" from="alice@example.test"><fin xmlns="urn:xmpp:mam:2"/></iq></forwarded></delegation></iq>',
    );
  });

  it('passes an inner error (both servers relay it)', () => {
    const { c } = pendingCtx();
    expect(rebuilt(outbound(c, reply(innerReply({ type: 'error' }))))).toContain('<fin xmlns="urn:xmpp:mam:2"/><error type="cancel">');
  });

  // Issue 11 item 2: Prosody's mod_delegation counts nodes, text included, and
  // discards a reply of any other shape without answering the user.
  it('a pretty-printed reply is rebuilt without the white space between the wrappers', () => {
    const { c } = pendingCtx();
    const pretty = `<iq type='result' id='W1' from='pubsub.example.test' to='example.test'>\n  <delegation xmlns='urn:xmpp:delegation:2'>\n    <forwarded xmlns='urn:xmpp:forward:0'>\n      <iq xmlns='jabber:client' type='result' id='mam1' to='alice@example.test/rec' from='alice@example.test'>\n        <fin xmlns='${MAM}'>\n <x/> </fin>\n      </iq>\n    </forwarded>\n  </delegation>\n</iq>`;
    expect(rebuilt(outbound(c, pretty))).toBe(
      '<iq type="result" id="W1" from="pubsub.example.test" to="example.test"><delegation xmlns="urn:xmpp:delegation:2"><forwarded xmlns="urn:xmpp:forward:0"><iq xmlns="jabber:client" type="result" id="mam1" to="alice@example.test/rec" from="alice@example.test"><fin xmlns="urn:xmpp:mam:2">\n <x/> </fin></iq></forwarded></delegation></iq>',
    );
  });

  it('the inner "to" and "from" are written back exactly as the server wrote the request', () => {
    const { c } = pendingCtx();
    const out = rebuilt(outbound(c, reply(innerReply({ to: 'Alice@Example.test/rec', from: 'ALICE@example.test' }))));
    expect(out).toContain('to="alice@example.test/rec" from="alice@example.test"');
  });

  it.each([
    ['payload', reply(innerReply().replace('</iq>', `<fin xmlns='${MAM}'/></iq>`))],
    ['payload', reply(innerReply({ type: 'error' }).replace('</iq>', '<x/></iq>'))],
    ['text', reply(innerReply()).replace('<forwarded', 'x<forwarded')],
    ['text', reply(innerReply()).replace('</forwarded>', 'x</forwarded>')],
    ['text', reply(innerReply().replace('</iq>', 'x</iq>'))],
    ['outer from', reply(innerReply()).replace("from='pubsub.example.test'", "from='pubsub.example.test/r'")],
    ['outer from', reply(innerReply()).replace("from='pubsub.example.test'", "from='bot@pubsub.example.test'")],
  ])('a reply the server would discard (%s): the user gets service-unavailable at once, in report mode too', (field, xml) => {
    const { c } = pendingCtx();
    const v = outbound(c, xml);
    expect(v).toMatchObject({ action: 'reject', reason: 'reply_shape', settle: { id: 'W1' }, audit: { field }, enforced: true });
    const inner = answerToServer(v).getChild('delegation')!.getChild('forwarded')!.getChild('iq')!;
    expect(inner.attrs).toMatchObject({ type: 'error', id: 'mam1', to: 'alice@example.test/rec' });
    expect(inner.getChild('error')!.getChild('service-unavailable')).toBeDefined();
  });

  it('puts back the inner "from" the component left out, as ejabberd requires', () => {
    const { c } = pendingCtx();
    const v = outbound(c, reply(innerReply({ from: null })));
    expect(v.action).toBe('rewrite');
    if (v.action !== 'rewrite') return;
    expect(v.stanza.getChild('delegation')!.getChild('forwarded')!.getChild('iq')!.attrs.from).toBe('alice@example.test');
  });

  it.each([
    ['id', reply(innerReply({ id: 'other' }))],
    ['to', reply(innerReply({ to: 'bob@example.test/rec' }))],
    ['from', reply(innerReply({ from: 'bob@example.test' }))],
    ['type', reply(innerReply({ type: 'set' }))],
    ['wrapper', `<iq type='result' id='W1' from='pubsub.example.test' to='example.test'><fin xmlns='${MAM}'/></iq>`],
    ['namespace', reply(innerReply(), { ns: 'urn:xmpp:delegation:1' })],
    ['outer to', reply(innerReply(), { to: 'other.test' })],
  ])('a reply with the wrong %s: the user gets service-unavailable at once, and the audit says which field', (field, xml) => {
    const { c } = pendingCtx();
    const v = outbound(c, xml);
    expect(v).toMatchObject({ action: 'reject', reason: 'reply_mismatch', settle: { id: 'W1' }, audit: { field } });
    const inner = answerToServer(v).getChild('delegation')!.getChild('forwarded')!.getChild('iq')!;
    expect(inner.attrs).toMatchObject({ type: 'error', id: 'mam1', to: 'alice@example.test/rec', from: 'alice@example.test' });
  });

  it('an outer error becomes the wrapped service-unavailable (ejabberd would relay it with the wrapper id)', () => {
    const { c } = pendingCtx();
    const v = outbound(c, `<iq type='error' id='W1' from='pubsub.example.test' to='example.test'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
    expect(v).toMatchObject({ reason: 'outer_error', settle: { id: 'W1' } });
    expect(answerToServer(v).attrs.type).toBe('result');
  });

  it('drops a reply to nothing pending (late or forged)', () => {
    expect(outbound(ctx(), reply(innerReply()))).toMatchObject({ action: 'drop', reason: 'unmatched_response', replies: [] });
  });

  it('refuses a delegation element in a request from the component (client mode, smuggling)', () => {
    const v = outbound(ctx(), `<iq type='set' id='c1' from='pubsub.example.test' to='example.test'><query xmlns='urn:xmpp:delegation:2' to='alice@example.test'><delegate namespace='${MAM}'/></query></iq>`);
    expect(v).toMatchObject({ action: 'reject', reason: 'misplaced_delegation' });
  });
});
