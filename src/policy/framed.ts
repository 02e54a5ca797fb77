/**
 * Decisions on fast-path stanzas (protocol/frame.ts): stanzas that declare no
 * namespace privguard judges, so only their root can matter, and privileged
 * messages in the one shape the framer recognises. Each function answers
 * whether the full engine would let the stanza through untouched; `false`
 * (undefined) sends it to the full path, which judges it (and does everything
 * else: errors, audit, tracking). A `true` here must never be a stanza the
 * full engine would stop, rewrite or track; for a privileged message the
 * verdict is the full engine's own (the same function decides), audit included.
 * test/property/frame.property.test.ts checks all of it.
 */
import type { FramedStanza } from '../protocol/frame.js';
import { DISCO, NS, isReservedNamespace } from '../protocol/ns.js';
import { isCanonicalJid } from '../protocol/jid.js';
import { checkAddresses } from './addressing.js';
import { judgePrivilegedMessage, type OutboundContext } from './outbound.js';
import type { Verdict } from './verdict.js';

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
  if (s.privileged !== undefined) return false;
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
  return addressingPasses(component, s.name, s.attr('from'), s.attr('to'));
}

/** The component's addressing and the prepared form of its root's JIDs, as the full path checks them first. */
function addressingPasses(component: string, name: string, from: string | undefined, to: string | undefined): boolean {
  // A JID not in prepared form is refused by the full path (policy/outbound.ts).
  if ((from !== undefined && !isCanonicalJid(from)) || (to !== undefined && !isCanonicalJid(to))) return false;
  return checkAddresses(component, name, from, to).action === 'pass';
}

/**
 * A privileged message from the component, read without a tree: the verdict
 * of the full path's own decision (policy/outbound.ts) when it is a pass,
 * else undefined. The framer guaranteed the rest of what decideOutbound
 * checks on the way there: the root's only child is the <privilege/> wrapper
 * (no delegation element beside it), holding one <forwarded/> that holds one
 * jabber:client message.
 */
export function framedPrivilegedPass(ctx: OutboundContext, component: string, s: FramedStanza): Verdict | undefined {
  const shape = s.privileged;
  if (shape === undefined || s.name !== 'message') return undefined;
  // Each attribute cut out once: the same string is then recognised by identity in the JID cache.
  const to = s.attr('to');
  if (!addressingPasses(component, s.name, s.attr('from'), to)) return undefined;
  const inner = { name: 'message', ns: NS.client, from: shape.innerAttr('from'), to: shape.innerAttr('to') };
  const v = judgePrivilegedMessage(ctx, { to, version: shape.version, inner });
  return v.action === 'pass' ? v : undefined;
}

/**
 * A server's stanza towards the component. Presence always takes the full path
 * (privilege-derived presence is filtered, duplicates are dropped).
 * `isPrivilegedResponse`: an id of a privileged IQ pending or answered late.
 */
export function framedInboundPasses(s: FramedStanza, isPrivilegedResponse: (id: string) => boolean): boolean {
  // A privilege element from the server is an advertisement: always judged.
  if (s.privileged !== undefined) return false;
  if (s.name === 'message') return true;
  if (s.name !== 'iq') return false;
  const type = s.attr('type');
  const id = s.attr('id');
  return !((type === 'result' || type === 'error') && id !== undefined && isPrivilegedResponse(id));
}
