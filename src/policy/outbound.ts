/**
 * Decisions on what a component sends towards the server (DESIGN.md
 * "Decisions", reference/specs.md §6.3), after the addressing checks:
 *  - roster IQs to a managed bare JID (P1, XEP-0356 §4.3);
 *  - privileged messages `<privilege><forwarded><message>` (P2, XEP-0356 §5);
 *  - privileged IQs `<privileged_iq>` (P4, the six checks of XEP-0356 §6.3);
 *  - privilege elements anywhere else (P3).
 * Everything else passes untouched. Pure: a stanza and the session's grants in,
 * a Verdict out. Delegation replies (XEP-0355) are decided elsewhere.
 */
import type { Element } from '@xmpp/xml';
import { parseJid, type Jid, type JidResult } from '../protocol/jid.js';
import { NS, PRIVILEGE_NS, isReservedNamespace, delegationVersion, privilegeVersion, type PrivilegeVersion } from '../protocol/ns.js';
import { elementChildren, forwardedStanza, hasPrivilegeElement, privilegeChild } from '../protocol/privilege.js';
import { stanzaError } from '../protocol/stanzas.js';
import { listValue, type CompiledComponent, type CompiledPrivileges, type Rule } from './compile.js';
import { checkPubsubNodes } from './nodes.js';
import { checkRosterSetItems } from './roster-items.js';
import { decideDelegationReply, hasDelegationElement, isDelegationReply } from './delegation.js';
import type { EffectiveGrant } from './grants.js';
import { subscriptionOutOfScope } from './subscriptions.js';
import { pass, verdictBase, verdictText, type AuditInfo, type DelegatedIqTrack, type Reason, type Verdict } from './verdict.js';

export interface OutboundContext {
  component: CompiledComponent;
  /** Effective grants of the server domains that have advertised. */
  grants: ReadonlyMap<string, EffectiveGrant>;
  /** Ids of privileged IQs still waiting for the server. */
  isPending: (id: string) => boolean;
  /** No room for one more pending privileged IQ (limits.max_pending). */
  pendingFull: boolean;
  /** The delegated request forwarded to the component under this wrapper id. */
  delegationPending: (id: string) => DelegatedIqTrack | undefined;
  /** A wrapper id that was pending recently (its answer has been given). */
  delegationClosed: (id: string) => boolean;
}

type Condition = 'forbidden' | 'bad-request' | 'resource-constraint' | 'jid-malformed';
const ERROR_TYPE = { forbidden: 'auth', 'bad-request': 'modify', 'resource-constraint': 'wait', 'jid-malformed': 'modify' } as const;

type DenyOptions = { rule?: Rule | null; detail?: string; audit?: AuditInfo };

/** A denial answered to the component with a stanza error (or dropped, for errors and results). */
function deny(ctx: OutboundContext, el: Element, subject: string, reason: Reason, condition: Condition, opts: DenyOptions = {}): Verdict {
  const base = verdictBase(subject, reason, opts);
  const type = el.attrs.type as string | undefined;
  // RFC 6120 §8.3.1: never answer an error (or a result) with an error.
  if (type === 'error' || (el.name === 'iq' && type === 'result')) return { action: 'drop', ...base, replies: [] };
  const reply = stanzaError(el, ERROR_TYPE[condition], condition, verdictText(base), ctx.component.name);
  return { action: 'reject', ...base, replies: [{ to: 'component', stanza: reply }] };
}

/** The grant for `domain`, or why there is none. */
type Lookup = { ok: true; grant: EffectiveGrant; policy: CompiledPrivileges } | { ok: false; reason: Reason; rule: Rule | null };

function lookup(ctx: OutboundContext, domain: string): Lookup {
  const policy = ctx.component.privileges.get(domain);
  if (!policy) return { ok: false, reason: 'policy_denied', rule: { path: `${ctx.component.path}.privileges.${domain}`, value: 'absent' } };
  const grant = ctx.grants.get(domain);
  if (!grant) return { ok: false, reason: 'not_advertised', rule: null };
  return { ok: true, grant, policy };
}

function managedUser(to: string | undefined): Jid | undefined {
  if (to === undefined) return undefined;
  const r = parseJid(to);
  return r.ok && r.jid.local !== '' && r.jid.resource === '' ? r.jid : undefined;
}

