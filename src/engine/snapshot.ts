/**
 * A read-only picture of one link, for the status page and `privguard test`:
 * per server domain, three views of each right — what the server granted (its
 * advertisement), what the policy allows, and what the component was told
 * (effective) — for roster, message, presence and IQ namespaces and for
 * delegations; the namespace versions on each leg; and the pending tables.
 * Plain data (no Maps), ready for JSON.
 */
import type { Element } from '@xmpp/xml';
import type { Mode } from '../config/schema.js';
import type { CompiledComponent, CompiledPrivileges } from '../policy/compile.js';
import type { Versions } from '../protocol/translate.js';
import { accessOf, parseAdvertisement, type MessageAccess, type PresenceAccess, type ReadWrite, type RosterAccess } from '../protocol/privilege.js';
import type { EffectiveGrant } from '../policy/grants.js';
import type { DelegatedIqTrack } from '../policy/verdict.js';
import type { PendingPrivileged } from './answers.js';
import type { PendingTable } from './pending.js';
import type { LinkVersions } from './versions.js';

/** A link's tables, read-only (snapshots and the status page read them). */
export interface LinkState {
  compiled: CompiledComponent;
  grants: ReadonlyMap<string, EffectiveGrant>;
  advertisements: ReadonlyMap<string, Element>;
  delegations: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  versions: LinkVersions;
  privileged: PendingTable<PendingPrivileged>;
  delegated: PendingTable<DelegatedIqTrack>;
}

export interface Rights {
  roster: RosterAccess;
  /** Roster pushes (undefined: the server did not say). */
  push: boolean | undefined;
  message: MessageAccess;
  presence: PresenceAccess;
  /** Namespace → access; namespaces with none are absent. */
  iq: Record<string, RosterAccess>;
}

export interface DomainSnapshot {
  domain: string;
  privileges: { server: Rights | undefined; policy: Rights | undefined; effective: Rights | undefined };
  /** Delegated namespaces. */
  delegations: { server: string[]; policy: string[]; effective: string[] };
  versions: { server: Versions; component: Versions };
}

export interface PendingSnapshot {
  count: number;
  /** Age of the oldest pending request, in ms (undefined when none). */
  oldestAgeMs: number | undefined;
}

export interface LinkSnapshot {
  component: string;
  mode: Mode;
  open: boolean;
  domains: DomainSnapshot[];
  pending: { privileged: PendingSnapshot; delegated: PendingSnapshot };
}

function rights(r: { roster: ReadWrite; push: boolean | undefined; message: MessageAccess; presence: PresenceAccess; iq: ReadonlyMap<string, ReadWrite> }): Rights {
  const iq: Record<string, RosterAccess> = {};
  for (const [ns, rw] of r.iq) if (rw.get || rw.set) iq[ns] = accessOf(rw);
  return { roster: accessOf(r.roster), push: r.push, message: r.message, presence: r.presence, iq };
}

function policyRights(p: CompiledPrivileges): Rights {
  const iq = new Map<string, ReadWrite>();
  for (const [ns, e] of p.iq) iq.set(ns, e.rw);
  return rights({ roster: p.roster, push: p.push, message: p.message, presence: p.presence, iq });
}

function pending(size: number, since: number | undefined, now: number): PendingSnapshot {
  return { count: size, oldestAgeMs: since === undefined ? undefined : now - since };
}

export function buildSnapshot(name: string, mode: Mode, open: boolean, s: LinkState, now: number): LinkSnapshot {
  const compiled = s.compiled;
  const domains = new Set<string>([...compiled.privileges.keys(), ...compiled.delegations.keys(), ...s.advertisements.keys(), ...s.delegations.keys(), ...s.versions.domains()]);
  const out: DomainSnapshot[] = [];
  for (const domain of [...domains].sort()) {
    const adv = s.advertisements.get(domain);
    const parsed = adv ? parseAdvertisement(adv) : undefined;
    const policy = compiled.privileges.get(domain);
    const grant = s.grants.get(domain);
    const serverDeleg = [...(s.delegations.get(domain)?.keys() ?? [])].sort();
    const policyDeleg = [...(compiled.delegations.get(domain)?.keys() ?? [])].sort();
    out.push({
      domain,
      privileges: {
        server: parsed ? rights(parsed.grant) : undefined,
        policy: policy ? policyRights(policy) : undefined,
        effective: grant ? rights(grant) : undefined,
      },
      delegations: { server: serverDeleg, policy: policyDeleg, effective: serverDeleg.filter((ns) => policyDeleg.includes(ns)) },
      versions: { server: { ...s.versions.server(domain) }, component: s.versions.component(domain) },
    });
  }
  return {
    component: name,
    mode,
    open,
    domains: out,
    pending: {
      privileged: pending(s.privileged.size, s.privileged.oldestSince(), now),
      delegated: pending(s.delegated.size, s.delegated.oldestSince(), now),
    },
  };
}
