/**
 * Decisions on what the server sends a component (reference/specs.md §6.4):
 *  - privilege advertisements (S1): only from a server domain the policy
 *    names, rewritten to the effective rights; anything else carrying a
 *    privilege element is forged and dropped (threat model 6);
 *  - privileged-IQ responses (S7): only for a pending request, from its user;
 *  - roster pushes (S5): only with roster read, push and the user in scope,
 *    else privguard answers the server itself;
 *  - privilege-derived presence (S8): only with the presence grant and the
 *    user in scope, else dropped silently. Presence the server routes because
 *    of a subscription passes: all of it where the server grants no presence
 *    privilege, and, where it does, what privguard has seen a subscription
 *    for (policy/subscriptions.ts).
 * Everything else passes untouched.
 */
import type { Element } from '@xmpp/xml';
import { parseJid, type Jid } from '../protocol/jid.js';
import { NS } from '../protocol/ns.js';
import { buildAdvertisement, forwardedStanza, hasPrivilegeElement, parseAdvertisement, privilegeChild } from '../protocol/privilege.js';
import { iqResult } from '../protocol/stanzas.js';
import type { CompiledComponent } from './compile.js';
import { decideDelegatedIq, decideDelegationAdvertisement, decideNestingQuery, hasDelegationElement, isNestingQuery, type ServerDelegations } from './delegation.js';
import { effectiveGrant, type EffectiveGrant } from './grants.js';
import { filterRosterQuery, replaceAlong } from './roster-items.js';
import type { SubscriptionView } from './subscriptions.js';
import { pass, verdictBase, type AuditInfo, type Reason, type Rule, type Verdict } from './verdict.js';

export interface InboundContext {
  component: CompiledComponent;
  grants: ReadonlyMap<string, EffectiveGrant>;
  /** The managed user's bare JID a pending privileged IQ with this id was sent to. */
  pendingUser: (id: string) => string | undefined;
  /** The same, for a privileged IQ privguard already answered with a timeout. */
  expiredUser: (id: string) => string | undefined;
  /** What the server has delegated so far on this connection. */
  delegations: ServerDelegations;
  isDelegationPending: (id: string) => boolean;
  delegationPendingFull: boolean;
  /** The subscriptions privguard has seen (absent: none known). */
  subscriptions?: SubscriptionView;
}

function drop(subject: string, reason: Reason, opts: { rule?: Rule | null; detail?: string; audit?: AuditInfo; replies?: Element[] } = {}): Verdict {
  return {
    action: 'drop',
    ...verdictBase(subject, reason, opts),
    replies: (opts.replies ?? []).map((stanza) => ({ to: 'server' as const, stanza })),
  };
}

export function decideInbound(ctx: InboundContext, el: Element): Verdict {
  const type = el.attrs.type as string | undefined;
  const deleg = { component: ctx.component, server: ctx.delegations };
  if (el.name === 'message' && hasDelegationElement(el)) return decideDelegationAdvertisement(deleg, el);
  if (el.name === 'message' && hasPrivilegeElement(el)) return decideAdvertisement(ctx, el);
  if (el.name === 'iq' && hasDelegationElement(el)) {
    return decideDelegatedIq({ ...deleg, isPending: ctx.isDelegationPending, pendingFull: ctx.delegationPendingFull }, el);
  }
  if (el.name === 'iq' && isNestingQuery(el)) return decideNestingQuery(deleg, el);
  if (el.name === 'iq') {
    const id = el.attrs.id as string | undefined;
    if (type === 'result' || type === 'error') {
      const user = id === undefined ? undefined : ctx.pendingUser(id);
      if (user !== undefined) {
        const v = decidePrivilegedResponse(el, user);
        return v.action === 'pass' ? (filterPrivilegedRoster(ctx, el) ?? v) : v;
      }
      const late = id === undefined ? undefined : ctx.expiredUser(id);
      if (late !== undefined && parseJid((el.attrs.from as string | undefined) ?? '').ok) {
        const from = parseJid(el.attrs.from as string);
        if (from.ok && from.jid.bare === late) {
          return drop('privileged iq response', 'unmatched_response', { detail: 'it came after the deadline', audit: { action: 'iq.response' } });
        }
      }
      if (hasPrivilegeElement(el)) return drop('privileged iq response', 'unmatched_response', { audit: { action: 'iq.response' } });
      if (type === 'result' && el.getChild('query', NS.roster)) return filterRosterResult(ctx, el) ?? pass('<iq>');
      return pass('<iq>');
    }
    if ((type === 'get' || type === 'set') && id !== undefined && hasPrivilegeElement(el)) {
      const user = ctx.pendingUser(id);
      if (user !== undefined && isLoopedRequest(el, user)) {
        return { ...drop('privileged iq', 'looped_request', { audit: { action: `iq.${type}` } }), settle: { kind: 'privileged_iq', id } };
      }
    }
    if (type === 'set' && el.getChild('query', NS.roster)) return decideRosterPush(ctx, el);
    return pass('<iq>');
  }
  if (el.name === 'presence' && (type === undefined || type === 'unavailable')) return decidePresence(ctx, el);
  return pass(`<${el.name}>`);
}

