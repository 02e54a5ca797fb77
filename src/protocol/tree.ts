/**
 * The element tree of one XMPP stream, built from the tokens the stream parser
 * reads: the stack of open elements with their namespace scopes, namespace
 * resolution, and each stanza as an @xmpp/xml Element in canonical
 * default-namespace form (no element prefixes; `xmlns` set wherever the
 * namespace changes), so that what privguard judges is what it forwards.
 */
import { Element } from '@xmpp/xml';
import { ParsedElement } from './element.js';
import { NS } from './ns.js';
import { XmlFail } from './xml-text.js';

/** The stream's root element as the parser reports it. */
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

/** What closing an element completed. */
export type Closed = { kind: 'inner' } | { kind: 'stanza'; stanza: Element } | { kind: 'stream' };

const INNER: Closed = { kind: 'inner' };
const STREAM_END: Closed = { kind: 'stream' };

export class ElementTree {
  /** Stack of open elements; [0] is the stream root once the header is read. */
  #stack: Frame[] = [];
  /** Frames of closed elements, for reuse. */
  #spare: Frame[] = [];
  /**
   * Stands for the stream root as every stanza's parent, so getNS() resolves
   * the stream's content namespace on any element. It never holds children and
   * is never serialised.
   */
  #streamElement: Element | undefined;
  readonly #maxDepth: number;
  readonly #serverStream: boolean;

  constructor(maxDepth: number, serverStream = false) {
    this.#maxDepth = maxDepth;
    this.#serverStream = serverStream;
  }

  /** Open elements, the stream root included (0 before the header, 1 between stanzas). */
  get depth(): number {
    return this.#stack.length;
  }

  /** The raw qualified name of the innermost open element. */
  get openName(): string | undefined {
    return this.#stack[this.#stack.length - 1]?.qname;
  }

  /** The default namespace the stream root declares for its stanzas. */
  get streamDefaultNs(): string | undefined {
    return this.#stack[0]?.scopeDefault;
  }

  /** Character data (already decoded) inside the innermost open element. */
  addText(text: string): void {
    this.#stack[this.#stack.length - 1]!.text += text;
  }

  /** Forget every open element (the stream is over). */
  clear(): void {
    this.#stack = [];
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

  /**
   * Open an element from its start tag: `count` attributes in names/values.
   * Returns the stream header when this is the stream's root element.
   */
  open(qname: string, names: readonly string[], values: readonly string[], count: number): StreamHeader | undefined {
    const depth = this.#stack.length; // 0 = stream root, 1 = stanza
    if (depth - 1 >= this.#maxDepth) {
      throw new XmlFail('policy-violation', `elements nested deeper than ${this.#maxDepth}`);
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
        if (seen.has(name)) throw new XmlFail('not-well-formed', `duplicate attribute "${name}"`);
        seen.add(name);
      } else {
        for (let b = 0; b < a; b++) if (names[b] === name) throw new XmlFail('not-well-formed', `duplicate attribute "${name}"`);
      }
      if (name.indexOf(':') === -1) {
        if (name === 'xmlns') {
          declaresDefault = true;
          defaultNs = values[a]!;
          // XML Namespaces §3: neither reserved namespace may be the default one.
          if ((defaultNs === NS.xml || defaultNs === NS.xmlns) && !this.#serverStream) throw new XmlFail('not-well-formed', 'a reserved namespace declared as the default one');
        }
        continue;
      }
      prefixedAttrs = true;
      if (name.startsWith('xmlns:')) {
        const p = name.slice(6);
        const value = values[a]!;
        if (value === '') throw new XmlFail('not-well-formed', `prefix "${p}" bound to the empty namespace`);
        if (p === 'xmlns' || (p === 'xml') !== (value === NS.xml) || value === NS.xmlns) {
          throw new XmlFail('not-well-formed', `reserved prefix or namespace in "${name}"`);
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
      if (ns === undefined || prefix === 'xmlns') throw new XmlFail('not-well-formed', `undeclared prefix "${prefix}"`);
      // Well-formed, but it has no canonical form: unprefixed it would declare
      // the xml namespace as the default one, which no parser accepts.
      if (ns === NS.xml) throw new XmlFail('policy-violation', `<${qname}>: elements in the xml namespace are not forwarded`);
    }
    // Canonical attributes: unprefixed as they are; prefixed ones keep their
    // prefix with its declaration on this very element, so the meaning survives
    // re-serialisation wherever the element ends up. They go straight into the
    // element's own attrs object (one object less per element).
    const el = depth === 0 ? undefined : new ParsedElement(local);
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
      if (uri === undefined) throw new XmlFail('not-well-formed', `undeclared prefix "${p}"`);
      const key = `${uri}|${name.slice(c + 1)}`;
      expanded ??= new Set<string>();
      if (expanded.has(key)) throw new XmlFail('not-well-formed', `duplicate attribute "${name}"`);
      expanded.add(key);
      attrs[name] = values[a]!;
      if (p !== 'xml') attrs[`xmlns:${p}`] = uri;
    }

    if (el === undefined) {
      // The stream root (depth 0): its declarations are the scope of every stanza.
      this.#pushFrame(qname, ns, prefixes, inheritedDefault, undefined);
      this.#streamElement = new Element('stream', inheritedDefault ? { xmlns: inheritedDefault } : {});
      return { ns: ns ?? '', local, defaultNs: inheritedDefault, attrs: unprefixed(attrs) };
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
    return undefined;
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

  /** Close the innermost open element. */
  close(): Closed {
    const frame = this.#stack.pop()!;
    if (this.#stack.length === 0) return STREAM_END;
    flushText(frame);
    const el = frame.el!;
    frame.el = undefined;
    frame.prefixes = undefined;
    this.#spare.push(frame);
    return this.#stack.length === 1 ? { kind: 'stanza', stanza: el } : INNER;
  }
}

function flushText(frame: Frame): void {
  if (frame.text.length === 0 || !frame.el) return;
  // End-of-line handling was applied to the raw text (not to references).
  frame.el.children.push(frame.text);
  frame.text = '';
}

function unprefixed(attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (k.indexOf(':') === -1) out[k] = v;
  return out;
}
