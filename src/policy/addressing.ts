/**
 * The addressing rules every stanza from a component must follow before any
 * privilege is considered (XEP-0114 §3, reference/specs.md §1.3): `from` is the
 * component's own domain or a JID under it, `to` is present and a valid JID.
 * Both servers close the stream with `invalid-from` on a bad `from`; privguard
 * does the same, so a component cannot tell it apart from the server.
 */
import type { Element } from '@xmpp/xml';
import type { TopLevel } from '../protocol/classify.js';
import { parseJid } from '../protocol/jid.js';
import { PASS, rejectStream, type Verdict } from './verdict.js';

/**
 * Every top-level element a component sends once online: only message,
 * presence and iq in jabber:component:accept (DESIGN.md threat model 3), each
 * addressed as XEP-0114 requires.
 */
export function checkComponentElement(component: string, top: TopLevel, el: Element): Verdict {
  if (top.kind !== 'stanza') {
    const what = top.kind === 'other' ? `<${top.name} xmlns="${top.ns}">` : `<${top.kind}>`;
    return rejectStream('unsupported_stanza_type', 'unsupported-stanza-type', what);
  }
  return checkAddressing(component, el);
}

/** What the addressing rules read: a stanza's name and attributes (a tree, or a fast-path stanza's root). */
export interface Addressed {
  name: string;
  attrs: Readonly<Record<string, unknown>>;
}

export function checkAddressing(component: string, stanza: Addressed): Verdict {
  return checkAddresses(component, stanza.name, stanza.attrs.from as string | undefined, stanza.attrs.to as string | undefined);
}

/** The same rules over a stanza's name, `from` and `to` (the fast path reads them off its characters, with no object to hold them). */
export function checkAddresses(component: string, name: string, from: string | undefined, to: string | undefined): Verdict {
  // The subject is built only for a refusal: a pass costs no string.
  if (from === undefined) {
    return rejectStream('invalid_from', 'invalid-from', `<${name}>`, 'components must address every stanza');
  }
  const parsed = parseJid(from);
  if (!parsed.ok || parsed.jid.domain !== component) {
    return rejectStream('invalid_from', 'invalid-from', `<${name}>`, `it must be ${component} or a JID under it`);
  }
  if (to === undefined) return rejectStream('missing_to', 'improper-addressing', `<${name}>`);
  if (!parseJid(to).ok) return rejectStream('malformed_to', 'improper-addressing', `<${name}>`);
  return PASS;
}
