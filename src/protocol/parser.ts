/**
 * A streaming XML parser for XMPP streams, written for a security boundary.
 *
 * It turns the characters of one XMPP stream into: the stream header, one
 * @xmpp/xml Element per top-level stanza, and the stream end. Unlike ltx (the
 * tokenizer behind @xmpp/xml's Parser) it:
 *  - resolves namespaces and hands out every element in canonical
 *    default-namespace form (no element prefixes; `xmlns` set wherever the
 *    namespace changes), so that what privguard judges is what it forwards;
 *  - rejects what the server's parser would reject: duplicate attributes,
 *    undeclared prefixes, undefined entities, illegal characters and character
 *    references (`not-well-formed`); DOCTYPE, comments and processing instructions
 *    (`restricted-xml`, RFC 6120 §11.1);
 *  - bounds each stanza by bytes (UTF-8) and depth (`policy-violation`) before it
 *    has buffered more than the limit;
 *  - never throws out of `write()`: a failure is returned as a value and the
 *    parser is dead afterwards;
 *  - drops character data between stanzas instead of accumulating it (Prosody
 *    writes stray text there; keep-alives are whitespace).
 *
 * Out of scope: DTDs of any kind (refused), XML 1.1, astral-plane name characters
 * (names are matched over the BMP).
 */
import { Element } from '@xmpp/xml';
import { frameStanza, type FramedStanza } from './frame.js';
import { NS, type StreamErrorCondition } from './ns.js';
import { extraUtf8, utf8Length } from './utf8.js';

export interface StreamHeader {
  /** Resolved namespace of the root element (must be NS.streams). */
  ns: string;
  /** Local name of the root element (must be `stream`). */
  local: string;
  /** The default namespace in force for stanzas. */
  defaultNs: string | undefined;
  /** Unprefixed attributes (to, from, id, version, ...). */
  attrs: Readonly<Record<string, string>>;
}

export interface ParseFailure {
  condition: StreamErrorCondition;
  text: string;
}

export interface ParserHandlers {
  onHeader(header: StreamHeader): void;
  onStanza(stanza: Element): void;
  onEnd(): void;
  /** White space between stanzas (a keep-alive); called at most once per write. */
  onWhitespace?(): void;
  /**
   * A complete stanza that needs no tree (protocol/frame.ts). Return true when
   * it was handled as it is; false makes the parser parse it in full and hand
   * it to onStanza. Without this handler every stanza is parsed in full.
   */
  onFramed?(stanza: FramedStanza): boolean;
}

export interface ParserLimits {
  maxStanzaBytes: number;
  maxDepth: number;
}

/** Internal control flow only; never escapes `write()`. */
class Fail extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text: string,
  ) {
    super(text);
  }
}

