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

// ── the component's reply, as the server reads it ──────────────────────

/** The component's reply to a delegated IQ, taken apart; `field` says what was wrong with it. */
export type ReplyShape =
  | { ok: true; version: DelegationVersion; iq: Element; payload: Element[] }
  | { ok: false; field: 'wrapper' | 'text' | 'payload'; problem: string };

const BLANK = /^[ \t\r\n]*$/;

/** The one element among el's children, white space aside; or what else is there. */
function soleElement(el: Element): Element | 'text' | 'none' | 'several' {
  let only: Element | undefined;
  for (const c of el.children) {
    if (typeof c === 'string') {
      if (!BLANK.test(c)) return 'text';
    } else if (only !== undefined) {
      return 'several';
    } else {
      only = c;
    }
  }
  return only ?? 'none';
}

/**
 * Takes a reply apart the way Prosody's mod_delegation (managing_ent_result)
 * reads it: `<iq><delegation><forwarded><iq xmlns='jabber:client'>`, one node
 * in each wrapper, at most one child in a result and two in an error. Prosody
 * counts nodes, text included, and silently discards a reply that breaks any
 * of this after unhooking the request: the user then never gets an answer.
 * White space between the wrappers is accepted here because the reply is
 * rebuilt without it (buildDelegationReply); any other text is refused.
 */
export function delegationReplyShape(outer: Element): ReplyShape {
  const wrapper = (problem: string): ReplyShape => ({ ok: false, field: 'wrapper', problem });
  const text = (where: string): ReplyShape => ({ ok: false, field: 'text', problem: `text in ${where}` });
  const d = soleElement(outer);
  if (d === 'text') return text('the iq');
  if (typeof d === 'string') return wrapper('the iq must hold only <delegation/>');
  const version = delegationVersion(d.getNS());
  if (d.name !== 'delegation' || version === undefined) return wrapper('the iq must hold only <delegation/>');
  const f = soleElement(d);
  if (f === 'text') return text('<delegation/>');
  if (typeof f === 'string' || f.name !== 'forwarded' || f.getNS() !== NS.forward) return wrapper('<delegation/> must hold only <forwarded/>');
  const iq = soleElement(f);
  if (iq === 'text') return text('<forwarded/>');
  if (typeof iq === 'string' || iq.name !== 'iq' || iq.getNS() !== NS.client) return wrapper('<forwarded/> must hold only a jabber:client iq');
  const payload: Element[] = [];
  for (const c of iq.children) {
    if (typeof c !== 'string') payload.push(c);
    else if (!BLANK.test(c)) return text('the inner iq');
  }
  if (iq.attrs.type === 'result' && payload.length > 1) return { ok: false, field: 'payload', problem: 'a result holds at most one element' };
  if (iq.attrs.type === 'error' && payload.length > 2) return { ok: false, field: 'payload', problem: 'an error holds at most two elements' };
  return { ok: true, version, iq, payload };
}

/**
 * The reply to the server's delegated `request`, rebuilt from its judged parts:
 * outer attributes from the request (so `from` is exactly the JID the server
 * delegated to), no text between the wrappers, the inner iq with exactly
 * `innerAttrs` and `payload`.
 */
export function buildDelegationReply(request: Element, version: DelegationVersion, innerAttrs: Record<string, string>, payload: readonly Element[]): Element {
  const outer = new Element('iq', replyAttrs(request, 'result'));
  const iq = outer
    .c('delegation', { xmlns: DELEGATION_NS[version] })
    .c('forwarded', { xmlns: NS.forward })
    .c('iq', { xmlns: NS.client, ...innerAttrs });
  for (const p of payload) iq.cnode(p);
  return outer;
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
