/**
 * XEP-0355 decisions (reference/specs.md §5, §6 rows S2–S4, P5–P7):
 *  - delegation advertisements from a server domain, additive per domain,
 *    rewritten to the effective delegations (server ∩ policy);
 *  - delegated IQs: forwarded to the component only for an effectively
 *    delegated namespace with every required attribute present; otherwise
 *    privguard answers the server itself, so the user gets service-unavailable;
 *  - the server's disco nesting queries: answered item-not-found for
 *    namespaces the policy does not delegate (decided on the policy alone,
 *    because ejabberd delegates only after a successful answer);
 *  - the component's replies: only for a pending request, with id, to, from
 *    and type as XEP-0355 §4.3 requires, in a shape Prosody's mod_delegation
 *    accepts (rebuilt from the judged parts); anything else gets the user
 *    service-unavailable at once.
 * Pure: stanzas and state in, a Verdict out.
 */
import type { Element } from '@xmpp/xml';
import { buildDelegationAdvertisement, buildDelegationReply, delegationChild, delegationKeys, delegationReplyShape, forwardedIq, nestingNode, parseDelegationAdvertisement, wrappedError, type Delegated } from '../protocol/delegation.js';
import { parseJid, type Jid } from '../protocol/jid.js';
import { DELEGATION_NS, DISCO } from '../protocol/ns.js';
import { elementChildren } from '../protocol/privilege.js';
import { stanzaError } from '../protocol/stanzas.js';
import type { CompiledComponent, CompiledDelegation, Rule } from './compile.js';
import { pass, verdictBase, type AuditInfo, type DelegatedIqTrack, type Reason, type Verdict } from './verdict.js';

/** What the server has delegated so far on this connection: domain → namespace → its attributes. */
export type ServerDelegations = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

export interface DelegationContext {
  component: CompiledComponent;
  server: ServerDelegations;
}

function bareDomain(raw: string | undefined): string | undefined {
  const j = parseJid(raw ?? '');
  return j.ok && j.jid.local === '' && j.jid.resource === '' ? j.jid.domain : undefined;
}

/** A server domain the policy names for this component (privileges or delegations). */
function knownDomain(component: CompiledComponent, domain: string | undefined): boolean {
  return domain !== undefined && (component.delegations.has(domain) || component.privileges.has(domain));
}

/** The effective delegation of `ns` from `domain`: the server's and the policy's, attributes united. */
export function effectiveDelegation(ctx: DelegationContext, domain: string, ns: string): (CompiledDelegation & { required: string[] }) | undefined {
  const policy = ctx.component.delegations.get(domain)?.get(ns);
  const server = ctx.server.get(domain)?.get(ns);
  if (!policy || !server) return undefined;
  return { ...policy, required: [...new Set([...server, ...policy.attributes])] };
}

// ── advertisements (S2) ──────────────────────────────────────────────────

export function decideDelegationAdvertisement(ctx: DelegationContext, el: Element): Verdict {
  const subject = 'delegation advertisement';
  const audit: AuditInfo = { action: 'advertise' };
  const domain = bareDomain(el.attrs.from as string | undefined);
  const adv = parseDelegationAdvertisement(el);
  if (domain === undefined || !adv) {
    return { action: 'drop', reason: 'forged_advertisement', rule: null, subject, detail: `from ${String(el.attrs.from)}`, audit, replies: [] };
  }
  audit.domain = domain;
  const policy = ctx.component.delegations.get(domain);
  if (!policy) {
    const rule = { path: `${ctx.component.path}.delegations.${domain}`, value: 'absent' };
    return { action: 'drop', reason: 'unconfigured_domain', rule, subject, audit, replies: [], learn: { domain, delegated: adv.delegated } };
  }
  const effective: Delegated = new Map();
  for (const [ns, attrs] of adv.delegated) {
    const p = policy.get(ns);
    if (p) effective.set(ns, [...new Set([...attrs, ...p.attributes])]);
  }
  const learn = { domain, delegated: adv.delegated };
  if (effective.size === 0) return { action: 'drop', reason: 'nothing_delegated', rule: null, subject, audit, replies: [], learn };
  const stanza = buildDelegationAdvertisement(domain, ctx.component.name, effective, adv.version, el.attrs.id as string | undefined);
  return { action: 'rewrite', reason: 'advertise', rule: null, subject, stanza, audit, learn };
}

// ── delegated IQs (S3) ───────────────────────────────────────────────────

export interface DelegatedIqContext extends DelegationContext {
  isPending: (id: string) => boolean;
  pendingFull: boolean;
}

/** Answer the server for the component: a wrapped error with the user's id (see wrappedError). */
function refuse(
  subject: string,
  reason: Reason,
  request: Element,
  inner: Element,
  version: 1 | 2,
  opts: { rule?: Rule | null; detail?: string; audit: AuditInfo; track?: DelegatedIqTrack; condition?: 'service-unavailable' | 'resource-constraint' },
): Verdict {
  return {
    action: 'reject',
    ...verdictBase(subject, reason, opts),
    replies: [{ to: 'server', stanza: wrappedError(request, inner, version, opts.condition ?? 'service-unavailable') }],
    ...(opts.track ? { track: opts.track } : {}),
  };
}

