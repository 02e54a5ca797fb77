/**
 * The addressing rules every stanza from a component must follow before any
 * privilege is considered (XEP-0114 §3, reference/specs.md §1.3): `from` is the
 * component's own domain or a JID under it, `to` is present and a valid JID.
 * Both servers close the stream with `invalid-from` on a bad `from`; privguard
 * does the same, so a component cannot tell it apart from the server.
 */
import type { Element } from '@xmpp/xml';
import { parseJid } from '../protocol/jid.js';
import { PASS, rejectStream, type Verdict } from './verdict.js';

export function checkAddressing(component: string, stanza: Element): Verdict {
  const from = stanza.attrs.from as string | undefined;
  if (from === undefined) {
    return rejectStream('invalid_from', 'invalid-from', `stanza without "from" (components must address every stanza)`);
  }
  const parsed = parseJid(from);
  if (!parsed.ok || parsed.jid.domain !== component) {
    return rejectStream('invalid_from', 'invalid-from', `"from" must be ${component} or a JID under it`);
  }
  const to = stanza.attrs.to as string | undefined;
  if (to === undefined) {
    return rejectStream('missing_to', 'improper-addressing', 'stanza without "to"');
  }
  if (!parseJid(to).ok) {
    return rejectStream('malformed_to', 'improper-addressing', `malformed "to" address`);
  }
  return PASS;
}
