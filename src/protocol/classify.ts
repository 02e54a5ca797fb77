/**
 * What a top-level element on a component stream is, read from its resolved
 * namespace (the parser hands out canonical elements: a stanza root without an
 * `xmlns` attribute is in the stream's content namespace).
 */
import type { Element } from '@xmpp/xml';
import { isStanzaName, NS, type StanzaName } from './ns.js';

export type TopLevel =
  | { kind: 'stanza'; name: StanzaName }
  | { kind: 'handshake' }
  | { kind: 'stream-error'; condition: string | undefined; text: string | undefined }
  | { kind: 'other'; name: string; ns: string };

// One answer per stanza name, shared (frozen): every stanza is classified, none needs its own object.
const STANZA: Readonly<Record<StanzaName, TopLevel>> = {
  message: Object.freeze({ kind: 'stanza', name: 'message' }),
  presence: Object.freeze({ kind: 'stanza', name: 'presence' }),
  iq: Object.freeze({ kind: 'stanza', name: 'iq' }),
};
const HANDSHAKE: TopLevel = Object.freeze({ kind: 'handshake' });

export function classifyTopLevel(el: Element): TopLevel {
  const ns = (el.attrs.xmlns as string | undefined) ?? NS.component;
  if (ns === NS.component) {
    if (isStanzaName(el.name)) return STANZA[el.name];
    if (el.name === 'handshake') return HANDSHAKE;
  }
  if (ns === NS.streams && el.name === 'error') {
    const condition = el.children.find(
      (c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS.streamErrors && c.name !== 'text',
    );
    const text = el.getChildText('text', NS.streamErrors) ?? undefined;
    return { kind: 'stream-error', condition: condition?.name, text };
  }
  return { kind: 'other', name: el.name, ns };
}
