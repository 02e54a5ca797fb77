/**
 * XEP-0355 (Namespace Delegation, admin mode) shapes: advertisements, the
 * forwarded IQ, the disco nesting nodes, and the answer privguard sends the
 * server on the component's behalf. Client mode (§5) is not implemented by any
 * server and is not understood here.
 */
import { Element } from '@xmpp/xml';
import { byCodeUnits, DELEGATION_NS, DISCO, NS, delegationVersion, type DelegationVersion } from './ns.js';
import { elementChildren, forwardedStanza } from './privilege.js';
import { replyAttrs } from './stanzas.js';

/** The delegation element among a stanza's direct children, with its version. */
export function delegationChild(el: Element, name?: string): { el: Element; version: DelegationVersion } | undefined {
  for (const c of elementChildren(el)) {
    const version = delegationVersion(c.getNS());
    if (version !== undefined && (name === undefined || c.name === name)) return { el: c, version };
  }
  return undefined;
}

/** Namespace → filtering attributes, as one advertisement lists them. */
export type Delegated = Map<string, readonly string[]>;

/** Reads `<delegation><delegated namespace><attribute name/>*</delegated>*</delegation>`; client mode (`to` on it) is not an admin advertisement. */
export function parseDelegationAdvertisement(message: Element): { version: DelegationVersion; delegated: Delegated } | undefined {
  const d = delegationChild(message, 'delegation');
  if (!d || d.el.attrs.to !== undefined) return undefined;
  const ns = DELEGATION_NS[d.version];
  const delegated: Delegated = new Map();
  for (const item of elementChildren(d.el)) {
    if (item.name !== 'delegated' || item.getNS() !== ns) continue;
    const namespace = item.attrs.namespace as string | undefined;
    if (!namespace) continue;
    const attrs = elementChildren(item)
      .filter((a) => a.name === 'attribute' && a.getNS() === ns && typeof a.attrs.name === 'string')
      .map((a) => String(a.attrs.name));
    delegated.set(namespace, attrs);
  }
  return { version: d.version, delegated };
}

export function buildDelegationAdvertisement(from: string, to: string, delegated: Delegated, version: DelegationVersion, id?: string): Element {
  const attrs: Record<string, string> = { from, to };
  if (id !== undefined) attrs.id = id;
  const message = new Element('message', attrs);
  const d = message.c('delegation', { xmlns: DELEGATION_NS[version] });
  for (const [namespace, names] of [...delegated].sort(([a], [b]) => byCodeUnits(a, b))) {
    const item = d.c('delegated', { namespace });
    for (const name of names) item.c('attribute', { name });
  }
  return message;
}

/** The user's IQ inside a delegated request (`<iq type='set'><delegation><forwarded><iq/>`). */
export type ForwardedIq = { ok: true; version: DelegationVersion; iq: Element } | { ok: false; problem: string };

export function forwardedIq(outer: Element): ForwardedIq {
  const d = delegationChild(outer, 'delegation');
  if (!d) return { ok: false, problem: 'no <delegation/>' };
  if (elementChildren(outer).length !== 1) return { ok: false, problem: 'the iq must hold only <delegation/>' };
  const fwd = forwardedStanza(d.el);
  if (!fwd.ok) return fwd;
  if (fwd.stanza.name !== 'iq' || fwd.stanza.getNS() !== NS.client) return { ok: false, problem: 'the forwarded stanza must be a jabber:client iq' };
  // Prosody drops a reply whose <forwarded/> holds more than the iq (no <delay/> in replies).
  if (elementChildren(elementChildren(d.el)[0]!).length !== 1) return { ok: false, problem: '<forwarded/> must hold only the iq' };
  return { ok: true, version: d.version, iq: fwd.stanza };
}

/** XEP-0355 §7.2: `urn:xmpp:delegation:N::NS` (server level) and `urn:xmpp:delegation:N:bare:NS` (accounts). */
export function nestingNode(node: string | undefined): { version: DelegationVersion; level: 'server' | 'bare'; namespace: string } | undefined {
  const m = /^urn:xmpp:delegation:([12])(::|:bare:)(.+)$/.exec(node ?? '');
  if (!m) return undefined;
  return { version: Number(m[1]) as DelegationVersion, level: m[2] === '::' ? 'server' : 'bare', namespace: m[3]! };
}

/**
 * The namespaces a forwarded IQ may be delegated under: its payload namespace,
 * and for disco on a bare JID the special namespaces of XEP-0355 §7.2.4/§7.2.5.
 */
export function delegationKeys(iq: Element, version: DelegationVersion): string[] {
  const payload = elementChildren(iq)[0];
  const ns = payload?.getNS();
  if (!payload || !ns) return [];
  const keys = [ns];
  const to = iq.attrs.to as string | undefined;
  const bareTarget = to === undefined || (to.includes('@') && !to.includes('/'));
  if (bareTarget && ns === DISCO.info && payload.attrs.node !== undefined) keys.push(`${DELEGATION_NS[version]}:bare:disco#info:*`);
  if (bareTarget && ns === DISCO.items) keys.push(`${DELEGATION_NS[version]}:bare:disco#items:*`);
  return keys;
}

/**
 * The answer privguard sends the server in the component's place, so that the
 * user gets an error with its own id. It is an outer `result` wrapping the
 * inner error, not an outer error: Prosody turns an outer error into
 * service-unavailable correctly, but ejabberd relays an outer error to the user
 * with the wrapper's id (its process_iq_result), which the user cannot match.
 * A wrapped inner error is relayed by both with the user's id, provided the
 * inner `from`/`to` are the exact swap of the request (ejabberd compares them).
 * The inner error carries no text and no `by`: users must not see privguard.
 */
export function wrappedError(
  request: Element,
  inner: Element,
  version: DelegationVersion,
  condition: 'service-unavailable' | 'resource-constraint',
): Element {
  const outer = new Element('iq', replyAttrs(request, 'result'));
  const innerAttrs = { xmlns: NS.client, ...replyAttrs(inner, 'error') };
  outer
    .c('delegation', { xmlns: DELEGATION_NS[version] })
    .c('forwarded', { xmlns: NS.forward })
    .c('iq', innerAttrs)
    .c('error', { type: condition === 'service-unavailable' ? 'cancel' : 'wait' })
    .c(condition, { xmlns: NS.stanzaErrors });
  return outer;
}
