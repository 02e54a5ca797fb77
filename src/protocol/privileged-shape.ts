/**
 * The one judged shape the fast path (frame.ts) reads without a tree: a
 * privileged message (XEP-0356 §5), the bulk of what a gateway sends.
 *
 *   <message …>                                  the root, no namespace declared
 *     <privilege xmlns='urn:xmpp:privilege:N'>   its only element child
 *       <forwarded xmlns='urn:xmpp:forward:0'>   the wrapper's only element child
 *         <message xmlns='jabber:client' …>      the only element child, declared so
 *           …                                    nothing in a judged namespace
 *
 * Text between them is allowed (the decision skips it, and it is forwarded as
 * it arrived either way). Everything else — a second child anywhere on the
 * path, `<delay/>`, a missing or other declaration, a judged namespace inside
 * the inner message — is not this shape, and the stanza goes to the full
 * parser. Recognising the shape decides nothing: the link hands the root's and
 * the inner message's attributes to the same decision the full path takes.
 */
import { NS, privilegeVersion, type PrivilegeVersion } from './ns.js';

const NO_MARKS: readonly number[] = Object.freeze([]);

function named(buf: string, start: number, end: number, name: string): boolean {
  return end - start === name.length && buf.startsWith(name, start);
}

export class PrivilegedShape {
  readonly version: PrivilegeVersion;
  readonly #buf: string;
  readonly #isJudged: (ns: string) => boolean;
  /** 1: inside <privilege>, 2: inside <forwarded>, 3: the inner message has opened. */
  #step = 1;
  /** [nameStart, nameEnd, valueStart, valueEnd] per attribute of the inner message, into #buf (none until it opens). */
  #inner: readonly number[] = NO_MARKS;

  private constructor(version: PrivilegeVersion, buf: string, isJudged: (ns: string) => boolean) {
    this.version = version;
    this.#buf = buf;
    this.#isJudged = isJudged;
  }

  /**
   * An element in judged namespace `ns` opening below a root with no shape so
   * far: the start of the shape, or undefined when the fast path must give up.
   * `firstChild`: no element child of the root came before it.
   */
  static start(
    rootIsMessage: boolean,
    depth: number,
    firstChild: boolean,
    buf: string,
    nameStart: number,
    nameEnd: number,
    ns: string,
    isJudged: (ns: string) => boolean,
  ): PrivilegedShape | undefined {
    const version = privilegeVersion(ns);
    if (!rootIsMessage || depth !== 1 || !firstChild || version === undefined || !named(buf, nameStart, nameEnd, 'privilege')) return undefined;
    return new PrivilegedShape(version, buf, isJudged);
  }

  /**
   * An element opening at `depth` (1: a child of the root) after the shape
   * started, with the namespace it declares (undefined: none) and its
   * attribute marks (the first `count` of `marks`). False: the stanza is not the shape.
   */
  open(depth: number, nameStart: number, nameEnd: number, ns: string | undefined, marks: readonly number[], count: number): boolean {
    if (depth === 2 && this.#step === 1) {
      if (ns !== NS.forward || !named(this.#buf, nameStart, nameEnd, 'forwarded')) return false;
      this.#step = 2;
      return true;
    }
    if (depth === 3 && this.#step === 2) {
      if (ns !== NS.client || !named(this.#buf, nameStart, nameEnd, 'message')) return false;
      this.#step = 3;
      this.#inner = marks.slice(0, count);
      return true;
    }
    // Above the inner message's content, every other element is a second child somewhere on the path.
    if (depth < 4) return false;
    return ns === undefined || !this.#isJudged(ns);
  }

  /** The whole path was there (checked when the root closes). */
  get complete(): boolean {
    return this.#step === 3;
  }

  /** The inner message's attribute `name`, exactly as the full parser reads it. */
  innerAttr(name: string): string | undefined {
    const m = this.#inner;
    for (let a = 0; a < m.length; a += 4) {
      if (m[a + 1]! - m[a]! === name.length && this.#buf.startsWith(name, m[a])) return this.#buf.slice(m[a + 2], m[a + 3]);
    }
    return undefined;
  }
}
