/**
 * Namespaces and condition names privguard knows, each with where it is defined.
 * One table per concept, `as const`, so types and runtime checks share a source.
 */

export const NS = {
  /** XEP-0114 §3: the component stream's content namespace. */
  component: 'jabber:component:accept',
  /** RFC 6120 §4.8.1: the stream namespace. */
  streams: 'http://etherx.jabber.org/streams',
  /** RFC 6120 §4.9.3: stream error conditions. */
  streamErrors: 'urn:ietf:params:xml:ns:xmpp-streams',
  /** RFC 6120 §8.3.3: stanza error conditions. */
  stanzaErrors: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  /** XML Namespaces §3: the reserved `xml` prefix. */
  xml: 'http://www.w3.org/XML/1998/namespace',
  /** XML Namespaces §3: the reserved `xmlns` prefix. */
  xmlns: 'http://www.w3.org/2000/xmlns/',
  client: 'jabber:client',
  /** XEP-0297: the forwarding wrapper. */
  forward: 'urn:xmpp:forward:0',
  /** XEP-0203: delayed delivery, allowed before the forwarded stanza. */
  delay: 'urn:xmpp:delay',
  /** RFC 6121 §2: roster management. */
  roster: 'jabber:iq:roster',
} as const;

/** XEP-0356 namespaces by version (reference/specs.md §7.1). */
export const PRIVILEGE_NS = { 1: 'urn:xmpp:privilege:1', 2: 'urn:xmpp:privilege:2' } as const;
export type PrivilegeVersion = keyof typeof PRIVILEGE_NS;

/** The version of a privilege namespace, or undefined when it is not one we speak. */
export function privilegeVersion(ns: string | undefined): PrivilegeVersion | undefined {
  if (ns === PRIVILEGE_NS[2]) return 2;
  if (ns === PRIVILEGE_NS[1]) return 1;
  return undefined;
}

/** XEP-0355 namespaces by version (reference/specs.md §7.2); the wire format of :1 and :2 is the same. */
export const DELEGATION_NS = { 1: 'urn:xmpp:delegation:1', 2: 'urn:xmpp:delegation:2' } as const;
export type DelegationVersion = keyof typeof DELEGATION_NS;

export function delegationVersion(ns: string | undefined): DelegationVersion | undefined {
  if (ns === DELEGATION_NS[2]) return 2;
  if (ns === DELEGATION_NS[1]) return 1;
  return undefined;
}

/** XEP-0030 service discovery. */
export const DISCO = {
  info: 'http://jabber.org/protocol/disco#info',
  items: 'http://jabber.org/protocol/disco#items',
} as const;

/** RFC 6120 §8.3.3: stanza error conditions privguard emits. */
export const STANZA_ERROR_CONDITIONS = [
  'bad-request',
  'forbidden',
  'internal-server-error',
  'item-not-found',
  'jid-malformed',
  'remote-server-timeout',
  'resource-constraint',
  'service-unavailable',
] as const;
export type StanzaErrorCondition = (typeof STANZA_ERROR_CONDITIONS)[number];
export const STANZA_ERROR_TYPES = ['auth', 'cancel', 'continue', 'modify', 'wait'] as const;
export type StanzaErrorType = (typeof STANZA_ERROR_TYPES)[number];

/** Top-level stanza names allowed on a component stream (XEP-0114 §7.1). */
export const STANZA_NAMES = ['message', 'presence', 'iq'] as const;
export type StanzaName = (typeof STANZA_NAMES)[number];
export function isStanzaName(name: string): name is StanzaName {
  return (STANZA_NAMES as readonly string[]).includes(name);
}

/** RFC 6120 §4.9.3: the stream error conditions privguard emits. */
export const STREAM_ERROR_CONDITIONS = [
  'bad-format',
  'conflict',
  'connection-timeout',
  'host-unknown',
  'improper-addressing',
  'internal-server-error',
  'invalid-from',
  'invalid-namespace',
  'not-authorized',
  'not-well-formed',
  'policy-violation',
  'remote-connection-failed',
  'reset',
  'restricted-xml',
  'system-shutdown',
  'undefined-condition',
  'unsupported-stanza-type',
] as const;
export type StreamErrorCondition = (typeof STREAM_ERROR_CONDITIONS)[number];
export function isStreamErrorCondition(name: string): name is StreamErrorCondition {
  return (STREAM_ERROR_CONDITIONS as readonly string[]).includes(name);
}

/** Namespace prefixes the policy may never grant or delegate (recursion; XEP-0355 BR5). */
export const RESERVED_NAMESPACE_PREFIXES = ['urn:xmpp:delegation:', 'urn:xmpp:privilege:'] as const;

/** A namespace of XEP-0355 or XEP-0356 itself, of any version: never granted, delegated or passed unjudged. */
export function isReservedNamespace(ns: string): boolean {
  for (const prefix of RESERVED_NAMESPACE_PREFIXES) if (ns.startsWith(prefix)) return true;
  return false;
}

/**
 * Sorts namespaces (and other identifiers) by UTF-16 code units, the same on
 * every host. localeCompare would depend on the locale and map ICU's collation
 * data into memory (about 2.5 MB of RSS).
 */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