export function decideDelegatedIq(ctx: DelegatedIqContext, el: Element): Verdict {
  const subject = 'delegated iq';
  const audit: AuditInfo = { action: 'delegation.forward' };
  const domain = bareDomain(el.attrs.from as string | undefined);
  const type = el.attrs.type as string | undefined;
  if (!knownDomain(ctx.component, domain)) {
    // XEP-0297 §7.2: only a server domain forwards; to anyone else the component
    // looks as if it did not support the request.
    const reply = stanzaError(el, 'cancel', 'service-unavailable');
    return { action: 'reject', reason: 'forged_delegation', rule: null, subject, detail: `from ${String(el.attrs.from)}`, audit, replies: [{ to: 'server', stanza: reply }] };
  }
  audit.domain = domain;
  if (type === 'result' || type === 'error') return { action: 'drop', reason: 'misplaced_delegation', rule: null, subject, audit, replies: [] };
  const fwd = forwardedIq(el);
  const badRequest = (detail: string): Verdict => ({
    action: 'reject',
    reason: 'bad_structure',
    rule: null,
    subject,
    detail,
    audit,
    replies: [{ to: 'server', stanza: stanzaError(el, 'modify', 'bad-request', `privguard: delegated iq is malformed (${detail})`) }],
  });
  if (type !== 'set') return badRequest('a delegated iq is of type set');
  if (!fwd.ok) return badRequest(fwd.problem);
  const inner = fwd.iq;
  const innerType = inner.attrs.type as string | undefined;
  if ((innerType !== 'get' && innerType !== 'set') || inner.attrs.id === undefined) return badRequest('the forwarded iq must be a get or set with an id');
  const requester = parseJid((inner.attrs.from as string | undefined) ?? '');
  if (requester.ok && requester.jid.local !== '') {
    audit.user = requester.jid.local;
    if (requester.jid.domain !== domain) audit.user = requester.jid.bare;
  }
  const keys = delegationKeys(inner, fwd.version);
  audit.namespace = keys[0];
  const id = el.attrs.id as string | undefined;
  if (id === undefined) return badRequest('the iq needs an id');
  let found: (CompiledDelegation & { required: string[] }) | undefined;
  for (const k of keys) {
    found = effectiveDelegation(ctx, domain!, k);
    if (found) break;
  }
  const track: DelegatedIqTrack = { kind: 'delegated_iq', id, domain: domain!, version: fwd.version, namespace: found?.namespace ?? keys[0] ?? '', request: el, inner };
  const innerTo = inner.attrs.to as string | undefined;
  if (innerTo !== undefined) {
    const t = parseJid(innerTo);
    if (t.ok && t.jid.resource !== '') return refuse(subject, 'not_bare_target', el, inner, fwd.version, { audit, track });
  }
  if (!found) {
    const policy = ctx.component.delegations.get(domain!);
    const inPolicy = keys.some((k) => policy?.has(k));
    const rule = inPolicy ? null : { path: `${ctx.component.path}.delegations.${domain!}`, value: `no entry for ${keys[0] ?? '(no payload)'}` };
    return refuse(subject, 'not_delegated', el, inner, fwd.version, { rule, audit, track, ...(inPolicy ? { detail: 'the server has not delegated it' } : {}) });
  }
  audit.namespace = found.namespace;
  const payload = elementChildren(inner)[0]!;
  const missing = found.required.filter((a) => payload.attrs[a] === undefined);
  if (missing.length > 0) {
    const rule = { path: `${found.path}.attributes`, value: JSON.stringify(found.attributes) };
    return refuse(subject, 'missing_attribute', el, inner, fwd.version, { rule, detail: missing.join(', '), audit, track });
  }
  if (ctx.isPending(id)) return refuse(subject, 'duplicate_id', el, inner, fwd.version, { audit });
  if (ctx.pendingFull) return refuse(subject, 'pending_full', el, inner, fwd.version, { audit, track, condition: 'resource-constraint' });
  return pass(subject, audit, track);
}

// ── disco nesting (S4) ───────────────────────────────────────────────────

/** A disco#info query of the server on `urn:xmpp:delegation:N::NS` / `:bare:NS`, or undefined if this is none. */
export function isNestingQuery(el: Element): boolean {
  if (el.name !== 'iq' || el.attrs.type !== 'get') return false;
  const q = el.getChild('query', DISCO.info);
  return q !== undefined && nestingNode(q.attrs.node as string | undefined) !== undefined;
}

export function decideNestingQuery(ctx: DelegationContext, el: Element): Verdict {
  const subject = 'disco nesting query';
  const node = nestingNode(el.getChild('query', DISCO.info)!.attrs.node as string)!;
  const domain = bareDomain(el.attrs.from as string | undefined);
  const audit: AuditInfo = { action: 'delegation.disco', namespace: node.namespace, ...(domain ? { domain } : {}) };
  if (domain !== undefined && ctx.component.delegations.get(domain)?.has(node.namespace)) return pass(subject, audit);
  const rule = domain !== undefined ? { path: `${ctx.component.path}.delegations.${domain}`, value: `no entry for ${node.namespace}` } : null;
  const reply = stanzaError(el, 'cancel', 'item-not-found');
  return { action: 'reject', reason: 'not_delegated', rule, subject, audit, replies: [{ to: 'server', stanza: reply }] };
}

