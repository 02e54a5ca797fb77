/**
 * Serialises a stanza tree exactly as privguard judged it. ltx's toString()
 * writes tabs, newlines and carriage returns raw inside attribute values, which
 * the receiving parser normalises to spaces (XML 1.0 §3.3.3): the server would
 * read another value than the one judged. Here they become character references.
 */
import { Element } from '@xmpp/xml';

// Characters XML forbids (XML 1.0 §2.2) never come from the parser, but texts
// privguard writes itself may quote input (an invalid name in an error text):
// they become U+FFFD, so privguard never sends what it would itself refuse.
const ATTR_SPECIAL = /[&<>"\t\n\r\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;
const TEXT_SPECIAL = /[&<>\r\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;
const REPLACEMENTS: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};
const replace = (c: string): string => REPLACEMENTS[c] ?? '\uFFFD';

// A loop finds out whether there is anything to escape faster than a regular
// expression does on the short values of a stanza; most have nothing.
export function escapeAttr(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x3e ? c < 0x20 || c === 0x26 || c === 0x3c || c === 0x3e || c === 0x22 : c >= 0xfffe) return value.replace(ATTR_SPECIAL, replace);
  }
  return value;
}

export function escapeText(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x3e ? (c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x26 || c === 0x3c || c === 0x3e : c >= 0xfffe) return value.replace(TEXT_SPECIAL, replace);
  }
  return value;
}

export function serialize(el: Element): string {
  // String concatenation (ropes in V8) beats collecting parts in an array here.
  let s = `<${el.name}`;
  const attrs: Record<string, string | number | null | undefined> = el.attrs;
  for (const k in attrs) {
    const v = attrs[k];
    if (v === undefined || v === null) continue;
    s += ` ${k}="${escapeAttr(typeof v === 'string' ? v : v.toString(10))}"`;
  }
  if (el.children.length === 0) return `${s}/>`;
  s += '>';
  for (const child of el.children) s += typeof child === 'string' ? escapeText(child) : serialize(child);
  return `${s}</${el.name}>`;
}

/** A deep copy of an element (its text and children copied too). */
export function cloneElement(el: Element): Element {
  const copy = new Element(el.name, { ...el.attrs });
  for (const c of el.children) {
    if (typeof c === 'string') copy.t(c);
    else copy.cnode(cloneElement(c));
  }
  return copy;
}