/** An open element: its raw qualified name (for end-tag matching) and scope. */
interface Frame {
  qname: string;
  ns: string | undefined;
  /** Prefix declarations made on this element (undefined when none). */
  prefixes: Map<string, string> | undefined;
  /** The default namespace in force inside this element (undefined: none). */
  scopeDefault: string | undefined;
  el: Element | undefined;
  /** Text not yet flushed into el.children. */
  text: string;
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
function nameAt(buf: string, start: number, end: number, hash: number): string | undefined {
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
const ILLEGAL_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const ENTITY = /&([^;&]*);/g;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** The longest entity reference we wait for across reads (`&#x10FFFF;`). */
const MAX_ENTITY_LENGTH = 10;
const WS = /^[ \t\r\n]*$/;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function decodeEntities(raw: string): string {
  if (ILLEGAL_CHAR.test(raw)) throw new Fail('not-well-formed', 'illegal XML character');
  if (raw.indexOf('&') === -1) return raw;
  const out = raw.replace(ENTITY, (_m, name: string) => {
    const predefined = PREDEFINED[name];
    if (predefined !== undefined) return predefined;
    let code: number;
    if (/^#x[0-9a-fA-F]{1,6}$/.test(name)) code = parseInt(name.slice(2), 16);
    else if (/^#[0-9]{1,7}$/.test(name)) code = parseInt(name.slice(1), 10);
    else throw new Fail('not-well-formed', `undefined entity &${name};`);
    const legal =
      code === 0x9 || code === 0xa || code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      (code >= 0x10000 && code <= 0x10ffff);
    if (!legal) throw new Fail('not-well-formed', `illegal character reference &${name};`);
    return String.fromCodePoint(code);
  });
  // A '&' left over was not part of a well-formed reference.
  if (/&(?![^;&]*;)/.test(raw)) throw new Fail('not-well-formed', "'&' not starting an entity reference");
  return out;
}

/** XML 1.0 §2.11 end-of-line handling. */
function normaliseEol(s: string): string {
  return s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n');
}

/** After this many stanzas in a row took the full path anyway, the next FRAME_SKIPS go there without a fast-path attempt. */
const FRAME_MISSES = 8;
const FRAME_SKIPS = 32;

type Phase = 'prolog' | 'stream' | 'ended' | 'failed';

export class StreamParser {
  #handlers: ParserHandlers;
  #limits: ParserLimits;
  #phase: Phase = 'prolog';
  #sawDecl = false;
  #sawAnything = false;
  /** Unconsumed input carried to the next write (an incomplete token). */
  #pending = '';
  /** True when #pending holds an incomplete markup token (waits for '>'). */
  #pendingMarkup = false;
  /** Stack of open elements; [0] is the stream root once the header is read. */
  #stack: Frame[] = [];
  /** Frames of closed elements, for reuse. */
  #spare: Frame[] = [];
  /** UTF-8 bytes consumed by the stanza being read (0 between stanzas). */
  #stanzaBytes = 0;
  #failure: ParseFailure | undefined;
  #sawWhitespace = false;
  /**
   * Stands for the stream root as every stanza's parent, so getNS() resolves
   * the stream's content namespace on any element. It never holds children and
   * is never serialised.
   */
  #streamElement: Element | undefined;
  /** While suspended, input is held here unparsed (at most what one read delivered). */
  #suspended = false;
  #held = '';
  /** Fast-path attempts that failed in a row, and stanzas left to parse in full without one. */
  #frameMisses = 0;
  #frameSkips = 0;
  /** Scratch space for the attributes of the start tag being read. */
  #attrNames: string[] = [];
  #attrValues: string[] = [];

  constructor(handlers: ParserHandlers, limits: ParserLimits) {
    this.#handlers = handlers;
    this.#limits = limits;
  }

  get failed(): ParseFailure | undefined {
    return this.#failure;
  }

  /** Stop parsing: later writes are ignored (used when the stream is closed). */
  stop(): void {
    if (this.#phase !== 'failed') this.#phase = 'ended';
    this.#pending = '';
    this.#held = '';
    this.#stack = [];
  }

  /**
   * Stop emitting after the current stanza, holding the rest of the input:
   * pausing a socket does not stop the read it already delivered, and a
   * rate limit or backpressure must hold within one read too.
   */
  suspend(): void {
    this.#suspended = true;
  }

  /** Go on with what was held; returns a failure as write() does. */
  resume(): ParseFailure | undefined {
    if (!this.#suspended) return undefined;
    this.#suspended = false;
    const held = this.#held;
    this.#held = '';
    return held.length > 0 ? this.write(held) : undefined;
  }

  /** Feed decoded characters. Returns a failure once; afterwards writes are no-ops. */
  write(chunk: string): ParseFailure | undefined {
    if (this.#phase === 'ended' || this.#phase === 'failed' || chunk.length === 0) return undefined;
    if (this.#suspended) {
      this.#held += chunk;
      return undefined;
    }
    try {
      if (this.#pendingMarkup && chunk.indexOf('>') === -1) {
        // An incomplete tag cannot complete without '>': append, bound, wait.
        this.#pending += chunk;
        this.#checkOpenToken(this.#pending.length);
        return undefined;
      }
      const buf = this.#pending.length > 0 ? this.#pending + chunk : chunk;
      this.#pending = '';
      this.#pendingMarkup = false;
      this.#sawWhitespace = false;
      this.#run(buf);
      return undefined;
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      this.#failure = { condition: e.condition, text: e.text };
      this.#phase = 'failed';
      this.#pending = '';
      this.#stack = [];
      return this.#failure;
    }
  }

  get #inStanza(): boolean {
    return this.#stack.length > 1;
  }

  /** An unterminated token of `len` characters: fail as soon as it must be too big. */
  #checkOpenToken(len: number): void {
    // Characters are a lower bound of UTF-8 bytes, so this never fails early.
    if (this.#stanzaBytes + len > this.#limits.maxStanzaBytes) {
      throw new Fail('policy-violation', `stanza larger than ${this.#limits.maxStanzaBytes} bytes`);
    }
  }

  /** Charge consumed input to the stanza (or stream header) being read. */
  #count(buf: string, start: number, end: number): void {
    this.#charge(utf8Length(buf, start, end));
  }

  #charge(bytes: number): void {
    this.#stanzaBytes += bytes;
    if (this.#stanzaBytes > this.#limits.maxStanzaBytes) {
      throw new Fail('policy-violation', `stanza larger than ${this.#limits.maxStanzaBytes} bytes`);
    }
  }

  #defer(buf: string, from: number, markup: boolean): void {
    this.#pending = buf.slice(from);
    this.#pendingMarkup = markup;
    this.#checkOpenToken(this.#pending.length);
  }

  /** Whether stanzas may take the fast path: someone takes them, and the stream's namespace is the component one. */
  get #framing(): boolean {
    return this.#handlers.onFramed !== undefined && this.#stack[0]!.scopeDefault === NS.component;
  }

  #run(buf: string): void {
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      if (this.#phase !== 'prolog' && this.#phase !== 'stream') return;
      if (this.#suspended) {
        // Held unparsed (and uncounted) until resume().
        this.#held = buf.slice(pos) + this.#held;
        return;
      }
      if (buf.charCodeAt(pos) !== 0x3c /* < */) {
        pos = this.#text(buf, pos);
        continue;
      }
      if (this.#stack.length === 1 && this.#framing) {
        if (this.#frameSkips > 0) {
          this.#frameSkips--;
        } else {
          const framed = frameStanza(buf, pos, this.#limits);
          if (framed !== undefined && this.#handlers.onFramed!(framed)) {
            this.#frameMisses = 0;
            pos += framed.xml.length;
            continue;
          }
          // A stream of stanzas that all need judging (a privileged flood) stops paying for the attempt.
          if (++this.#frameMisses >= FRAME_MISSES) {
            this.#frameMisses = 0;
            this.#frameSkips = FRAME_SKIPS;
          }
        }
      }
      const next = this.#markup(buf, pos);
      if (next < 0) {
        this.#defer(buf, pos, true);
        return;
      }
      pos = next;
    }
  }

  /** Character data from pos up to the next '<' (or the end of buf). */
  #text(buf: string, pos: number): number {
    let end = buf.indexOf('<', pos);
    if (end === -1) end = buf.length;
    const top = this.#stack[this.#stack.length - 1];
    if (!this.#inStanza) {
      // Between stanzas (or before the header): whitespace keep-alives and, from
      // real Prosody, stray characters. Neither is kept.
      if (this.#phase === 'prolog') {
        let s = buf.slice(pos, end);
        if (!this.#sawAnything && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
        if (!WS.test(s)) throw new Fail('not-well-formed', 'text before the stream header');
      } else if (!this.#sawWhitespace && this.#handlers.onWhitespace && WS.test(buf.slice(pos, end))) {
        this.#sawWhitespace = true;
        this.#handlers.onWhitespace();
      }
      return end;
    }
    let stop = end;
    if (end === buf.length) {
      // A reference may be split across reads: keep a short unterminated tail.
      const amp = buf.lastIndexOf('&', end - 1);
      if (amp >= pos && buf.indexOf(';', amp) === -1) {
        if (end - amp > MAX_ENTITY_LENGTH) throw new Fail('not-well-formed', "'&' not starting an entity reference");
        stop = amp;
      }
    }
    if (stop > pos) {
      const raw = buf.slice(pos, stop);
      if (raw.indexOf(']]>') !== -1) throw new Fail('not-well-formed', "']]>' in character data");
      this.#count(buf, pos, stop);
      top!.text += decodeEntities(raw);
    }
    if (stop < end) {
      this.#pending = buf.slice(stop, end);
      this.#pendingMarkup = false;
    }
    return end;
  }

  /** Markup starting at buf[pos] === '<'. Returns the next position, or -1 if incomplete. */
  #markup(buf: string, pos: number): number {
    const c1 = buf.charCodeAt(pos + 1);
    if (Number.isNaN(c1)) return -1;
    if (c1 === 0x2f /* / */) return this.#endTag(buf, pos);
    if (c1 === 0x3f /* ? */) return this.#processingInstruction(buf, pos);
    if (c1 === 0x21 /* ! */) return this.#bang(buf, pos);
    return this.#startTag(buf, pos);
  }

