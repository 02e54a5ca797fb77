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
 * Modules: xml-text.ts (names, characters, references), lexer.ts (start
 * tags), tree.ts (namespaces and elements); this one drives them over the
 * input and owns the stream's state, limits and the fast path (frame.ts).
 *
 * Out of scope: DTDs of any kind (refused), XML 1.1, astral-plane name characters
 * (names are matched over the BMP).
 */
import { frameStanza } from './frame.js';
import { NS, type StreamErrorCondition } from './ns.js';
import type { ParseFailure, ParserHandlers, ParserLimits } from './parser-types.js';
import { newStartTag, readStartTag, type StartTag } from './lexer.js';
import { ElementTree } from './tree.js';
import { joinAscii, sequential, utf8Length } from './utf8.js';
import { decodeEntities, ILLEGAL_CHAR, isWs, MAX_ENTITY_LENGTH, normaliseEol, WS, XmlFail as Fail } from './xml-text.js';

export type { StreamHeader } from './tree.js';
export type { ParseFailure, ParserHandlers, ParserLimits } from './parser-types.js';

/**
 * After this many stanzas in a row took the full path anyway, the next
 * FRAME_SKIPS go there without a fast-path attempt; after such a run one more
 * miss starts the next run (a privileged flood pays for one attempt in 33, not
 * 8 in 40), one hit starts counting afresh.
 */
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
  /** Whether #pending, #held and the input being run are `plain` (see write()): a slice of plain input is plain. */
  #pendingPlain = false;
  #heldPlain = false;
  #runPlain = false;
  /** The input being run came with its bytes (an ASCII read, see write()); #pending is a slice of such a run. */
  #runAscii = false;
  #pendingAscii = false;
  /** The open elements and their namespace scopes. */
  #tree: ElementTree;
  /** UTF-8 bytes consumed by the stanza being read (0 between stanzas). */
  #stanzaBytes = 0;
  #failure: ParseFailure | undefined;
  #sawWhitespace = false;
  /** While suspended, input is held here unparsed (at most what one read delivered). */
  #suspended = false;
  #held = '';
  /** Fast-path attempts that failed in a row, and stanzas left to parse in full without one. */
  #frameMisses = 0;
  #frameSkips = 0;
  /** Scratch space for the start tag being read. */
  #tag: StartTag = newStartTag();
  /** Writes run so far (a stanza is given as it arrived only if it began in the current one). */
  #runs = 0;
  /**
   * The stanza being read may be handed out as it arrived: it began at
   * #rawStart in run #rawRun, in the component namespace's stream; no tag so
   * far has a prefix (but xml: on an attribute), a namespace declaration on
   * the root, `xmlns=''` or a value needing normalisation; no text a reference
   * or CR; no CDATA. Then its characters are a serialisation of the very tree
   * built, whoever reads them: the rules of the fast path (frame.ts), minus
   * "nothing judged".
   */
  #rawOk = false;
  #rawRun = -1;
  #rawStart = 0;

  constructor(handlers: ParserHandlers, limits: ParserLimits) {
    this.#handlers = handlers;
    this.#limits = limits;
    this.#tree = new ElementTree(limits.maxDepth, limits.serverStream === true);
  }

  /** Stop parsing: later writes are ignored (used when the stream is closed). */
  stop(): void {
    if (this.#phase !== 'failed') this.#phase = 'ended';
    this.#pending = '';
    this.#held = '';
    this.#tree.clear();
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
    return held.length > 0 ? this.write(held, this.#heldPlain) : undefined;
  }

  /**
   * Feed decoded characters. Returns a failure once; afterwards writes are no-ops.
   * `plain`: every character of `chunk` is printable ASCII other than '&' and
   * ']' (protocol/utf8.ts says so from the bytes); the fast path then skips
   * looking at each character of text and attribute values (frame.ts).
   * `bytes`: what `chunk` was decoded from when it is ASCII (one byte per
   * character). The rest of an earlier ASCII read is then joined to them as
   * bytes and decoded once: a flat string in one copy, where joining the
   * strings makes a rope that has to be flattened (utf8.ts sequential()).
   */
  write(chunk: string, plain = false, bytes?: Uint8Array): ParseFailure | undefined {
    if (this.#phase === 'ended' || this.#phase === 'failed' || chunk.length === 0) return undefined;
    if (this.#suspended) {
      this.#heldPlain = (this.#held.length === 0 || this.#heldPlain) && plain;
      this.#held += chunk;
      return undefined;
    }
    try {
      if (this.#pendingMarkup && chunk.indexOf('>') === -1) {
        // An incomplete tag cannot complete without '>': append, bound, wait.
        this.#pendingPlain = (this.#pending.length === 0 || this.#pendingPlain) && plain;
        this.#pendingAscii = (this.#pending.length === 0 || this.#pendingAscii) && bytes !== undefined;
        this.#pending += chunk;
        this.#checkOpenToken(this.#pending.length);
        return undefined;
      }
      this.#runPlain = plain && (this.#pending.length === 0 || this.#pendingPlain);
      let buf = chunk;
      this.#runAscii = bytes !== undefined;
      if (this.#pending.length > 0) {
        // (Only for bytes that are the chunk, one per character: the stream gives an ASCII read's own.)
        const joined = bytes !== undefined && bytes.length === chunk.length && this.#pendingAscii ? joinAscii(this.#pending, bytes) : undefined;
        this.#runAscii = joined !== undefined;
        buf = joined !== undefined ? joined.toString('latin1') : sequential(this.#pending + chunk, this.#runPlain);
      }
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
      this.#tree.clear();
      return this.#failure;
    }
  }

  /** Fail from outside (the input's bytes were not UTF-8): returns the failure once, as write() does. */
  fail(condition: StreamErrorCondition, text: string): ParseFailure | undefined {
    if (this.#phase === 'ended' || this.#phase === 'failed') return undefined;
    this.#failure = { condition, text };
    this.#phase = 'failed';
    this.#pending = '';
    this.#held = '';
    this.#tree.clear();
    return this.#failure;
  }

  get #inStanza(): boolean {
    return this.#tree.depth > 1;
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
    this.#pendingPlain = this.#runPlain;
    this.#pendingAscii = this.#runAscii;
    this.#pendingMarkup = markup;
    this.#checkOpenToken(this.#pending.length);
  }

  /** Whether stanzas may take the fast path: someone takes them, and the stream's namespace is the component one. */
  get #framing(): boolean {
    return this.#handlers.onFramed !== undefined && this.#handlers.isJudged !== undefined && this.#tree.streamDefaultNs === NS.component;
  }

  #run(buf: string): void {
    this.#runs++;
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      if (this.#phase !== 'prolog' && this.#phase !== 'stream') return;
      if (this.#suspended) {
        // Held unparsed (and uncounted) until resume().
        this.#heldPlain = this.#runPlain && (this.#held.length === 0 || this.#heldPlain);
        this.#held = buf.slice(pos) + this.#held;
        return;
      }
      if (buf.charCodeAt(pos) !== 0x3c /* < */) {
        pos = this.#text(buf, pos);
        continue;
      }
      if (this.#tree.depth === 1 && this.#framing) {
        if (this.#frameSkips > 0) {
          if (--this.#frameSkips === 0) this.#frameMisses = FRAME_MISSES - 1;
        } else {
          const framed = frameStanza(buf, pos, this.#limits, this.#handlers.isJudged!, this.#runPlain);
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
      // So may CR LF: a CR at the end waits for what follows it.
      if (stop > pos && buf.charCodeAt(stop - 1) === 0x0d) stop--;
      // And ']]>' (refused in any split, as libexpat does): a ']' or ']]' at the end waits too.
      if (stop > pos && buf.charCodeAt(stop - 1) === 0x5d) stop -= stop - 1 > pos && buf.charCodeAt(stop - 2) === 0x5d ? 2 : 1;
    }
    if (stop > pos) {
      const raw = buf.slice(pos, stop);
      if (raw.indexOf(']]>') !== -1) throw new Fail('not-well-formed', "']]>' in character data");
      if (this.#rawOk && (raw.indexOf('&') !== -1 || raw.indexOf('\r') !== -1)) this.#rawOk = false;
      this.#count(buf, pos, stop);
      // Line ends are normalised in the raw text; a CR from `&#13;` stays.
      this.#tree.addText(decodeEntities(normaliseEol(raw)));
    }
    if (stop < end) {
      this.#pending = buf.slice(stop, end);
      this.#pendingPlain = this.#runPlain;
      this.#pendingAscii = this.#runAscii;
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
        this.#rawOk = false;
        const data = buf.slice(pos + 9, end);
        if (ILLEGAL_CHAR.test(data)) throw new Fail('not-well-formed', 'illegal XML character');
        this.#tree.addText(normaliseEol(data));
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
    const top = this.#tree.openName;
    // The name of the open element, then only white space.
    let k = -1;
    if (top !== undefined && buf.startsWith(top, pos + 2)) {
      k = pos + 2 + top.length;
      while (k < end && isWs(buf.charCodeAt(k))) k++;
    }
    if (top === undefined || k !== end) {
      const qname = buf.slice(pos + 2, end).replace(/[ \t\r\n]+$/, '');
      throw new Fail('not-well-formed', top !== undefined ? `</${qname}> does not close <${top}>` : `unexpected </${qname}>`);
    }
    if (this.#inStanza) this.#count(buf, pos, end + 1);
    this.#close(buf, end + 1);
    return end + 1;
  }

  #startTag(buf: string, pos: number): number {
    const tag = this.#tag;
    if (!readStartTag(buf, pos, tag)) return -1;
    this.#charge(tag.bytes);
    this.#sawAnything = true;
    if (this.#tree.depth === 1) {
      this.#rawOk = tag.plain && !tag.declaresDefault && this.#tree.streamDefaultNs === NS.component;
      this.#rawRun = this.#runs;
      this.#rawStart = pos;
    } else if (!tag.plain) {
      this.#rawOk = false;
    }
    this.#open(tag.qname, tag.count);
    // Values may be slices of a whole read: do not keep it alive.
    for (let a = 0; a < tag.count; a++) tag.values[a] = '';
    if (tag.selfClosing) this.#close(buf, tag.end);
    return tag.end;
  }

  /** Open the element just read; its `count` attributes are in the scratch arrays. */
  #open(qname: string, count: number): void {
    if (this.#phase === 'prolog' && this.#tree.depth !== 0) throw new Fail('not-well-formed', 'bad stream state');
    const header = this.#tree.open(qname, this.#tag.names, this.#tag.values, count);
    if (header === undefined) return;
    this.#phase = 'stream';
    this.#stanzaBytes = 0;
    this.#handlers.onHeader(header);
  }

  /** Close the innermost element; its end tag ends at buf[end]. */
  #close(buf: string, end: number): void {
    const closed = this.#tree.close();
    if (closed.kind === 'stream') {
      this.#phase = 'ended';
      this.#handlers.onEnd();
    } else if (closed.kind === 'stanza') {
      this.#stanzaBytes = 0;
      const raw = this.#rawOk && this.#rawRun === this.#runs ? buf.slice(this.#rawStart, end) : undefined;
      this.#rawOk = false;
      this.#handlers.onStanza(closed.stanza, raw);
    }
  }
}
