/**
 * privguard's view of a stanza in the canonical form the differential readers
 * print (expat.lua's tree(), fxml.escript's form()): resolved namespaces,
 * names, attributes (prefixed ones by namespace, sorted), adjacent text joined.
 */
import type { Element } from '@xmpp/xml';
import { NS } from '../../src/protocol/ns.js';

/** As expat.lua's esc(): '%', control characters and the form's separators as %XX. */
const esc = (s: string): string => s.replace(/[%\x00-\x1f\x7f|=,;{}()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

/** privguard's tree in the canonical form of expat.lua's tree(). */
export function canonical(el: Element): string {
  const attrs: string[] = [];
  for (const [k, v] of Object.entries(el.attrs)) {
    if (v === undefined || v === null || k === 'xmlns' || k.startsWith('xmlns:')) continue;
    const c = k.indexOf(':');
    const prefix = k.slice(0, c);
    const name = c === -1 ? k : `${prefix === 'xml' ? NS.xml : String(el.attrs[`xmlns:${prefix}`])}\x01${k.slice(c + 1)}`;
    attrs.push(`${esc(name)}=${esc(String(v))}`);
  }
  attrs.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const children: string[] = [];
  let text: string | undefined;
  for (const child of el.children) {
    if (typeof child === 'string') {
      text = (text ?? '') + child;
      continue;
    }
    if (text !== undefined) children.push(`'${esc(text)}`);
    text = undefined;
    children.push(canonical(child));
  }
  if (text !== undefined) children.push(`'${esc(text)}`);
  return `{${esc(el.getNS() ?? '')}}${esc(el.name)}(${attrs.join(',')})[${children.join(',')}]`;
}
