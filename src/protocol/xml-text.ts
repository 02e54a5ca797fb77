/**
 * The lexical rules of XML 1.0 the stream parser applies to names, character
 * data and attribute values: which names are QNames, which characters are
 * legal, how references are decoded and how line ends are normalised. Failures
 * are thrown as XmlFail, which the parser turns into a value at its edge.
 */
import type { StreamErrorCondition } from './ns.js';

/** Internal control flow of the parser only; never escapes `StreamParser.write()`. */
export class XmlFail extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text: string,
  ) {
    super(text);
  }
}

const NCNAME_START = 'A-Za-z_\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD';
const NCNAME_CHAR = `${NCNAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
// eslint-disable-next-line no-misleading-character-class -- U+200C/U+200D are NameStartChars of XML 1.0 §2.3
const QNAME = new RegExp(`^[${NCNAME_START}][${NCNAME_CHAR}]*(?::[${NCNAME_START}][${NCNAME_CHAR}]*)?$`);
/**
 * Names seen lately, in slots by a hash of their characters: a name that
 * repeats (message, from, to, id, xmlns...) is neither cut out of the input
 * nor validated again, and the same string comes back each time (cheap as a
 * property key). Bounded: NAME_SLOTS names of at most MAX_KEPT_NAME characters.
 */
const NAME_SLOTS = 1024;
const MAX_KEPT_NAME = 64;
const nameSlots: string[] = new Array<string>(NAME_SLOTS).fill('');

/** The name in buf[start, end) (its hash computed while scanning), or undefined when it is no QName. */
export function nameAt(buf: string, start: number, end: number, hash: number): string | undefined {
  const n = end - start;
  if (n > MAX_KEPT_NAME) {
    const name = buf.slice(start, end);
    return QNAME.test(name) ? name : undefined;
  }
  const slot = hash & (NAME_SLOTS - 1);
  const kept = nameSlots[slot]!;
  if (kept.length === n && buf.startsWith(kept, start)) return kept;
  const name = buf.slice(start, end);
  if (!QNAME.test(name)) return undefined;
  // A copy, not a slice that would keep the whole read alive.
  nameSlots[slot] = (' ' + name).slice(1);
  return name;
}

/** XML 1.0 §2.2: characters that may never appear, raw or as references. */
export const ILLEGAL_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const ENTITY = /&([^;&]*);/g;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** The longest entity reference the parser waits for across reads (`&#x10FFFF;`). */
export const MAX_ENTITY_LENGTH = 10;
export const WS = /^[ \t\r\n]*$/;

export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

export function decodeEntities(raw: string): string {
  if (ILLEGAL_CHAR.test(raw)) throw new XmlFail('not-well-formed', 'illegal XML character');
  if (raw.indexOf('&') === -1) return raw;
  const out = raw.replace(ENTITY, (_m, name: string) => {
    const predefined = PREDEFINED[name];
    if (predefined !== undefined) return predefined;
    let code: number;
    if (/^#x[0-9a-fA-F]{1,6}$/.test(name)) code = parseInt(name.slice(2), 16);
    else if (/^#[0-9]{1,7}$/.test(name)) code = parseInt(name.slice(1), 10);
    else throw new XmlFail('not-well-formed', `undefined entity &${name};`);
    const legal =
      code === 0x9 || code === 0xa || code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      (code >= 0x10000 && code <= 0x10ffff);
    if (!legal) throw new XmlFail('not-well-formed', `illegal character reference &${name};`);
    return String.fromCodePoint(code);
  });
  // A '&' left over was not part of a well-formed reference.
  if (/&(?![^;&]*;)/.test(raw)) throw new XmlFail('not-well-formed', "'&' not starting an entity reference");
  return out;
}

/** XML 1.0 §2.11 end-of-line handling. */
export function normaliseEol(s: string): string {
  return s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n');
}
