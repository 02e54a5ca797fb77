/**
 * The parser's fast path: find the extent of one complete top-level stanza
 * that needs no tree, without building one, so it can be forwarded as the
 * characters that arrived.
 *
 * A stanza qualifies only if every reader of XML must see the same thing in
 * it as privguard: element and attribute names are plain ASCII without a
 * prefix; there is no entity or character reference, no CDATA section, no
 * comment or processing instruction; attribute values hold no control
 * character (so no end-of-line or white-space normalisation applies); the root
 * declares no namespace and no descendant declares one privguard judges
 * (`isJudged`, given by the caller: policy/framed.ts's isJudgedNamespace) —
 * except along the path of a privileged message (privileged-shape.ts), which
 * is recognised and handed on with its inner message's attributes. Anything
 * else, and anything not well-formed or over a limit, returns undefined: the
 * full parser takes the stanza from the same position and either judges it
 * or reports the error. So the fast path never
 * accepts what the full path refuses, and never decides anything itself; the
 * differential test in test/property/frame.property.test.ts checks this.
 */
import { NS } from './ns.js';
import type { ParserLimits } from './parser.js';
import { PrivilegedShape } from './privileged-shape.js';
import { isWs } from './xml-text.js';
import { extraUtf8 } from './utf8.js';

/**
 * A framed stanza: its root's name and attributes, and its characters as they
 * arrived. Attribute values are cut out of the input only when asked for (the
 * fast path reads two or three of them).
 */
export class FramedStanza {
  readonly name: string;
  readonly xml: string;
  /** Set when the stanza is a privileged message (its one judged part, read without a tree). */
  readonly privileged: PrivilegedShape | undefined;
  #buf: string;
  /** [nameStart, nameEnd, valueStart, valueEnd] per root attribute, into #buf. */
  #marks: number[];
  #attrs: Record<string, string> | undefined;

  constructor(name: string, buf: string, start: number, end: number, marks: number[], privileged: PrivilegedShape | undefined) {
    this.name = name;
    this.xml = buf.slice(start, end);
    this.privileged = privileged;
    this.#buf = buf;
    this.#marks = marks;
  }

  /** The value of the root attribute `name`, exactly as the next parser reads it. */
  attr(name: string): string | undefined {
    const m = this.#marks;
    for (let a = 0; a < m.length; a += 4) {
      if (m[a + 1]! - m[a]! === name.length && this.#buf.startsWith(name, m[a])) return this.#buf.slice(m[a + 2], m[a + 3]);
    }
    return undefined;
  }

  /** All the root's attributes. */
  get attrs(): Readonly<Record<string, string>> {
    if (this.#attrs === undefined) {
      const m = this.#marks;
      this.#attrs = {};
      for (let a = 0; a < m.length; a += 4) this.#attrs[this.#buf.slice(m[a], m[a + 1])] = this.#buf.slice(m[a + 2], m[a + 3]);
    }
    return this.#attrs;
  }
}

/** More attributes than this on one element: the full path's duplicate check handles it. */
const MAX_FAST_ATTRS = 16;

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
}

/** Whether buf[start, end) names an attribute already in the first `count` entries of `marks` (a duplicate). */
function sameNameBefore(buf: string, marks: number[], count: number, start: number, end: number): boolean {
  for (let a = 0; a < count; a += 4) {
    const s = marks[a]!;
    if (marks[a + 1]! - s !== end - start) continue;
    let k = 0;
    while (k < end - start && buf.charCodeAt(s + k) === buf.charCodeAt(start + k)) k++;
    if (k === end - start) return true;
  }
  return false;
}

/**
 * The open elements' name positions: an array's API over storage kept from one
 * stanza to the next. A fresh array per stanza, grown by push and trimmed again
 * by pop, was a good part of what the fast path allocated (and so of the
 * collector's work). Safe to share: frameStanza runs to its end without
 * calling out but to isJudged.
 */
class OpenStack {
  #items: number[] = [];
  length = 0;

  reset(): this {
    this.length = 0;
    return this;
  }

  push(start: number, end: number): void {
    this.#items[this.length++] = start;
    this.#items[this.length++] = end;
  }

