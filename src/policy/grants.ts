/**
 * Effective rights for one (component, server domain): what the server
 * advertised from that domain AND what the policy grants there (DESIGN.md
 * "Effective rights"). Before an advertisement there is nothing; a domain the
 * policy does not name gets nothing. Also lists where the policy asks for more
 * than the server grants, for the one warning per connect.
 */
import {
  PRESENCE_ACCESS,
  accessOf,
  lowerOf,
  type Advertisement,
  type AdvertisedRights,
  type MessageAccess,
  type PresenceAccess,
  type ReadWrite,
} from '../protocol/privilege.js';
import type { PrivilegeVersion } from '../protocol/ns.js';
import type { CompiledPrivileges } from './compile.js';

export interface EffectiveGrant extends AdvertisedRights {
  domain: string;
  /** The namespace version the server spoke in its advertisement. */
  version: PrivilegeVersion;
  server: Advertisement['grant'];
  policy: CompiledPrivileges | undefined;
}

const and = (a: ReadWrite, b: ReadWrite): ReadWrite => ({ get: a.get && b.get, set: a.set && b.set });
const NONE: ReadWrite = { get: false, set: false };

export function effectiveGrant(
  domain: string,
  adv: Advertisement,
  policy: CompiledPrivileges | undefined,
): { grant: EffectiveGrant; wider: string[] } {
  const s = adv.grant;
  const wider: string[] = [];
  if (!policy) {
    return {
      grant: { domain, version: adv.version, server: s, policy, roster: NONE, push: false, message: 'none', presence: 'none', iq: new Map() },
      wider,
    };
  }
  const roster = and(s.roster, policy.roster);
  // XEP-0356 §4.1: push defaults to true with get/both; never without roster read.
  const serverPush = s.push ?? s.roster.get;
  const push = serverPush && policy.push && roster.get;
  const message: MessageAccess = s.message === 'outgoing' && policy.message === 'outgoing' ? 'outgoing' : 'none';
  let presence: PresenceAccess = lowerOf(PRESENCE_ACCESS, s.presence, policy.presence);
  if (presence === 'roster' && !roster.get) presence = 'managed_entity';
  const iq = new Map<string, ReadWrite>();
  for (const [ns, p] of policy.iq) {
    const both = and(s.iq.get(ns) ?? NONE, p.rw);
    if (both.get || both.set) iq.set(ns, both);
    if ((p.rw.get && !both.get) || (p.rw.set && !both.set)) {
      wider.push(`iq ${ns}: policy ${p.value}, server ${accessOf(s.iq.get(ns) ?? NONE)}`);
    }
  }
  if ((policy.roster.get && !s.roster.get) || (policy.roster.set && !s.roster.set)) {
    wider.push(`roster: policy ${policy.rosterValue}, server ${accessOf(s.roster)}`);
  }
  if (policy.message === 'outgoing' && s.message !== 'outgoing') wider.push(`message: policy outgoing, server ${s.message}`);
  if (PRESENCE_ACCESS.indexOf(policy.presence) > PRESENCE_ACCESS.indexOf(s.presence)) {
    wider.push(`presence: policy ${policy.presence}, server ${s.presence}`);
  }
  // Neither Prosody nor ejabberd writes push, nor sends pushes: privguard repeats the server's
  // word (an omitted push stays omitted) and writes push only where it turns it off.
  const pushStated = s.push !== undefined || push !== roster.get;
  // A perm the server left out grants nothing on either side, so it stays left out.
  const stated = s.stated;
  return {
    grant: { domain, version: adv.version, server: s, policy, roster, push, pushStated, message, presence, iq, ...(stated ? { stated } : {}) },
    wider,
  };
}

/** Without an advertisement file, `explain` assumes the server grants what the policy grants. */
export function assumedAdvertisement(policy: CompiledPrivileges, version: PrivilegeVersion = 2): Advertisement {
  const iq = new Map<string, ReadWrite>();
  for (const [ns, p] of policy.iq) iq.set(ns, p.rw);
  return { version, grant: { roster: policy.roster, push: policy.push, message: policy.message, presence: policy.presence, iq } };
}
