/**
 * Decisions on fast-path stanzas (protocol/frame.ts): stanzas that declare no
 * namespace privguard judges, so only their root can matter. Each function
 * answers whether the full engine would let the stanza through untouched, from
 * the root's name and attributes alone; `false` sends it to the full path,
 * which judges it (and does everything else: errors, audit, tracking). A
 * `true` here must never be a stanza the full engine would stop, rewrite,
 * track or audit; test/property/frame.property.test.ts checks that.
 */
import type { FramedStanza } from '../protocol/frame.js';
import { DISCO, NS, isReservedNamespace } from '../protocol/ns.js';
import { isCanonicalJid } from '../protocol/jid.js';
import { checkAddressing } from './addressing.js';

/**
 * Whether an element in this namespace can change what privguard decides about
 * a stanza: privilege and delegation elements of any version, roster queries,
 * disco#info (the XEP-0355 nesting node) and the stream-level namespaces. A
 * stanza declaring one of them is always parsed and judged in full; a wider set
 * only costs speed, a narrower one would be a hole.
 */
export function isJudgedNamespace(ns: string): boolean {
  return isReservedNamespace(ns) || ns === NS.roster || ns === DISCO.info || ns === NS.component || ns === NS.streams || ns === NS.streamErrors;
}

/** A component's stanza towards the server. `isDelegationReply`: an id the delegation table knows (pending or recently answered). */
export function framedOutboundPasses(component: string, s: FramedStanza, isDelegationReply: (id: string) => boolean): boolean {
  if (s.name === 'iq') {
    const type = s.attr('type');
    const id = s.attr('id');
    if ((type === 'result' || type === 'error') && id !== undefined && isDelegationReply(id)) return false;
  } else if (s.name === 'presence') {
    // An unsubscribe changes what privguard knows of subscriptions (policy/subscriptions.ts).
    if (s.attr('type') === 'unsubscribe') return false;
  } else if (s.name !== 'message') {
    return false;
  }
  const from = s.attr('from');
  const to = s.attr('to');
  // A JID not in prepared form is refused by the full path (policy/outbound.ts).
  if ((from !== undefined && !isCanonicalJid(from)) || (to !== undefined && !isCanonicalJid(to))) return false;
  return checkAddressing(component, { name: s.name, attrs: { from, to } }).action === 'pass';
}

/**
 * A server's stanza towards the component. Presence always takes the full path
 * (privilege-derived presence is filtered, duplicates are dropped).
 * `isPrivilegedResponse`: an id of a privileged IQ pending or answered late.
 */
export function framedInboundPasses(s: FramedStanza, isPrivilegedResponse: (id: string) => boolean): boolean {
  if (s.name === 'message') return true;
  if (s.name !== 'iq') return false;
  const type = s.attr('type');
  const id = s.attr('id');
  return !((type === 'result' || type === 'error') && id !== undefined && isPrivilegedResponse(id));
}
