/** Stanzas written as XML in tests, parsed exactly as privguard's stream layer parses a component's stream. */
import type { Element } from '@xmpp/xml';
import { StreamParser, type ParserLimits } from '../../src/protocol/parser.js';

export const STREAM_HEADER = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>";

/** Every stanza in `xml` (fragments after an implied component stream header); throws if it does not parse. */
export function parseStanzas(xml: string, limits: ParserLimits = { maxStanzaBytes: 1 << 20, maxDepth: 64 }): Element[] {
  const out: Element[] = [];
  const p = new StreamParser({ onHeader: () => {}, onStanza: (e) => void out.push(e), onEnd: () => {} }, limits);
  const f = p.write(STREAM_HEADER + xml);
  if (f) throw new Error(`fixture did not parse: ${f.condition}: ${f.text}`);
  return out;
}

/** The first stanza in `xml`. */
export function parseStanza(xml: string): Element {
  const [el] = parseStanzas(xml);
  if (!el) throw new Error('no stanza in fixture');
  return el;
}