// ── the component's replies (P5, P6) ─────────────────────────────────────

export interface ReplyContext {
  /** The delegated request forwarded under this wrapper id, if still pending. */
  pending: (id: string) => DelegatedIqTrack | undefined;
  /** True for a wrapper id that was pending recently (answered or timed out). */
  wasPending: (id: string) => boolean;
  /** The component's name: the only outer "from" the server matches a reply by. */
  component: string;
}

function sameJid(a: Jid, b: Jid): boolean {
  return a.bare === b.bare && a.resource === b.resource;
}

/** Whether this result/error from the component answers (or pretends to answer) a delegated request. */
export function isDelegationReply(ctx: ReplyContext, el: Element): boolean {
  const id = el.attrs.id as string | undefined;
  return delegationChild(el) !== undefined || (id !== undefined && (ctx.pending(id) !== undefined || ctx.wasPending(id)));
}

export function decideDelegationReply(ctx: ReplyContext, el: Element): Verdict {
  const subject = 'delegation reply';
  const id = el.attrs.id as string | undefined;
  const track = id === undefined ? undefined : ctx.pending(id);
  const audit: AuditInfo = { action: 'delegation.reply' };
  if (!track) {
    return { action: 'drop', reason: 'unmatched_response', rule: null, subject, detail: 'late, forged or for another connection', audit, replies: [] };
  }
  audit.domain = track.domain;
  audit.namespace = track.namespace;
  const requester = parseJid((track.inner.attrs.from as string | undefined) ?? '');
  if (requester.ok && requester.jid.local !== '') audit.user = requester.jid.domain === track.domain ? requester.jid.local : requester.jid.bare;
  const settle = { kind: 'delegated_iq' as const, id: track.id };
  const mismatch = (reason: Reason, field: string): Verdict => ({
    action: 'reject',
    reason,
    rule: null,
    subject,
    detail: field,
    audit: { ...audit, field },
    settle,
    replies: [{ to: 'server', stanza: wrappedError(track.request, track.inner, track.version, 'service-unavailable') }],
    // Forwarded as it is (report mode), the server would not answer the user.
    enforced: true,
  });
  if (bareDomain(el.attrs.to as string | undefined) !== track.domain) return mismatch('reply_mismatch', 'outer to');
  // Prosody finds the request by the outer "from" as written: only the JID it
  // delegated to (the component's bare domain) finds it.
  if (el.attrs.from !== ctx.component) return mismatch('reply_shape', 'outer from');
  if (el.attrs.type === 'error') return mismatch('outer_error', 'outer type');
  const shape = delegationReplyShape(el);
  if (!shape.ok) return shape.field === 'wrapper' ? mismatch('reply_mismatch', 'wrapper') : mismatch('reply_shape', shape.field);
  if (shape.version !== track.version) return mismatch('reply_mismatch', 'namespace');
  const inner = shape.iq;
  const type = inner.attrs.type as string | undefined;
  if (type !== 'result' && type !== 'error') return mismatch('reply_mismatch', 'type');
  if (type === 'error' && !inner.getChild('error')) return mismatch('reply_mismatch', 'type');
  const innerId = track.inner.attrs.id as string;
  if (inner.attrs.id !== innerId) return mismatch('reply_mismatch', 'id');
  const to = parseJid((inner.attrs.to as string | undefined) ?? '');
  if (!requester.ok || !to.ok || !sameJid(to.jid, requester.jid)) return mismatch('reply_mismatch', 'to');
  const originalTo = track.inner.attrs.to as string | undefined;
  const innerFrom = inner.attrs.from as string | undefined;
  if (innerFrom !== undefined) {
    const f = parseJid(innerFrom);
    const expected = parseJid(originalTo ?? requester.jid.bare);
    if (!f.ok || !expected.ok || !sameJid(f.jid, expected.jid)) return mismatch('reply_mismatch', 'from');
  }
  // Rebuilt from what was judged, in the form the server compares byte for
  // byte: the inner "to" is the requester's JID as the server wrote it, the
  // inner "from" the request's "to" (ejabberd wants the exact swap).
  const attrs: Record<string, string> = { type, id: innerId, to: track.inner.attrs.from as string };
  const from = originalTo ?? innerFrom;
  if (from !== undefined) attrs.from = from;
  const stanza = buildDelegationReply(track.request, track.version, attrs, shape.payload);
  return { action: 'rewrite', reason: 'ok', rule: null, subject, stanza, audit, settle };
}

/** Any delegation element in a request from the component (client mode, smuggling) is refused. */
export function hasDelegationElement(el: Element): boolean {
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    const ns = c.getNS();
    if (ns === DELEGATION_NS[1] || ns === DELEGATION_NS[2]) return true;
  }
  return false;
}
