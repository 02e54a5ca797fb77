/**
 * XEP-0356 (Privileged Entity) shapes: permission values, advertisements
 * (read leniently, written strictly) and the XEP-0297 forwarding wrapper.
 * Version-neutral: callers get the version alongside, decisions never look at
 * it except where a version lacks a feature (no iq permission before :2).
 */
import { Element } from '@xmpp/xml';
import { byCodeUnits, NS, PRIVILEGE_NS, privilegeVersion, type PrivilegeVersion } from './ns.js';

/** XEP-0356 §4.1, §5.1, §6.1, §7.1: permission values, least to most. */
export const ROSTER_ACCESS = ['none', 'get', 'set', 'both'] as const;
export const MESSAGE_ACCESS = ['none', 'outgoing'] as const;
export const PRESENCE_ACCESS = ['none', 'managed_entity', 'roster'] as const;
export const IQ_ACCESS = ['get', 'set', 'both'] as const;

export type RosterAccess = (typeof ROSTER_ACCESS)[number];
export type MessageAccess = (typeof MESSAGE_ACCESS)[number];
export type PresenceAccess = (typeof PRESENCE_ACCESS)[number];
export type IqAccess = (typeof IQ_ACCESS)[number];

/** get/set as a pair of flags: intersections become a bitwise AND. */
export interface ReadWrite {
  get: boolean;
  set: boolean;
}

export function readWrite(access: RosterAccess | IqAccess | 'none'): ReadWrite {
  return { get: access === 'get' || access === 'both', set: access === 'set' || access === 'both' };
}

export function accessOf(rw: ReadWrite): RosterAccess {
  return rw.get ? (rw.set ? 'both' : 'get') : rw.set ? 'set' : 'none';
}

/** What one advertisement says (per server domain). */
export interface PrivilegeGrant {
  roster: ReadWrite;
  /** The explicit `push` attribute, if the server sent one. */
  push: boolean | undefined;
  message: MessageAccess;
  presence: PresenceAccess;
  /** Namespace → types; namespaces granted nothing are absent. */
  iq: ReadonlyMap<string, ReadWrite>;
  /** Which perms the server wrote at all (unset: all of them). */
  stated?: StatedPerms;
}

/**
 * Which of the roster, message and presence perms an advertisement names. A
 * perm left out grants nothing (XEP-0356 §4), the same as one of type `none`;
 * Prosody leaves out what it does not grant, and privguard repeats that.
 */
export interface StatedPerms {
  roster: boolean;
  message: boolean;
  presence: boolean;
}

export interface Advertisement {
  version: PrivilegeVersion;
  grant: PrivilegeGrant;
}

export function elementChildren(el: Element): Element[] {
  return el.children.filter((c): c is Element => typeof c !== 'string');
}

/** The direct `<privilege/>` children of a stanza, with their version (any other namespace is not one). */
export function privilegeChild(el: Element, name = 'privilege'): { el: Element; version: PrivilegeVersion } | undefined {
  // Loops over children, not elementChildren(): this runs for every judged stanza and an array each time is garbage.
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    const version = privilegeVersion(c.getNS());
    if (version !== undefined && c.name === name) return { el: c, version };
  }
  return undefined;
}

/** True when any direct child lives in a privilege namespace (`privilege`, `privileged_iq`, anything). */
export function hasPrivilegeElement(el: Element): boolean {
  for (const c of el.children) if (typeof c !== 'string' && privilegeVersion(c.getNS()) !== undefined) return true;
  return false;
}

const RANK = {
  roster: ROSTER_ACCESS,
  message: MESSAGE_ACCESS,
  presence: PRESENCE_ACCESS,
} as const;

function pick<T extends string>(values: readonly T[], raw: string | undefined): T {
  // Unknown or missing values read as none: never more than the server said.
  return values.includes(raw as T) ? (raw as T) : values[0]!;
}

/** The lower of two access levels, in the order `values` ranks them. */
export function lowerOf<T extends string>(values: readonly T[], a: T, b: T): T {
  return values.indexOf(a) <= values.indexOf(b) ? a : b;
}

function parseBool(raw: string | undefined): boolean | undefined {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  return undefined;
}

/** Every `<namespace/>` below `el`, however deep (Prosody 0.12 nests them). */
function namespacesBelow(el: Element, ns: string, out: Element[] = []): Element[] {
  for (const c of elementChildren(el)) {
    if (c.name === 'namespace' && c.getNS() === ns) out.push(c);
    namespacesBelow(c, ns, out);
  }
  return out;
}

/**
 * Reads the privilege advertisement in a message, leniently: nested iq
 * namespaces are found wherever they are; unknown values and missing perms
 * are `none`; a repeated perm keeps the most restrictive value; presence
 * `roster` without roster read is read as `managed_entity` (XEP-0356 §7.4).
 */
