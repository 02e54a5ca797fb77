/**
 * The start-tag tokenizer of the stream parser: reads one start tag (its
 * qualified name and its attributes, values decoded and normalised as XML 1.0
 * §3.3.3 says) without building anything but strings, and counts its UTF-8
 * bytes for the stanza size limit. Names are checked to be QNames here;
 * namespaces are resolved by protocol/tree.ts.
 */
import { extraUtf8 } from './utf8.js';
import { decodeEntities, isWs, nameAt, normaliseEol, XmlFail as Fail } from './xml-text.js';

/** One start tag, read into reused scratch space (a tag costs no arrays). */
export interface StartTag {
  qname: string;
  /** Attributes [0, count) in names/values, in document order. */
  names: string[];
  values: string[];
  count: number;
  selfClosing: boolean;
  /** The position after the tag's '>'. */
  end: number;
  /** UTF-8 bytes of the tag. */
  bytes: number;
  /**
   * Every reader of XML reads this tag's characters as the parser does: no
   * prefix (but `xml:` on an attribute), no `xmlns:` declaration, no `xmlns=''`,
   * no reference, control character or U+FFFE/U+FFFF in a value.
   */
  plain: boolean;
  /** The tag declares a default namespace (`xmlns`). */
  declaresDefault: boolean;
}

export function newStartTag(): StartTag {
  return { qname: '', names: [], values: [], count: 0, selfClosing: false, end: 0, bytes: 0, plain: true, declaresDefault: false };
}

/**
 * Read the start tag at buf[pos] === '<' into `tag`. Returns false when the tag
 * is not complete in buf; throws XmlFail when it is not well-formed.
 */
export function readStartTag(buf: string, pos: number, tag: StartTag): boolean {
  const len = buf.length;
  let i = pos + 1;
  let hash = 0;
  let extra = 0; // UTF-8 bytes of the tag beyond one per character
  let tagPlain = true;
  let declaresDefault = false;
  while (i < len) {
    const c = buf.charCodeAt(i);
    if (c <= 0x3e) {
      if (isWs(c) || c === 0x3e || c === 0x2f) break;
      if (c === 0x3a /* : */) tagPlain = false;
      // Cannot be part of a name: fail now rather than wait for a '>'.
      if (c === 0x3c || c === 0x26 || c === 0x22 || c === 0x27 || c === 0x3d) {
        throw new Fail('not-well-formed', `invalid character in the element name "${buf.slice(pos + 1, i + 1).slice(0, 64)}"`);
      }
    } else if (c >= 0x80) {
      extra += extraUtf8(c);
    }
    hash = (Math.imul(hash, 31) + c) | 0;
    i++;
  }
  if (i >= len) return false;
  const qname = nameAt(buf, pos + 1, i, hash);
  if (qname === undefined) throw new Fail('not-well-formed', `invalid element name "${buf.slice(pos + 1, Math.min(i, pos + 65))}"`);
  const names = tag.names;
  const values = tag.values;
  let count = 0;
  let selfClosing = false;
  for (;;) {
    const wsStart = i;
    while (i < len && isWs(buf.charCodeAt(i))) i++;
    if (i >= len) return false;
    const c = buf.charCodeAt(i);
    if (c === 0x3e /* > */) {
      i++;
      break;
    }
    if (c === 0x2f /* / */) {
      if (i + 1 >= len) return false;
      if (buf.charCodeAt(i + 1) !== 0x3e) throw new Fail('not-well-formed', "'/' not followed by '>'");
      selfClosing = true;
      i += 2;
      break;
    }
    if (i === wsStart) throw new Fail('not-well-formed', 'attributes must be separated by white space');
    const nameStart = i;
    hash = 0;
    let prefixed = false;
    while (i < len) {
      const a = buf.charCodeAt(i);
      if (a <= 0x3e) {
        if (a === 0x3d /* = */ || isWs(a) || a === 0x3e || a === 0x2f) break;
        if (a === 0x3a /* : */) prefixed = true;
        if (a === 0x3c || a === 0x26 || a === 0x22 || a === 0x27) {
          throw new Fail('not-well-formed', `invalid character in an attribute name of <${qname}>`);
        }
      } else if (a >= 0x80) {
        extra += extraUtf8(a);
      }
      hash = (Math.imul(hash, 31) + a) | 0;
      i++;
    }
    if (i >= len) return false;
    const name = nameAt(buf, nameStart, i, hash);
    if (name === undefined) throw new Fail('not-well-formed', `invalid attribute name "${buf.slice(nameStart, Math.min(i, nameStart + 64))}"`);
    while (i < len && isWs(buf.charCodeAt(i))) i++;
    if (i >= len) return false;
    if (buf.charCodeAt(i) !== 0x3d) throw new Fail('not-well-formed', `attribute "${name}" without a value`);
    i++;
    while (i < len && isWs(buf.charCodeAt(i))) i++;
    if (i >= len) return false;
    const quote = buf.charCodeAt(i);
    if (quote !== 0x22 && quote !== 0x27) throw new Fail('not-well-formed', `attribute "${name}" value not quoted`);
    // One pass to the closing quote: '<' is an error; references, control
    // characters and U+FFFE/U+FFFF need the slow treatment.
    let plain = true;
    let close = i + 1;
    for (; close < len; close++) {
      const v = buf.charCodeAt(close);
      if (v === quote) break;
      if (v <= 0x3c) {
        if (v === 0x3c) throw new Fail('not-well-formed', `'<' in the value of "${name}"`);
        if (v < 0x20 || v === 0x26) plain = false;
      } else if (v >= 0x80) {
        extra += extraUtf8(v);
        if (v >= 0xfffe) plain = false;
      }
    }
    if (close >= len) return false;
    const raw = buf.slice(i + 1, close);
    // The xml prefix is bound in every document; any other is declared somewhere a reader of this stanza alone may not see.
    if (!plain || (prefixed && !name.startsWith('xml:'))) tagPlain = false;
    else if (name === 'xmlns') {
      declaresDefault = true;
      if (raw.length === 0) tagPlain = false;
    }
    names[count] = name;
    // XML 1.0 §3.3.3: literal white space in attribute values becomes a space.
    values[count] = plain ? raw : decodeEntities(normaliseEol(raw).replace(/[\t\n]/g, ' '));
    count++;
    i = close + 1;
  }
  tag.qname = qname;
  tag.count = count;
  tag.selfClosing = selfClosing;
  tag.end = i;
  tag.bytes = i - pos + extra;
  tag.plain = tagPlain;
  tag.declaresDefault = declaresDefault;
  return true;
}