  pop(): number | undefined {
    return this.length === 0 ? undefined : this.#items[--this.length];
  }
}
const OPEN = new OpenStack();
/**
 * Attribute marks of the root and of the child element being read, kept from
 * one stanza to the next for the same reason (an array grown from empty per
 * stanza was most of what framing a privileged message allocated). The root's
 * are copied out, at their exact size, into the FramedStanza.
 */
const ROOT_MARKS: number[] = new Array<number>(MAX_FAST_ATTRS * 4).fill(0);
const CHILD_MARKS: number[] = new Array<number>(MAX_FAST_ATTRS * 4).fill(0);

/**
 * Frame the stanza starting at `buf[pos] === '<'` (a start tag at stream
 * level). Returns it, or undefined when the full parser must take it (it does
 * not qualify, is malformed, over a limit, or not complete in `buf`).
 *
 * `plain`: the caller knows that every character of `buf` is printable ASCII
 * other than '&' and ']' (protocol/utf8.ts finds that out from the bytes far
 * more cheaply than a loop here could). Then nothing in a text run or an
 * attribute value needs a look but the '<' or quote that ends it, found with
 * indexOf, and such runs add no UTF-8 bytes beyond one per character.
 * Without it every character of them is looked at.
 */
export function frameStanza(buf: string, pos: number, limits: ParserLimits, isJudged: (ns: string) => boolean, plain = false): FramedStanza | undefined {
  const len = buf.length;
  const maxChars = limits.maxStanzaBytes;
  // Open elements as [nameStart, nameEnd] pairs into buf (no strings built).
  const open = OPEN.reset();
  let name = '';
  const rootMarks = ROOT_MARKS;
  let rootCount = 0;
  // Reused for every child element, with its own count (setting an array's length is a call into the runtime):
  // only duplicates are looked for there, and the privileged shape copies the inner message's.
  const childMarks = CHILD_MARKS;
  let rootKids = 0;
  let shape: PrivilegedShape | undefined;
  let extra = 0; // UTF-8 bytes beyond one per character
  let i = pos;
  for (;;) {
    if (i - pos + extra > maxChars) return undefined;
    const c1 = buf.charCodeAt(i + 1);
    if (c1 === 0x2f /* / */) {
      // End tag: must close the innermost open element, by the very same name.
      if (open.length === 0) return undefined;
      const e = open.pop()!;
      const s = open.pop()!;
      let j = i + 2;
      if (j + (e - s) > len) return undefined;
      for (let k = s; k < e; k++, j++) if (buf.charCodeAt(j) !== buf.charCodeAt(k)) return undefined;
      while (j < len && isWs(buf.charCodeAt(j))) j++;
      if (j >= len || buf.charCodeAt(j) !== 0x3e) return undefined;
      i = j + 1;
      if (open.length === 0) break;
    } else {
      // Start tag.
      if (!isNameStart(c1)) return undefined; // also '!', '?', non-ASCII, end of input
      if (open.length / 2 >= limits.maxDepth) return undefined;
      const nameStart = i + 1;
      let j = nameStart + 1;
      while (j < len && isNameChar(buf.charCodeAt(j))) j++;
      const nameEnd = j;
      const root = open.length === 0;
      if (root) name = buf.slice(nameStart, nameEnd);
      // This element's attributes: [nameStart, nameEnd, valueStart, valueEnd] each.
      const marks = root ? rootMarks : childMarks;
      let count = 0; // entries of `marks` that are this element's
      let selfClosing = false;
      let ns: string | undefined; // the namespace this element declares
      let lt = -1; // with `plain`: the next '<' at or after the value being read, found once per tag
      for (;;) {
        const wsStart = j;
        while (j < len && isWs(buf.charCodeAt(j))) j++;
        if (j >= len) return undefined;
        const c = buf.charCodeAt(j);
        if (c === 0x3e /* > */) {
          j++;
          break;
        }
        if (c === 0x2f /* / */) {
          if (buf.charCodeAt(j + 1) !== 0x3e) return undefined;
          selfClosing = true;
          j += 2;
          break;
        }
        // A name must be followed by white space, '>' or '/>': ':' (a prefix) and the rest end here.
        if (j === wsStart || !isNameStart(c)) return undefined;
        const attrStart = j;
        j++;
        while (j < len && isNameChar(buf.charCodeAt(j))) j++;
        const attrEnd = j;
        while (j < len && isWs(buf.charCodeAt(j))) j++;
        if (buf.charCodeAt(j) !== 0x3d /* = */) return undefined;
        j++;
        while (j < len && isWs(buf.charCodeAt(j))) j++;
        const quote = buf.charCodeAt(j);
        if (quote !== 0x22 && quote !== 0x27) return undefined;
        const valueStart = j + 1;
        let k = valueStart;
        if (plain) {
          k = buf.indexOf(quote === 0x22 ? '"' : "'", valueStart);
          if (k === -1) return undefined;
          if (lt < valueStart) {
            lt = buf.indexOf('<', valueStart);
            if (lt === -1) lt = len;
          }
          if (lt < k) return undefined;
        } else {
          for (; k < len; k++) {
            const v = buf.charCodeAt(k);
            if (v === quote) break;
            if (v < 0x20 || v === 0x26 /* & */ || v === 0x3c /* < */ || v === 0xfffe || v === 0xffff) return undefined;
            if (v >= 0x80) extra += extraUtf8(v);
          }
          if (k >= len) return undefined;
        }
        if (count >= MAX_FAST_ATTRS * 4 || sameNameBefore(buf, marks, count, attrStart, attrEnd)) return undefined;
        marks[count++] = attrStart;
        marks[count++] = attrEnd;
        marks[count++] = valueStart;
        marks[count++] = k;
        if (attrEnd - attrStart === 5 && buf.startsWith('xmlns', attrStart)) {
          // The root stays in the stream's namespace; a child may move into one nobody here judges.
          if (root) return undefined;
          ns = buf.slice(valueStart, k);
          // No namespace, or a reserved one as the default: the full parser (and libexpat) refuses the latter.
          if (ns === '' || ns === NS.xml || ns === NS.xmlns) return undefined;
        }
        j = k + 1;
      }
      if (root) {
        rootCount = count;
      } else {
        const depth = open.length / 2;
        if (shape !== undefined) {
          if (!shape.open(depth, nameStart, nameEnd, ns, childMarks, count)) return undefined;
        } else if (ns !== undefined) {
          // A privilege wrapper starts the one judged shape the fast path reads; any other judged namespace ends it.
          shape = PrivilegedShape.start(name === 'message', depth, rootKids === 0, buf, nameStart, nameEnd, ns, isJudged);
          if (shape === undefined && isJudged(ns)) return undefined;
        }
        if (depth === 1) rootKids++;
      }
      i = j;
      if (selfClosing) {
        if (root) break;
      } else {
        open.push(nameStart, nameEnd);
      }
    }
    // Character data up to the next tag.
    let k = i;
    if (plain) {
      k = buf.indexOf('<', i);
      if (k === -1) return undefined;
    } else {
      for (; k < len; k++) {
        const c = buf.charCodeAt(k);
        if (c === 0x3c) break;
        if (c < 0x20) {
          if (c !== 0x0a && c !== 0x09 && c !== 0x0d) return undefined;
        } else if (c >= 0x80) {
          if (c === 0xfffe || c === 0xffff) return undefined;
          extra += extraUtf8(c);
        } else if (c === 0x26 /* & */ || (c === 0x5d /* ] */ && buf.charCodeAt(k + 1) === 0x5d && buf.charCodeAt(k + 2) === 0x3e)) {
          return undefined;
        }
      }
      if (k >= len) return undefined;
    }
    i = k;
  }
  if (i - pos + extra > maxChars) return undefined;
  if (shape !== undefined && !shape.complete) return undefined;
  const framed = new FramedStanza(name, buf, pos, i, rootMarks.slice(0, rootCount), shape);
  // A privileged message goes on as it arrived only where the full path would send these very
  // characters: a stanza with a CR in its text is sent re-serialised there (line ends normalised).
  // (`plain` input has no control character at all.)
  if (shape !== undefined && !plain && framed.xml.indexOf('\r') !== -1) return undefined;
  return framed;
}