/** S1 — XEP-0356 §4.2, XEP-0297 §7.2: trust an advertisement only from a named server domain. */
function decideAdvertisement(ctx: InboundContext, el: Element): Verdict {
  const subject = 'privilege advertisement';
  const audit: AuditInfo = { action: 'advertise' };
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  const adv = privilegeChild(el) ? parseAdvertisement(el) : undefined;
  if (!from.ok || from.jid.local !== '' || from.jid.resource !== '' || !adv) {
    return drop(subject, 'forged_advertisement', { detail: `from ${String(el.attrs.from)}`, audit });
  }
  const domain = from.jid.domain;
  audit.domain = domain;
  const policy = ctx.component.privileges.get(domain);
  if (!policy) {
    return drop(subject, 'unconfigured_domain', {
      rule: { path: `${ctx.component.path}.privileges.${domain}`, value: 'absent' },
      audit,
    });
  }
  const { grant, wider } = effectiveGrant(domain, adv, policy);
  const rewritten = buildAdvertisement(domain, ctx.component.name, grant, adv.version, el.attrs.id as string | undefined);
  return { action: 'rewrite', reason: 'advertise', rule: null, subject, stanza: rewritten, grant, wider, audit };
}

/**
 * ejabberd 24.10 to 25.02 (#4347, fixed in 25.03) route a privileged IQ whose
 * target is the user's own bare JID back to the component as the request
 * itself, wrapped like an answer (`<privilege><forwarded><iq type=get|set>`),
 * with the request's id, from the user: no answer ever follows. It is the
 * component's own request, not a new one: the link answers the pending request
 * and the copy goes no further.
 */
function isLoopedRequest(el: Element, user: string): boolean {
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  if (!from.ok || from.jid.bare !== user || from.jid.resource !== '') return false;
  const wrapper = privilegeChild(el);
  if (!wrapper) return false;
  const fwd = forwardedStanza(wrapper.el);
  return fwd.ok && fwd.stanza.name === 'iq' && fwd.stanza.attrs.type === el.attrs.type;
}

/** S7 — XEP-0356 §6.3: the answer to a pending privileged IQ must come from its user. */
function decidePrivilegedResponse(el: Element, user: string): Verdict {
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  const audit: AuditInfo = { action: 'iq.response' };
  if (!from.ok || from.jid.bare !== user || from.jid.resource !== '') {
    return drop('privileged iq response', 'unmatched_response', { detail: `expected from ${user}`, audit });
  }
  return pass('privileged iq response');
}

/** S5 — XEP-0356 §4.4: roster pushes only with roster read and push, for users in scope. */
function decideRosterPush(ctx: InboundContext, el: Element): Verdict {
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  // RFC 6121 §2.1.6: a push from anything but a managed bare JID is no privilege push.
  if (!from.ok || from.jid.local === '' || from.jid.resource !== '') return pass('<iq>');
  const policy = ctx.component.privileges.get(from.jid.domain);
  if (!policy) return pass('<iq>');
  const subject = 'roster push';
  const audit: AuditInfo = { action: 'roster.push', domain: from.jid.domain, user: from.jid.local };
  const replies = [iqResult(el)];
  const grant = ctx.grants.get(from.jid.domain);
  if (!grant) return drop(subject, 'not_advertised', { audit, replies });
  if (!grant.push) {
    const rule = !policy.push
      ? { path: `${policy.path}.roster_push`, value: String(policy.push) }
      : !policy.roster.get
        ? { path: `${policy.path}.roster`, value: policy.rosterValue }
        : null;
    return drop(subject, rule ? 'policy_denied' : 'server_denied', { rule, audit, replies });
  }
  const scope = policy.users.check(from.jid.local);
  if (!scope.ok) return drop(subject, 'user_out_of_scope', { rule: scope.rule, audit, replies });
  const query = el.getChild('query', NS.roster)!;
  return filterRoster(ctx, el, from.jid, [query], query, audit, replies) ?? pass(subject, audit);
}

// ── roster_items: what the component may see of a roster ────────────────

/**
 * A copy of `el` without the roster items outside `roster_items` (the query
 * at the end of `path`), or undefined when nothing is hidden. `whenEmpty`:
 * what privguard answers in the component's place when no item is left (a
 * push); without it, the emptied stanza still goes (a result answers a get).
 */
