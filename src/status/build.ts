/**
 * One component's rights as the status page shows them: per server domain,
 * what the server granted (its advertisement), what the policy allows and
 * what the component was told (effective), row by row, each row marked when
 * the effective right is narrower than the grant or the policy asks for more
 * than the server gives. Pure: a view of the link's state in, rows out.
 */
import type { ComponentPolicy } from '../config/schema.js';
import type { CompiledComponent, CompiledPrivileges } from '../policy/compile.js';
import { effectiveDelegation, type ServerDelegations } from '../policy/delegation.js';
import type { EffectiveGrant } from '../policy/grants.js';
import { normaliseDomain } from '../protocol/jid.js';
import { accessOf, MESSAGE_ACCESS, PRESENCE_ACCESS, type PrivilegeGrant, type ReadWrite } from '../protocol/privilege.js';
import type { Versions } from '../protocol/translate.js';
import type { DomainStatus, RightRow } from './model.js';

/** What a live link knows, read when the page is asked for (the engine's snapshot provides the same). */
export interface LinkView {
  compiled: CompiledComponent;
  /** The component's policy as written (for the user scopes). */
  policy: ComponentPolicy;
  /** The server's own privilege advertisement per domain, as it arrived on this connection. */
  advertised: ReadonlyMap<string, PrivilegeGrant>;
  /** Effective grants per server domain the policy names and the server advertised. */
  grants: ReadonlyMap<string, EffectiveGrant>;
  /** What the server delegated so far: domain → namespace → attributes. */
  delegations: ServerDelegations;
  serverVersions(domain: string): Versions;
  componentVersions(domain: string): Versions;
}

const NO_RW: ReadWrite = { get: false, set: false };

/** a ⊂ b strictly, for get/set flags. */
function rwNarrower(a: ReadWrite, b: ReadWrite): boolean {
  return (b.get && !a.get) || (b.set && !a.set);
}

function mark(narrowed: boolean, capped: boolean, effective: boolean, server: boolean | null): RightRow['mark'] {
  if (server !== null && narrowed) return 'narrowed';
  if (capped) return 'capped';
  return effective ? 'same' : 'none';
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

type WrittenPrivileges = ComponentPolicy['privileges'][string];

/** The content scopes the policy sets on each right, as written (only where they narrow the defaults). */
function scopes(w: WrittenPrivileges | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!w) return out;
  if (w.roster_subscription.length > 0) out.set('roster', `subscriptions: ${w.roster_subscription.join(', ')}`);
  if (!(w.message_to.length === 1 && w.message_to[0] === 'any')) out.set('message', `to: ${w.message_to.join(', ')}`);
  for (const [ns, grant] of Object.entries(w.iq)) {
    if (typeof grant === 'string') continue;
    const parts: string[] = [];
    if (!(grant.to.length === 1 && grant.to[0] === 'any')) parts.push(`to: ${grant.to.join(', ')}`);
    if (grant.nodes) parts.push(`nodes: ${grant.nodes.join(', ')}`);
    if (parts.length > 0) out.set(`iq ${ns}`, parts.join('; '));
  }
  return out;
}