export function parseAdvertisement(message: Element): Advertisement | undefined {
  const priv = privilegeChild(message);
  if (!priv) return undefined;
  const ns = PRIVILEGE_NS[priv.version];
  let roster: ReadWrite | undefined;
  let push: boolean | undefined;
  let messageAccess: MessageAccess | undefined;
  let presence: PresenceAccess | undefined;
  const iq = new Map<string, ReadWrite>();
  const iqSeen = new Set<string>();
  for (const perm of elementChildren(priv.el)) {
    if (perm.name !== 'perm' || perm.getNS() !== ns) continue;
    const access = perm.attrs.access as string | undefined;
    const type = perm.attrs.type as string | undefined;
    if (access === 'roster') {
      const rw = readWrite(pick(RANK.roster, type));
      roster = roster ? { get: roster.get && rw.get, set: roster.set && rw.set } : rw;
      const p = parseBool(perm.attrs.push as string | undefined);
      if (p !== undefined) push = push === undefined ? p : push && p;
    } else if (access === 'message') {
      const v = pick(RANK.message, type);
      messageAccess = messageAccess ? lowerOf(RANK.message, messageAccess, v) : v;
    } else if (access === 'presence') {
      const v = pick(RANK.presence, type);
      presence = presence ? lowerOf(RANK.presence, presence, v) : v;
    } else if (access === 'iq' && priv.version >= 2) {
      for (const n of namespacesBelow(perm, ns)) {
        const name = n.attrs.ns as string | undefined;
        if (!name) continue;
        const t = n.attrs.type as string | undefined;
        const rw = readWrite(t === 'get' || t === 'set' || t === 'both' ? t : 'none');
        const before = iq.get(name);
        // Repeated namespace: the most restrictive reading wins.
        const merged = iqSeen.has(name) ? { get: !!before?.get && rw.get, set: !!before?.set && rw.set } : rw;
        iqSeen.add(name);
        if (merged.get || merged.set) iq.set(name, merged);
        else iq.delete(name);
      }
    }
  }
  const rosterRw = roster ?? { get: false, set: false };
  let presenceAccess = presence ?? 'none';
  if (presenceAccess === 'roster' && !rosterRw.get) presenceAccess = 'managed_entity';
  return {
    version: priv.version,
    grant: {
      roster: rosterRw,
      push,
      message: messageAccess ?? 'none',
      presence: presenceAccess,
      iq,
      stated: { roster: roster !== undefined, message: messageAccess !== undefined, presence: presence !== undefined },
    },
  };
}

/** The effective rights a component is told about. */
export interface AdvertisedRights {
  roster: ReadWrite;
  push: boolean;
  /**
   * Whether `push` is written on :2. Unset: always. XEP-0356 §4.1 lets the
   * attribute be omitted (it then defaults to true with get/both); privguard
   * writes it only where the server wrote it or where it differs from that
   * default, so it never claims pushes the server did not promise in words.
   */
  pushStated?: boolean;
  message: MessageAccess;
  presence: PresenceAccess;
  iq: ReadonlyMap<string, ReadWrite>;
  /**
   * The perms the server wrote. A perm it left out is written only if it is
   * granted (never: privguard grants no more than the server), so the
   * component reads the same advertisement as from the server itself. Unset:
   * every perm is written, `none` included.
   */
  stated?: StatedPerms;
}

/**
 * Writes an advertisement: each perm the server stated or that grants
 * something (`none` included when the server stated it and the policy took it
 * away), `push` on :2 as `pushStated` says, iq namespaces as siblings, and no
 * iq perm on :1, which has none.
 */
export function buildAdvertisement(
  from: string,
  to: string,
  rights: AdvertisedRights,
  version: PrivilegeVersion,
  id?: string,
): Element {
  const ns = PRIVILEGE_NS[version];
  const attrs: Record<string, string> = { from, to };
  if (id !== undefined) attrs.id = id;
  const message = new Element('message', attrs);
  const priv = message.c('privilege', { xmlns: ns });
  const stated = rights.stated;
  const rosterType = accessOf(rights.roster);
  if (rosterType !== 'none' || (stated?.roster ?? true)) {
    const roster: Record<string, string> = { access: 'roster', type: rosterType };
    if (version >= 2 && (rights.pushStated ?? true)) roster.push = String(rights.push);
    priv.c('perm', roster);
  }
  if (rights.message !== 'none' || (stated?.message ?? true)) priv.c('perm', { access: 'message', type: rights.message });
  if (rights.presence !== 'none' || (stated?.presence ?? true)) priv.c('perm', { access: 'presence', type: rights.presence });
  if (version >= 2 && rights.iq.size > 0) {
    const iq = priv.c('perm', { access: 'iq' });
    for (const [name, rw] of [...rights.iq].sort(([a], [b]) => byCodeUnits(a, b))) {
      iq.c('namespace', { ns: name, type: accessOf(rw) });
    }
  }
  return message;
}

export type Forwarded = { ok: true; stanza: Element } | { ok: false; problem: string };

/**
 * XEP-0297 inside a protocol wrapper: the wrapper holds exactly one
 * `<forwarded/>`, which holds an optional `<delay/>` and exactly one stanza.
 */
export function forwardedStanza(wrapper: Element): Forwarded {
  // Counted in loops, without arrays of children: every privileged message and IQ comes here.
  let fwd: Element | undefined;
  let kids = 0;
  for (const c of wrapper.children) {
    if (typeof c === 'string') continue;
    kids++;
    fwd = c;
  }
  if (kids !== 1 || fwd === undefined) return { ok: false, problem: `<${wrapper.name}> must hold exactly one <forwarded/>` };
  if (fwd.name !== 'forwarded' || fwd.getNS() !== NS.forward) {
    return { ok: false, problem: `<${wrapper.name}> must hold <forwarded xmlns="${NS.forward}"/>` };
  }
  let stanza: Element | undefined;
  let inner = 0;
  for (const c of fwd.children) {
    if (typeof c === 'string' || (c.name === 'delay' && c.getNS() === NS.delay)) continue;
    inner++;
    stanza = c;
  }
  if (inner !== 1 || stanza === undefined) return { ok: false, problem: '<forwarded/> must hold exactly one stanza' };
  return { ok: true, stanza };
}