/** Non-printable and non-ASCII characters as \\u escapes, so an audit line shows what the text holds. */
function visible(s: string): string {
  return s.replace(/[^\x21-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/**
 * A JID the server would read as another text than privguard judged
 * (DESIGN.md threat model: JID preparation): valid, but not in prepared form.
 * Returns what to say about it, or undefined when `raw` is absent, canonical
 * or invalid (invalid JIDs are judged where they are used).
 */
function nonCanonical(what: string, raw: string | undefined, parsed?: JidResult): { detail: string; jid: Jid } | undefined {
  if (raw === undefined) return undefined;
  const r: JidResult = parsed ?? parseJid(raw);
  if (!r.ok || r.canonical) return undefined;
  const prepared = r.jid.resource ? `${r.jid.bare}/${r.jid.resource}` : r.jid.bare;
  return { detail: `${what} "${visible(raw)}" is ${visible(prepared)} to the server`, jid: r.jid };
}

/** The audit action a stanza's decision would name (roster.get, iq.set, message.outgoing), for refusals made before it. */
function auditAction(el: Element): string {
  const type = el.attrs.type as string | undefined;
  if (el.name === 'iq' && (type === 'get' || type === 'set')) {
    if (privilegeChild(el, 'privileged_iq')) return `iq.${type}`;
    if (el.getChild('query', NS.roster)) return `roster.${type}`;
  }
  if (el.name === 'message' && privilegeChild(el)) return 'message.outgoing';
  return `stanza.${el.name}`;
}

/**
 * A decision's refusal before it is a Verdict: deny() makes it one on the
 * stanza (the error reply needs the stanza); the fast path gives the stanza
 * to the full path instead.
 */
export interface Refusal {
  action: 'refuse';
  reason: Reason;
  condition: Condition;
  opts: DenyOptions;
}

const refuse = (reason: Reason, condition: Condition, opts: DenyOptions): Refusal => ({ action: 'refuse', reason, condition, opts });

/** Refusal of a stanza naming a JID not in prepared form: jid-malformed, audited as non_canonical_jid. */
function refuseNonCanonical(found: { detail: string; jid: Jid }, audit: AuditInfo): Refusal {
  // The audit line names the user the server would have acted for.
  if (audit.user === undefined && found.jid.local !== '' && (audit.domain === undefined || audit.domain === found.jid.domain)) {
    audit.domain = found.jid.domain;
    audit.user = found.jid.local;
  }
  return refuse('non_canonical_jid', 'jid-malformed', { detail: found.detail, audit });
}

function denyNonCanonical(ctx: OutboundContext, el: Element, subject: string, found: { detail: string; jid: Jid }, audit: AuditInfo): Verdict {
  const r = refuseNonCanonical(found, audit);
  return deny(ctx, el, subject, r.reason, r.condition, r.opts);
}

/** Whether a direct child is a XEP-0356 or XEP-0355 element (one pass, the common case has none). */
function hasProtocolChild(el: Element): boolean {
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    const ns = c.getNS();
    if (privilegeVersion(ns) !== undefined || delegationVersion(ns) !== undefined) return true;
  }
  return false;
}

export function decideOutbound(ctx: OutboundContext, el: Element): Verdict {
  const type = el.attrs.type as string | undefined;
  // The server routes and authorises by the prepared JIDs: judge only those.
  const address = nonCanonical('"to"', el.attrs.to as string | undefined) ?? nonCanonical('"from"', el.attrs.from as string | undefined);
  if (address) {
    const v = denyNonCanonical(ctx, el, `<${el.name}>`, address, { action: auditAction(el) });
    // Forwarded, a "from" whose domain is not byte for byte the component's name
    // makes the server close the upstream (invalid-from): refused in report mode too.
    return v.action === 'reject' && nonCanonical('"from"', el.attrs.from as string | undefined) ? { ...v, enforced: true } : v;
  }
  // Messages and presences without a privilege or delegation element are nobody's business here.
  if (el.name !== 'iq' && !hasProtocolChild(el)) return pass(`<${el.name}>`);
  if (el.name === 'iq' && (type === 'result' || type === 'error')) {
    // Built only for a reply: a privileged message would make it for nothing.
    const replies = { pending: ctx.delegationPending, wasPending: ctx.delegationClosed, component: ctx.component.name };
    if (isDelegationReply(replies, el)) return decideDelegationReply(replies, el);
  }
  if (hasDelegationElement(el)) return deny(ctx, el, `<${el.name}>`, 'misplaced_delegation', 'forbidden');
  if (el.name === 'iq') {
    if (privilegeChild(el, 'privileged_iq')) return decidePrivilegedIq(ctx, el);
    if (hasPrivilegeElement(el)) return deny(ctx, el, `<iq>`, 'misplaced_privilege', 'forbidden');
    if ((type === 'get' || type === 'set') && el.getChild('query', NS.roster)) return decideRoster(ctx, el, type);
    return pass('<iq>');
  }
  if (el.name === 'message') {
    const wrapper = privilegeChild(el);
    if (wrapper) return decidePrivilegedMessage(ctx, el, wrapper);
    if (hasPrivilegeElement(el)) return deny(ctx, el, 'message', 'misplaced_privilege', 'forbidden');
    return pass('<message>');
  }
  if (hasPrivilegeElement(el)) return deny(ctx, el, 'presence', 'misplaced_privilege', 'forbidden');
  return pass(`<${el.name}>`);
}

/** P1 — XEP-0356 §4.3: a roster get/set on a managed user's behalf. */
function decideRoster(ctx: OutboundContext, el: Element, type: 'get' | 'set'): Verdict {
  const subject = `roster ${type}`;
  const user = managedUser(el.attrs.to as string | undefined);
  const audit: AuditInfo = { action: `roster.${type}` };
  if (!user) return deny(ctx, el, subject, 'not_managed_target', 'forbidden', { audit });
  audit.domain = user.domain;
  audit.user = user.local;
  const item = type === 'set' ? nonCanonicalItem(el) : undefined;
  if (item) return denyNonCanonical(ctx, el, subject, item, audit);
  const found = lookup(ctx, user.domain);
  if (!found.ok) return deny(ctx, el, subject, found.reason, 'forbidden', { rule: found.rule, audit });
  if (!found.grant.roster[type]) {
    if (!found.policy.roster[type]) {
      return deny(ctx, el, subject, 'policy_denied', 'forbidden', { rule: { path: `${found.policy.path}.roster`, value: found.policy.rosterValue }, audit });
    }
    return deny(ctx, el, subject, 'server_denied', 'forbidden', { audit });
  }
  const scope = found.policy.users.check(user.local);
  if (!scope.ok) return deny(ctx, el, subject, 'user_out_of_scope', 'forbidden', { rule: scope.rule, audit });
  const items = type === 'set' ? checkRosterItems(ctx, found.policy, user, el.getChild('query', NS.roster)!) : undefined;
  if (items) return deny(ctx, el, subject, items.reason, items.condition, { detail: items.detail, rule: items.rule, audit });
  if (type === 'set') {
    const refused = subscriptionOutOfScope(found.policy.rosterSubscription, el, { component: ctx.component.name, server: user.domain, self: user.bare });
    if (refused !== undefined) {
      const rule = { path: `${found.policy.path}.roster_subscription`, value: listValue(found.policy.rosterSubscription.entries) };
      return deny(ctx, el, subject, 'subscription_not_allowed', 'forbidden', { rule, detail: refused, audit });
    }
  }
  return pass(subject, audit);
}

/** roster_items on a roster set: every item in scope, or the whole set is refused. */
function checkRosterItems(ctx: OutboundContext, policy: CompiledPrivileges, user: Jid, query: Element): Extract<ContentCheck, { ok: false }> | undefined {
  const { scope, rule } = policy.rosterItems;
  if (scope.any) return undefined;
  const sc = { component: ctx.component.name, server: user.domain, self: user.bare };
  const r = checkRosterSetItems(query, (jid) => scope.matches(jid, sc));
  if (r.ok) return undefined;
  return r.malformed
    ? { ok: false, reason: 'bad_structure', condition: 'bad-request', detail: r.detail, rule: null }
    : { ok: false, reason: 'out_of_scope', condition: 'forbidden', detail: r.detail, rule };
}

/** The first roster item whose jid the server would prepare to another text. */
function nonCanonicalItem(el: Element): { detail: string; jid: Jid } | undefined {
  const query = el.getChild('query', NS.roster);
  for (const item of query ? elementChildren(query) : []) {
    const found = item.name === 'item' ? nonCanonical('the roster item', item.attrs.jid as string | undefined) : undefined;
    if (found) return found;
  }
  return undefined;
}

/**
 * What the privileged-message decision reads of a stanza, and nothing else:
 * the tree path (decideOutbound) and the fast path (policy/framed.ts, from
 * the framer's marks) fill it in and get the same decision.
 */
export interface PrivilegedMessage {
  /** The outer "to". */
  to: string | undefined;
  /** The version of the <privilege/> wrapper's namespace. */
  version: PrivilegeVersion;
  /** The forwarded stanza (XEP-0297 structure checked: protocol/privilege.ts), or what is wrong with the wrapper. */
  inner: { name: string; ns: string | undefined; from: string | undefined; to: string | undefined } | { problem: string };
}

const PRIVILEGED_MESSAGE = 'privileged message';

/** P2 — XEP-0356 §5 on a parsed stanza. */
function decidePrivilegedMessage(ctx: OutboundContext, el: Element, wrapper: { el: Element; version: PrivilegeVersion }): Verdict {
  const fwd = forwardedStanza(wrapper.el);
  const inner = fwd.ok
    ? { name: fwd.stanza.name, ns: fwd.stanza.getNS(), from: fwd.stanza.attrs.from as string | undefined, to: fwd.stanza.attrs.to as string | undefined }
    : { problem: fwd.problem };
  const v = judgePrivilegedMessage(ctx, { to: el.attrs.to as string | undefined, version: wrapper.version, inner });
  return v.action === 'refuse' ? deny(ctx, el, PRIVILEGED_MESSAGE, v.reason, v.condition, v.opts) : v;
}

/** P2 — XEP-0356 §5: a message sent as the server or a managed user. A pass, or why not. */
export function judgePrivilegedMessage(ctx: OutboundContext, m: PrivilegedMessage): Verdict | Refusal {
  const audit: AuditInfo = { action: 'message.outgoing' };
  const to = parseJid(m.to ?? '');
  // Both servers act only on a message to the bare server domain.
  if (!to.ok || to.jid.local !== '' || to.jid.resource !== '') {
    return refuse('not_managed_target', 'forbidden', { detail: 'the outer "to" must be the server domain', audit });
  }
  const domain = to.jid.domain;
  audit.domain = domain;
  const found = lookup(ctx, domain);
  if (!found.ok) return refuse(found.reason, 'forbidden', { rule: found.rule, audit });
  if (found.grant.message !== 'outgoing') {
    if (found.policy.message !== 'outgoing') {
      return refuse('policy_denied', 'forbidden', { rule: { path: `${found.policy.path}.message`, value: found.policy.message }, audit });
    }
    return refuse('server_denied', 'forbidden', { audit });
  }
  if (m.version !== found.grant.version) {
    return refuse('privilege_version', 'forbidden', { detail: `the server speaks ${PRIVILEGE_NS[found.grant.version]}`, audit });
  }
  const inner = m.inner;
  if ('problem' in inner) return refuse('bad_structure', 'bad-request', { detail: inner.problem, audit });
  if (inner.name !== 'message') return refuse('bad_structure', 'bad-request', { detail: 'the forwarded stanza must be a message', audit });
  if (inner.ns !== NS.client) return refuse('wrong_inner_namespace', 'bad-request', { audit });
  // Each JID parsed once (the parse is cached, but a lookup hashes the string: this runs for every privileged message).
  const innerFrom = parseJid(inner.from ?? '');
  const target = inner.to === undefined ? undefined : parseJid(inner.to);
  const innerAlias = nonCanonical('the inner "from"', inner.from, innerFrom) ?? nonCanonical('the inner "to"', inner.to, target);
  if (innerAlias) return refuseNonCanonical(innerAlias, audit);
  // XEP-0356 §5.1: a bare JID of the server; strict like ejabberd: of this very domain.
  if (!innerFrom.ok || innerFrom.jid.resource !== '' || innerFrom.jid.domain !== domain) {
    return refuse('bad_inner_from', 'forbidden', { detail: `it must be ${domain} or a bare JID of it`, audit });
  }
  if (target === undefined || !target.ok) {
    return refuse('bad_structure', 'bad-request', { detail: 'the forwarded message needs a valid "to"', audit });
  }
  if (innerFrom.jid.local !== '') {
    audit.user = innerFrom.jid.local;
    const scope = found.policy.users.check(innerFrom.jid.local);
    if (!scope.ok) return refuse('user_out_of_scope', 'forbidden', { rule: scope.rule, audit });
  }
  // message_to: whom the component may write to as this user.
  const { scope, rule } = found.policy.messageTo;
  // `any` (the default) matches without the context object: none is built per message then.
  if (!scope.any && !scope.matches(target.jid, { component: ctx.component.name, server: domain, self: innerFrom.jid.bare })) {
    return refuse('out_of_scope', 'forbidden', { detail: `to ${target.jid.bare}`, rule, audit });
  }
  return pass(PRIVILEGED_MESSAGE, audit);
}

type ContentCheck = { ok: true } | { ok: false; reason: Reason; condition: Condition; detail: string; rule: Rule | null };

/**
 * The long form's scopes (`iq.<ns>`: { to, nodes }): the inner "to" (absent:
 * the user's own account, which is `self`) and, for pubsub, the nodes named.
 */
function checkIqContent(ctx: OutboundContext, policy: CompiledPrivileges, user: Jid, inner: Element, ns: string, payload: Element): ContentCheck {
  const entry = policy.iq.get(ns);
  if (!entry) return { ok: true };
  const rawTo = inner.attrs.to as string | undefined;
  const to = rawTo === undefined ? undefined : parseJid(rawTo);
  if (to !== undefined && !to.ok) return { ok: false, reason: 'bad_structure', condition: 'bad-request', detail: 'the inner iq has a malformed "to"', rule: null };
  const target = to?.jid ?? user;
  if (!entry.to.scope.any && !entry.to.scope.matches(target, { component: ctx.component.name, server: user.domain, self: user.bare })) {
    return { ok: false, reason: 'out_of_scope', condition: 'forbidden', detail: `to ${target.bare}`, rule: entry.to.rule };
  }
  if (entry.nodes) {
    const nodes = checkPubsubNodes(entry.nodes, payload);
    if (!nodes.ok) return { ok: false, reason: 'out_of_scope', condition: 'forbidden', detail: nodes.detail, rule: entry.nodes.rule };
  }
  // The roster reached through the iq right is the same roster: the same
  // checks as a direct roster set (prepared item JIDs, roster_subscription,
  // roster_items), or the iq right would be a way around them.
  if (payload.name === 'query' && ns === NS.roster && inner.attrs.type === 'set') {
    const bad = nonCanonicalItem(inner);
    if (bad) return { ok: false, reason: 'non_canonical_jid', condition: 'jid-malformed', detail: bad.detail, rule: null };
    const refused = subscriptionOutOfScope(policy.rosterSubscription, inner, { component: ctx.component.name, server: user.domain, self: user.bare });
    if (refused !== undefined) {
      const rule = { path: `${policy.path}.roster_subscription`, value: listValue(policy.rosterSubscription.entries) };
      return { ok: false, reason: 'subscription_not_allowed', condition: 'forbidden', detail: refused, rule };
    }
    return checkRosterItems(ctx, policy, user, payload) ?? { ok: true };
  }
  return { ok: true };
}

/** P4 — XEP-0356 §6.3: an IQ sent on a managed user's behalf. */
function decidePrivilegedIq(ctx: OutboundContext, el: Element): Verdict {
  const outerType = el.attrs.type as string | undefined;
  const subject = `privileged iq${outerType === 'get' || outerType === 'set' ? ` ${outerType}` : ''}`;
  const audit: AuditInfo = { action: `iq.${outerType ?? 'unknown'}` };
  if (outerType !== 'get' && outerType !== 'set') {
    return deny(ctx, el, subject, 'misplaced_privilege', 'bad-request', { detail: 'only get and set can be privileged', audit });
  }
  // (a) the top-level "to" is the bare JID of a managed entity
  const user = managedUser(el.attrs.to as string | undefined);
  if (!user) return deny(ctx, el, subject, 'not_managed_target', 'forbidden', { audit });
  audit.domain = user.domain;
  audit.user = user.local;
  const found = lookup(ctx, user.domain);
  if (!found.ok) return deny(ctx, el, subject, found.reason, 'forbidden', { rule: found.rule, audit });
  const wrapper = privilegeChild(el, 'privileged_iq')!;
  if (found.grant.version < 2 || wrapper.version < 2) {
    return deny(ctx, el, subject, 'privilege_version', 'forbidden', {
      detail: `${PRIVILEGE_NS[found.grant.version]} has no iq permission`,
      audit,
    });
  }
  if (elementChildren(el).length !== 1) return deny(ctx, el, subject, 'bad_structure', 'bad-request', { detail: 'the iq must hold only <privileged_iq/>', audit });
  const kids = elementChildren(wrapper.el);
  if (kids.length !== 1 || kids[0]!.name !== 'iq') {
    return deny(ctx, el, subject, 'bad_structure', 'bad-request', { detail: '<privileged_iq/> must hold exactly one <iq/>', audit });
  }
  const inner = kids[0]!;
  // (d) the encapsulated IQ is jabber:client
  if (inner.getNS() !== NS.client) return deny(ctx, el, subject, 'wrong_inner_namespace', 'forbidden', { audit });
  // (f) the types match
  if (inner.attrs.type !== outerType) return deny(ctx, el, subject, 'type_mismatch', 'forbidden', { audit });
  if (inner.attrs.id === undefined) return deny(ctx, el, subject, 'bad_structure', 'bad-request', { detail: 'the inner iq needs an id', audit });
  const innerAlias = nonCanonical('the inner "from"', inner.attrs.from as string | undefined) ?? nonCanonical('the inner "to"', inner.attrs.to as string | undefined);
  if (innerAlias) return denyNonCanonical(ctx, el, subject, innerAlias, audit);
  // (e) the encapsulated "from" is absent or the managed entity itself
  const innerFromRaw = inner.attrs.from as string | undefined;
  if (innerFromRaw !== undefined) {
    const innerFrom = parseJid(innerFromRaw);
    if (!innerFrom.ok || innerFrom.jid.resource !== '' || innerFrom.jid.bare !== user.bare) {
      return deny(ctx, el, subject, 'bad_inner_from', 'forbidden', { detail: `it must be absent or ${user.bare}`, audit });
    }
  }
  const payload = elementChildren(inner);
  const ns = payload.length === 1 ? payload[0]!.getNS() : undefined;
  if (ns === undefined) return deny(ctx, el, subject, 'bad_structure', 'bad-request', { detail: 'the inner iq needs exactly one payload', audit });
  audit.namespace = ns;
  if (isReservedNamespace(ns) || privilegeVersion(ns) !== undefined) {
    return deny(ctx, el, subject, 'reserved_namespace', 'forbidden', { detail: ns, audit });
  }
  // (b) and (c): namespace and type granted
  const type = outerType;
  if (!found.grant.iq.get(ns)?.[type]) {
    const p = found.policy.iq.get(ns);
    if (!p?.rw[type]) {
      const rule = p ? { path: `${found.policy.path}.iq.${ns}`, value: p.value } : { path: `${found.policy.path}.iq`, value: `no entry for ${ns}` };
      return deny(ctx, el, subject, 'policy_denied', 'forbidden', { rule, audit });
    }
    return deny(ctx, el, subject, 'server_denied', 'forbidden', { detail: ns, audit });
  }
  const scope = found.policy.users.check(user.local);
  if (!scope.ok) return deny(ctx, el, subject, 'user_out_of_scope', 'forbidden', { rule: scope.rule, audit });
  const content = checkIqContent(ctx, found.policy, user, inner, ns, payload[0]!);
  if (!content.ok) return deny(ctx, el, subject, content.reason, content.condition, { detail: content.detail, rule: content.rule, audit });
  const id = el.attrs.id as string | undefined;
  if (id === undefined) return deny(ctx, el, subject, 'bad_structure', 'bad-request', { detail: 'the iq needs an id', audit });
  if (ctx.isPending(id)) return deny(ctx, el, subject, 'duplicate_id', 'bad-request', { audit });
  if (ctx.pendingFull) return deny(ctx, el, subject, 'pending_full', 'resource-constraint', { audit });
  return pass(subject, audit, { kind: 'privileged_iq', id, domain: user.domain, user: user.bare });
}