  #processingInstruction(buf: string, pos: number): number {
    const end = buf.indexOf('?>', pos + 2);
    if (this.#phase === 'prolog' && !this.#sawDecl && !this.#sawAnything) {
      if (buf.length - pos < 6) return -1;
      if (!/^<\?xml[ \t\r\n]/.test(buf.slice(pos, pos + 6))) {
        throw new Fail('restricted-xml', 'processing instructions are not allowed');
      }
      if (end === -1) return -1;
      this.#count(buf, pos, end + 2);
      this.#sawDecl = true;
      this.#sawAnything = true;
      return end + 2;
    }
    throw new Fail('restricted-xml', 'processing instructions are not allowed');
  }

  #bang(buf: string, pos: number): number {
    const head = buf.slice(pos, pos + 9);
    if (head.startsWith('<!--')) throw new Fail('restricted-xml', 'comments are not allowed');
    if (head.startsWith('<!DOCTYPE')) throw new Fail('restricted-xml', 'DTDs are not allowed');
    if (head.length < 9 && ['<!--', '<![CDATA[', '<!DOCTYPE'].some((m) => m.startsWith(head))) return -1;
    if (head === '<![CDATA[') {
      const end = buf.indexOf(']]>', pos + 9);
      if (end === -1) return -1;
      this.#count(buf, pos, end + 3);
      if (this.#inStanza) {
        const data = buf.slice(pos + 9, end);
        if (ILLEGAL_CHAR.test(data)) throw new Fail('not-well-formed', 'illegal XML character');
        this.#stack[this.#stack.length - 1]!.text += data;
      } else if (this.#phase === 'prolog') {
        throw new Fail('not-well-formed', 'CDATA before the stream header');
      }
      return end + 3;
    }
    throw new Fail('not-well-formed', 'unexpected markup declaration');
  }

  #endTag(buf: string, pos: number): number {
    const end = buf.indexOf('>', pos + 2);
    if (end === -1) {
      if (buf.indexOf('<', pos + 2) !== -1) throw new Fail('not-well-formed', "'<' inside an end tag");
      return -1;
    }
    const top = this.#stack[this.#stack.length - 1];
    // The name of the open element, then only white space.
    let k = -1;
    if (top && buf.startsWith(top.qname, pos + 2)) {
      k = pos + 2 + top.qname.length;
      while (k < end && isWs(buf.charCodeAt(k))) k++;
    }
    if (!top || k !== end) {
      const qname = buf.slice(pos + 2, end).replace(/[ \t\r\n]+$/, '');
      throw new Fail('not-well-formed', top ? `</${qname}> does not close <${top.qname}>` : `unexpected </${qname}>`);
    }
    if (this.#inStanza) this.#count(buf, pos, end + 1);
    this.#close();
    return end + 1;
  }

  #startTag(buf: string, pos: number): number {
    const len = buf.length;
    let i = pos + 1;
    let hash = 0;
    let extra = 0; // UTF-8 bytes of the tag beyond one per character
    while (i < len) {
      const c = buf.charCodeAt(i);
      if (c <= 0x3e) {
        if (isWs(c) || c === 0x3e || c === 0x2f) break;
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
    if (i >= len) return -1;
    const qname = nameAt(buf, pos + 1, i, hash);
    if (qname === undefined) throw new Fail('not-well-formed', `invalid element name "${buf.slice(pos + 1, Math.min(i, pos + 65))}"`);
    // The tag's attributes go to two scratch arrays (#open never re-enters the tokenizer).
    const names = this.#attrNames;
    const values = this.#attrValues;
    let count = 0;
    let selfClosing = false;
    for (;;) {
      const wsStart = i;
      while (i < len && isWs(buf.charCodeAt(i))) i++;
      if (i >= len) return -1;
      const c = buf.charCodeAt(i);
      if (c === 0x3e /* > */) {
        i++;
        break;
      }
      if (c === 0x2f /* / */) {
        if (i + 1 >= len) return -1;
        if (buf.charCodeAt(i + 1) !== 0x3e) throw new Fail('not-well-formed', "'/' not followed by '>'");
        selfClosing = true;
        i += 2;
        break;
      }
      if (i === wsStart) throw new Fail('not-well-formed', 'attributes must be separated by white space');
      const nameStart = i;
      hash = 0;
      while (i < len) {
        const a = buf.charCodeAt(i);
        if (a <= 0x3e) {
          if (a === 0x3d /* = */ || isWs(a) || a === 0x3e || a === 0x2f) break;
          if (a === 0x3c || a === 0x26 || a === 0x22 || a === 0x27) {
            throw new Fail('not-well-formed', `invalid character in an attribute name of <${qname}>`);
          }
        } else if (a >= 0x80) {
          extra += extraUtf8(a);
        }
        hash = (Math.imul(hash, 31) + a) | 0;
        i++;
      }
      if (i >= len) return -1;
      const name = nameAt(buf, nameStart, i, hash);
      if (name === undefined) throw new Fail('not-well-formed', `invalid attribute name "${buf.slice(nameStart, Math.min(i, nameStart + 64))}"`);
      while (i < len && isWs(buf.charCodeAt(i))) i++;
      if (i >= len) return -1;
      if (buf.charCodeAt(i) !== 0x3d) throw new Fail('not-well-formed', `attribute "${name}" without a value`);
      i++;
      while (i < len && isWs(buf.charCodeAt(i))) i++;
      if (i >= len) return -1;
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
      if (close >= len) return -1;
      const raw = buf.slice(i + 1, close);
      names[count] = name;
      // XML 1.0 §3.3.3: literal white space in attribute values becomes a space.
      values[count] = plain ? raw : decodeEntities(normaliseEol(raw).replace(/[\t\n]/g, ' '));
      count++;
      i = close + 1;
    }
    this.#charge(i - pos + extra);
    this.#sawAnything = true;
    this.#open(qname, count);
    // Values may be slices of a whole read: do not keep it alive.
    for (let a = 0; a < count; a++) values[a] = '';
    if (selfClosing) this.#close();
    return i;
  }

  #lookup(prefix: string, own: Map<string, string> | undefined): string | undefined {
    if (prefix === 'xml') return NS.xml;
    const mine = own?.get(prefix);
    if (mine !== undefined) return mine;
    for (let d = this.#stack.length - 1; d >= 0; d--) {
      const uri = this.#stack[d]!.prefixes?.get(prefix);
      if (uri !== undefined) return uri;
    }
    return undefined;
  }

  /** Open the element just read; its `count` attributes are in the scratch arrays. */
  #open(qname: string, count: number): void {
    const names = this.#attrNames;
    const values = this.#attrValues;
    const depth = this.#stack.length; // 0 = stream root, 1 = stanza
    if (this.#phase === 'prolog' && depth !== 0) throw new Fail('not-well-formed', 'bad stream state');
    if (depth - 1 >= this.#limits.maxDepth) {
      throw new Fail('policy-violation', `elements nested deeper than ${this.#limits.maxDepth}`);
    }
    let prefixes: Map<string, string> | undefined;
    let defaultNs: string | undefined;
    let declaresDefault = false;
    let prefixedAttrs = false;
    // Elements have few attributes: a scan is cheaper than a Set. Many attributes
    // (a hostile start tag) take the Set, so the check never goes quadratic.
    const seen = count > 16 ? new Set<string>() : undefined;
    for (let a = 0; a < count; a++) {
      const name = names[a]!;
      if (seen) {
        if (seen.has(name)) throw new Fail('not-well-formed', `duplicate attribute "${name}"`);
        seen.add(name);
      } else {
        for (let b = 0; b < a; b++) if (names[b] === name) throw new Fail('not-well-formed', `duplicate attribute "${name}"`);
      }
      if (name.indexOf(':') === -1) {
        if (name === 'xmlns') {
          declaresDefault = true;
          defaultNs = values[a]!;
        }
        continue;
      }
      prefixedAttrs = true;
      if (name.startsWith('xmlns:')) {
        const p = name.slice(6);
        const value = values[a]!;
        if (value === '') throw new Fail('not-well-formed', `prefix "${p}" bound to the empty namespace`);
        if (p === 'xmlns' || (p === 'xml') !== (value === NS.xml) || value === NS.xmlns) {
          throw new Fail('not-well-formed', `reserved prefix or namespace in "${name}"`);
        }
        (prefixes ??= new Map()).set(p, value);
      }
    }
    const parent = this.#stack[depth - 1];
    const inheritedDefault = declaresDefault ? defaultNs || undefined : this.#defaultNs();
    const colon = qname.indexOf(':');
    const local = colon === -1 ? qname : qname.slice(colon + 1);
    let ns: string | undefined;
    if (colon === -1) {
      ns = inheritedDefault;
    } else {
      const prefix = qname.slice(0, colon);
      ns = this.#lookup(prefix, prefixes);
      if (ns === undefined || prefix === 'xmlns') throw new Fail('not-well-formed', `undeclared prefix "${prefix}"`);
    }
    // Canonical attributes: unprefixed as they are; prefixed ones keep their
    // prefix with its declaration on this very element, so the meaning survives
    // re-serialisation wherever the element ends up. They go straight into the
    // element's own attrs object (one object less per element).
    const el = depth === 0 ? undefined : new Element(local);
    const attrs: Record<string, string> = el ? el.attrs : {};
    let expanded: Set<string> | undefined; // only prefixed attributes need it
    for (let a = 0; a < count; a++) {
      const name = names[a]!;
      if (!prefixedAttrs || name.indexOf(':') === -1) {
        if (name !== 'xmlns') attrs[name] = values[a]!;
        continue;
      }
      if (name.startsWith('xmlns:')) continue;
      const c = name.indexOf(':');
      const p = name.slice(0, c);
      const uri = this.#lookup(p, prefixes);
      if (uri === undefined) throw new Fail('not-well-formed', `undeclared prefix "${p}"`);
      const key = `${uri}|${name.slice(c + 1)}`;
      expanded ??= new Set<string>();
      if (expanded.has(key)) throw new Fail('not-well-formed', `duplicate attribute "${name}"`);
      expanded.add(key);
      attrs[name] = values[a]!;
      if (p !== 'xml') attrs[`xmlns:${p}`] = uri;
    }

    if (el === undefined) {
      // The stream root (depth 0): its declarations are the scope of every stanza.
      this.#pushFrame(qname, ns, prefixes, inheritedDefault, undefined);
      this.#phase = 'stream';
      this.#stanzaBytes = 0;
      this.#streamElement = new Element('stream', inheritedDefault ? { xmlns: inheritedDefault } : {});
      this.#handlers.onHeader({ ns: ns ?? '', local, defaultNs: inheritedDefault, attrs: unprefixed(attrs) });
      return;
    }
    const parentNs = depth === 1 ? this.#defaultNs() : parent!.ns;
    if (ns !== parentNs) attrs.xmlns = ns ?? '';
    if (parent?.el) {
      flushText(parent);
      parent.el.children.push(el);
      el.parent = parent.el;
    } else {
      el.parent = this.#streamElement ?? null;
    }
    this.#pushFrame(qname, ns, prefixes, inheritedDefault, el);
  }

  #defaultNs(): string | undefined {
    return this.#stack[this.#stack.length - 1]?.scopeDefault;
  }


  // Frames are reused (at most maxDepth + 1 of them exist): a stanza costs no frame allocations.
  #pushFrame(qname: string, ns: string | undefined, prefixes: Map<string, string> | undefined, scopeDefault: string | undefined, el: Element | undefined): void {
    const f = this.#spare.pop();
    if (f === undefined) {
      this.#stack.push({ qname, ns, prefixes, scopeDefault, el, text: '' });
      return;
    }
    f.qname = qname;
    f.ns = ns;
    f.prefixes = prefixes;
    f.scopeDefault = scopeDefault;
    f.el = el;
    this.#stack.push(f);
  }

  #close(): void {
    const frame = this.#stack.pop()!;
    if (this.#stack.length === 0) {
      this.#phase = 'ended';
      this.#handlers.onEnd();
      return;
    }
    flushText(frame);
    const el = frame.el!;
    frame.el = undefined;
    frame.prefixes = undefined;
    this.#spare.push(frame);
    if (this.#stack.length === 1) {
      this.#stanzaBytes = 0;
      this.#handlers.onStanza(el);
    }
  }
}

function flushText(frame: Frame): void {
  if (frame.text.length === 0 || !frame.el) return;
  frame.el.children.push(normaliseEol(frame.text));
  frame.text = '';
}

function unprefixed(attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (k.indexOf(':') === -1) out[k] = v;
  return out;
}
