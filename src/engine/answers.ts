/**
 * The stanzas a link sends on its own account rather than relaying: a
 * verdict's replies, and the answers it gives in someone's place — to the
 * component for a privileged IQ the server will not answer (timeout, server
 * gone, request looped back), to the server for a delegated IQ the component
 * will not answer (timeout, component gone, delegation removed by a reload),
 * and the refusals when a pending table is full. Each answer in someone's
 * place is also a decision, so it leaves as one DecisionEvent.
 */
import type { Element } from '@xmpp/xml';
import type { Mode } from '../config/schema.js';
import { wrappedError } from '../protocol/delegation.js';
import { serialize } from '../protocol/serialize.js';
import { stanzaError } from '../protocol/stanzas.js';
import { verdictText, type DelegatedIqTrack, type Reply } from '../policy/verdict.js';
import { decisionEvent, userOf, type EndReason } from './decision.js';
import type { LinkEffects } from './effects.js';

/** A privileged IQ waiting for the server. */
export interface PendingPrivileged {
  request: Element;
  /** The managed user's bare JID. */
  user: string;
  domain: string;
  namespace: string | undefined;
}

/** A verdict's replies, each to the side it names. */
export function sendReplies(fx: LinkEffects, replies: readonly Reply[]): void {
  for (const r of replies) {
    if (r.to === 'component') fx.toComponent(serialize(r.stanza), undefined);
    else fx.toServer(serialize(r.stanza), undefined);
  }
}

/** The privileged-IQ table had no room after all: the component hears so, and the request never goes on untracked. */
export function refusePrivileged(fx: LinkEffects, name: string, request: Element): void {
  fx.toComponent(serialize(stanzaError(request, 'wait', 'resource-constraint', 'privguard: too many pending requests', name)), undefined);
}

/** The delegated-IQ table had no room: the server's user gets resource-constraint at once. */
export function refuseDelegated(fx: LinkEffects, t: DelegatedIqTrack): void {
  fx.toServer(serialize(wrappedError(t.request, t.inner, t.version, 'resource-constraint')), undefined);
}

/** Answer a delegated IQ in the component's place: the user gets service-unavailable (if the server is still there). */
export function answerDelegated(fx: LinkEffects, name: string, mode: Mode, t: DelegatedIqTrack, reason: EndReason | 'delegation_removed'): void {
  const info = { action: 'delegation.forward', domain: t.domain, user: userOf(t.inner.attrs.from as string | undefined, t.domain), namespace: t.namespace };
  fx.decision(decisionEvent(name, mode, 'reject', 'denied', reason, info.action, info, undefined, t.id));
  if (reason !== 'server_gone') fx.toServer(serialize(wrappedError(t.request, t.inner, t.version, 'service-unavailable')), undefined);
}

/**
 * Answer a privileged IQ in the server's place: the component gets remote-server-timeout (if it is still
 * there), or service-unavailable when the server sent the request back and will never answer it.
 */
export function answerPrivileged(fx: LinkEffects, name: string, mode: Mode, p: PendingPrivileged, reason: EndReason | 'looped_request'): void {
  const text = verdictText({ reason, rule: null, subject: 'privileged iq' });
  const id = p.request.attrs.id as string | undefined;
  const info = { action: `iq.${String(p.request.attrs.type)}`, domain: p.domain, user: userOf(p.user, p.domain), namespace: p.namespace };
  fx.decision(decisionEvent(name, mode, 'reject', 'denied', reason, info.action, info, undefined, id));
  fx.log('warn', { component: name, id, reason }, text);
  const error =
    reason === 'looped_request' ? stanzaError(p.request, 'cancel', 'service-unavailable', text, name) : stanzaError(p.request, 'wait', 'remote-server-timeout', text, name);
  if (reason !== 'component_gone') fx.toComponent(serialize(error), undefined);
}