function privilegeRows(p: CompiledPrivileges | undefined, s: PrivilegeGrant | undefined, g: EffectiveGrant | undefined): Omit<RightRow, 'scope'>[] {
  const rows: Omit<RightRow, 'scope'>[] = [];
  const policyRoster = p?.roster ?? NO_RW;
  const effRoster = g?.roster ?? NO_RW;
  rows.push({
    kind: 'roster',
    name: 'roster',
    server: s ? accessOf(s.roster) : null,
    policy: p?.rosterValue ?? 'none',
    effective: accessOf(effRoster),
    mark: mark(!!s && rwNarrower(effRoster, s.roster), !!s && rwNarrower(s.roster, policyRoster), effRoster.get || effRoster.set, s ? true : null),
  });
  const serverPush = s ? (s.push ?? s.roster.get) : undefined;
  const effPush = g?.push ?? false;
  rows.push({
    kind: 'roster_push',
    name: 'roster push',
    server: serverPush === undefined ? null : yesNo(serverPush),
    policy: yesNo(p?.push ?? false),
    effective: yesNo(effPush),
    mark: mark(serverPush === true && !effPush, serverPush === false && (p?.push ?? false), effPush, s ? true : null),
  });
  const rank = <T extends string>(order: readonly T[], v: T) => order.indexOf(v);
  const effMessage = g?.message ?? 'none';
  const policyMessage = p?.message ?? 'none';
  rows.push({
    kind: 'message',
    name: 'message',
    server: s ? s.message : null,
    policy: policyMessage,
    effective: effMessage,
    mark: mark(!!s && rank(MESSAGE_ACCESS, effMessage) < rank(MESSAGE_ACCESS, s.message), !!s && rank(MESSAGE_ACCESS, s.message) < rank(MESSAGE_ACCESS, policyMessage), effMessage !== 'none', s ? true : null),
  });
  const effPresence = g?.presence ?? 'none';
  const policyPresence = p?.presence ?? 'none';
  rows.push({
    kind: 'presence',
    name: 'presence',
    server: s ? s.presence : null,
    policy: policyPresence,
    effective: effPresence,
    mark: mark(!!s && rank(PRESENCE_ACCESS, effPresence) < rank(PRESENCE_ACCESS, s.presence), !!s && rank(PRESENCE_ACCESS, s.presence) < rank(PRESENCE_ACCESS, policyPresence), effPresence !== 'none', s ? true : null),
  });
  const namespaces = [...new Set([...(p?.iq.keys() ?? []), ...(s?.iq.keys() ?? [])])].sort();
  for (const ns of namespaces) {
    const serverRw = s?.iq.get(ns) ?? NO_RW;
    const policyRw = p?.iq.get(ns)?.rw ?? NO_RW;
    const effRw = g?.iq.get(ns) ?? NO_RW;
    rows.push({
      kind: 'iq',
      name: `iq ${ns}`,
      server: s ? accessOf(serverRw) : null,
      policy: accessOf(policyRw),
      effective: accessOf(effRw),
      mark: mark(!!s && rwNarrower(effRw, serverRw), !!s && rwNarrower(serverRw, policyRw), effRw.get || effRw.set, s ? true : null),
    });
  }
  return rows;
}

function attrsText(attrs: readonly string[]): string {
  return attrs.length === 0 ? 'delegated' : `delegated, needs ${[...attrs].sort().join(' ')}`;
}

function delegationRows(view: LinkView, domain: string): Omit<RightRow, 'scope'>[] {
  const policy = view.compiled.delegations.get(domain);
  const server = view.delegations.get(domain);
  const namespaces = [...new Set([...(policy?.keys() ?? []), ...(server?.keys() ?? [])])].sort();
  return namespaces.map((ns) => {
    const s = server?.get(ns);
    const p = policy?.get(ns);
    const e = effectiveDelegation({ component: view.compiled, server: view.delegations }, domain, ns);
    const narrowed = s !== undefined && (!e || e.required.length > s.length);
    return {
      kind: 'delegation',
      name: `delegation ${ns}`,
      // Delegations arrive one advertisement at a time: until one names this namespace, the server has not delegated it.
      server: s ? attrsText(s) : server ? 'not delegated' : null,
      policy: p ? attrsText(p.attributes) : 'none',
      effective: e ? attrsText(e.required) : 'none',
      mark: mark(narrowed, !!p && !!server && !s, !!e, server ? true : null),
    };
  });
}

function versions(v: Versions): { privilege: number | null; delegation: number | null } {
  return { privilege: v.privilege ?? null, delegation: v.delegation ?? null };
}

/** Every server domain the policy names or the server advertised, with its rows. */
export function domainStatuses(view: LinkView): DomainStatus[] {
  const c = view.compiled;
  const domains = [...new Set([...c.privileges.keys(), ...c.delegations.keys(), ...view.advertised.keys(), ...view.delegations.keys()])].sort();
  const written = new Map(Object.entries(view.policy.privileges).map(([k, v]) => [normaliseDomain(k) ?? k, v]));
  return domains.map((domain) => {
    const g = view.grants.get(domain);
    const s = view.advertised.get(domain) ?? g?.server;
    const p = c.privileges.get(domain);
    const scope = written.get(domain);
    const rows = p || s ? privilegeRows(p, s, g) : [];
    const scoped = scopes(scope);
    return {
      domain,
      advertised: s !== undefined,
      users: scope ? [...scope.users] : [],
      except_users: scope ? [...scope.except_users] : [],
      versions: { server: versions(view.serverVersions(domain)), component: versions(view.componentVersions(domain)) },
      rights: [...rows, ...delegationRows(view, domain)].map((r) => ({ ...r, scope: scoped.get(r.name) ?? null })),
    };
  });
}
