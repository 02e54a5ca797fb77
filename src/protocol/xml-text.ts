/**
 * The lexical rules of XML 1.0 the stream parser applies to names, character
 * data and attribute values: which names are QNames, which characters are
 * legal, how references are decoded and how line ends are normalised. Failures
 * are thrown as XmlFail, which the parser turns into a value at its edge.
 */
import type { StreamErrorCondition } from './ns.js';
import { NAME_CHAR, NAME_START } from './xml-names.js';

/** Internal control flow of the parser only; never escapes `StreamParser.write()`. */
export class XmlFail extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text: string,
  ) {
    super(text);
  }
}

// libexpat's name tables (generated), not XML 1.0 5th edition's: a name the
// server's parser refuses must be refused here, before privguard forwards it.
const QNAME = new RegExp(`^[${NAME_START}][${NAME_CHAR}]*(?::[${NAME_START}][${NAME_CHAR}]*)?$`);
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
  // Empty slots hold '': without this an empty name would be "found" there, never validated.
  if (n === 0) return undefined;
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

/**
 * XML 1.0 §2.11 end-of-line handling. It applies to the raw input only: a CR
 * written as `&#13;` stays a CR, so call this before decodeEntities.
 */
export function normaliseEol(s: string): string {
  return s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n');
}