function filterRoster(ctx: InboundContext, el: Element, user: Jid, path: Element[], query: Element, audit: AuditInfo, whenEmpty?: Element[]): Verdict | undefined {
  const policy = ctx.component.privileges.get(user.domain);
  if (!policy || policy.rosterItems.scope.any) return undefined;
  const { scope, rule } = policy.rosterItems;
  const sc = { component: ctx.component.name, server: user.domain, self: user.bare };
  const f = filterRosterQuery(query, (jid) => scope.matches(jid, sc));
  if (f.hidden === 0) return undefined;
  const base = verdictBase(audit.action === 'roster.push' ? 'roster push' : 'roster result', 'out_of_scope', { rule, audit: { ...audit, hidden: f.hidden } });
  const empty = whenEmpty !== undefined && !f.query.getChild('item');
  return {
    action: 'filter',
    ...base,
    stanza: empty ? undefined : replaceAlong(el, path, f.query),
    hidden: f.hidden,
    replies: empty ? whenEmpty.map((stanza) => ({ to: 'server' as const, stanza })) : [],
  };
}

/** The answer to a roster get (RFC 6121 §2.1.3): from the managed user's bare JID, to the component. */
function filterRosterResult(ctx: InboundContext, el: Element): Verdict | undefined {
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  if (!from.ok || from.jid.local === '' || from.jid.resource !== '') return undefined;
  const query = el.getChild('query', NS.roster)!;
  return filterRoster(ctx, el, from.jid, [query], query, { action: 'roster.result', domain: from.jid.domain, user: from.jid.local });
}

/** A privileged IQ's answer that carries the user's roster (the iq right on jabber:iq:roster). */
function filterPrivilegedRoster(ctx: InboundContext, el: Element): Verdict | undefined {
  const wrapper = privilegeChild(el);
  const fwd = wrapper ? forwardedStanza(wrapper.el) : undefined;
  if (!wrapper || !fwd?.ok) return undefined;
  const inner = fwd.stanza;
  const query = inner.getChild('query', NS.roster);
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  if (!query || !from.ok) return undefined;
  const forwarded = wrapper.el.children.find((c) => typeof c !== 'string' && c.children.includes(inner)) as Element | undefined;
  if (!forwarded) return undefined;
  return filterRoster(ctx, el, from.jid, [wrapper.el, forwarded, inner, query], query, {
    action: 'iq.response',
    domain: from.jid.domain,
    user: from.jid.local,
    namespace: NS.roster,
  });
}

/** presence "roster": a contact's presence only when some domain's roster_items holds the contact. */
function contactInScope(ctx: InboundContext, from: Jid): boolean {
  for (const g of ctx.grants.values()) {
    if (g.presence !== 'roster' || !g.policy) continue;
    if (g.policy.rosterItems.scope.matches(from, { component: ctx.component.name, server: g.domain })) return true;
  }
  return false;
}

/**
 * S8 — XEP-0356 §7: presence the component gets only through the presence
 * permission. Both servers direct privilege presence to the component's bare
 * domain; presence to a JID under it is routed by a subscription or sent
 * directly, and passes. Presence to the bare domain is subscription presence
 * where the server grants no presence privilege (it has nothing else to send
 * it for) or where privguard has seen the sender approve that subscription;
 * the rest is privilege-derived and judged by the presence right.
 */
function decidePresence(ctx: InboundContext, el: Element): Verdict {
  const to = parseJid((el.attrs.to as string | undefined) ?? '');
  if (!to.ok || to.jid.local !== '' || to.jid.resource !== '') return pass('<presence>');
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  if (!from.ok || from.jid.local === '') return pass('<presence>');
  if (ctx.subscriptions?.approved(from.jid.bare, to.jid.bare)) return pass('<presence>');
  const subject = 'presence';
  const audit: AuditInfo = { action: 'presence', domain: from.jid.domain, user: from.jid.local };
  const policy = ctx.component.privileges.get(from.jid.domain);
  if (policy) {
    // A managed user: managed_entity (or roster) and the user in scope.
    const grant = ctx.grants.get(from.jid.domain);
    if (!grant || grant.server.presence === 'none') return pass('<presence>');
    if (grant.presence === 'none') {
      const rule = policy.presence === 'none' ? { path: `${policy.path}.presence`, value: policy.presence } : null;
      return drop(subject, rule ? 'presence_not_granted' : 'server_denied', { rule, audit });
    }
    const scope = policy.users.check(from.jid.local);
    if (!scope.ok) return drop(subject, 'user_out_of_scope', { rule: scope.rule, audit });
    return pass(subject, audit);
  }
  // A contact from elsewhere: privilege-derived only where some server grants `roster` presence.
  let serverSendsContacts = false;
  let rosterGranted = false;
  for (const g of ctx.grants.values()) {
    if (g.presence === 'roster') rosterGranted = true;
    if (g.server.presence === 'roster') serverSendsContacts = true;
  }
  if (rosterGranted) {
    if (contactInScope(ctx, from.jid)) return pass(subject, audit);
    // Outside roster_items: hidden, audited with the count only, never whose presence it was.
    return { action: 'filter', ...verdictBase(subject, 'out_of_scope', { detail: 'roster_items', audit: { action: 'presence', hidden: 1 } }), stanza: undefined, hidden: 1, replies: [] };
  }
  if (!serverSendsContacts) return pass('<presence>');
  return drop(subject, 'presence_not_granted', { detail: 'presence of contacts needs presence "roster"', audit });
}
