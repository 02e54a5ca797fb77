/**
 * Differential tests against libexpat, the parser behind Prosody (issue 11
 * item 3): privguard must never forward a stanza that makes the server's
 * parser fail, because the server answers it with a stream error that takes
 * down the upstream and every IQ pending on it.
 *  (a) the name tables privguard's parser uses equal libexpat's, code point by
 *      code point over the BMP;
 *  (b) thousands of generated and mutated stanzas (odd names, references, CR,
 *      xmlns='', prefixes, UTF-8 edge cases, broken bytes): whatever privguard's
 *      parser lets through, on the full path (re-serialised, and the characters
 *      as they arrived where the parser offers them for an unchanged stanza)
 *      and on the fast path (the characters as they arrived), libexpat accepts.
 * libexpat runs in one long-lived lua5.4 process with Prosody's settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StreamParser } from '../../src/protocol/parser.js';
import { serialize } from '../../src/protocol/serialize.js';
import { StrictUtf8Decoder } from '../../src/protocol/utf8.js';
import { Expat } from './expat.js';

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='c.example.org'>";
const LIMITS = { maxStanzaBytes: 65536, maxDepth: 32 };

let expat: Expat;
beforeAll(() => {
  expat = new Expat();
});
afterAll(() => expat.close());

/** What privguard would forward from these bytes: each stanza as written upstream. */
function forwarded(bytes: Uint8Array, fastPath: boolean): string[] {
  const text = new StrictUtf8Decoder().write(bytes);
  if (text === undefined) return [];
  const out: string[] = [];
  const p = new StreamParser(
    {
      onHeader: () => {},
      onStanza: (el, raw) => {
        out.push(serialize(el));
        if (raw !== undefined) out.push(raw);
      },
      onEnd: () => {},
      ...(fastPath ? { onFramed: (f) => (out.push(f.xml), true) } : {}),
    },
    LIMITS,
  );
  if (p.write(HEADER) !== undefined) return [];
  p.write(text);
  return out;
}

describe('differential: names', () => {
  it("privguard's parser accepts exactly the name characters libexpat accepts", async () => {
    const [start, char] = await expat.names();
    const accepts = (xml: string): boolean => {
      let ok = false;
      const p = new StreamParser({ onHeader: () => {}, onStanza: () => (ok = true), onEnd: () => {} }, LIMITS);
      p.write(HEADER);
      return p.write(`<message to='a@b' from='c.example.org'>${xml}</message>`) === undefined && ok;
    };
    const diffs: string[] = [];
    for (let cp = 0; cp <= 0xffff; cp++) {
      if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0x3a) continue;
      const c = String.fromCharCode(cp);
      const mineStart = accepts(`<${c}b/>`);
      const mineChar = accepts(`<a${c}b/>`);
      if (mineStart !== (start[cp] === '1')) diffs.push(`start U+${cp.toString(16)}`);
      if (mineChar !== (char[cp] === '1')) diffs.push(`char U+${cp.toString(16)}`);
    }
    expect(diffs.slice(0, 20)).toEqual([]);
    // Outside the BMP neither accepts a name character.
    expect(accepts('<\u{10000}b/>')).toBe(false);
    expect(accepts('<a\u{10000}b/>')).toBe(false);
  }, 120_000);
});

// ── generated stanzas ────────────────────────────────────────────────────

/** Mostly what passes (so that plenty reaches libexpat), with a share of the odd and the hostile. */
const mostly = <T,>(good: readonly T[], odd: readonly T[]): fc.Arbitrary<T> =>
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });

const NAMES = mostly(
  ['x', 'body', 'a-b', 'a.b', '_x', 'x1', 'é', 'ж', '中文', 'x\u0300', 'x\u00B7', 'Ω', '\u0100', 'p:x', 'xml', 'xmlfoo', 'aｉ'],
  ['ｉｄ', '\u0D80x', '\u00B7x', '\u2070x', '\u3001', '\u00D7', '\u037F', 'x\u203F', 'x\u{1F600}', '\u{10000}', 'q:x', 'xml:x', 'xmlns:x', ':x', 'x:', 'a:b:c', '1x', '-x'],
);
const ATTR_NAMES = mostly(['id', 'type', 'xml:lang', 'xml:space', 'p:a', 'é', 'a\u0300', 'q:a'], ['ｉｄ', 'x\u{1F600}', '\u00B7', 'xmlns:xml', 'xmlns']);
const DECLS = mostly(
  ["xmlns='urn:x'", "xmlns=''", "xmlns='jabber:client'", "xmlns:p='urn:p'", "xmlns:q='urn:q'", "xmlns:q='urn:p'", "xmlns:xml='http://www.w3.org/XML/1998/namespace'"],
  ["xmlns:q=''", "xmlns='http://www.w3.org/XML/1998/namespace'", "xmlns:p='http://www.w3.org/2000/xmlns/'", "xmlns:xmlns='urn:x'"],
);
const VALUES = mostly(
  ['', 'v', 'urn:x', 'urn:p', 'jabber:client', '&#13;', '&#xD;', '&#10;', 'a\rb', 'a\r\nb', 'a\tb', '&amp;', '&lt;', '&#x10FFFF;', '\uFFFD', '\u{1F600}', '"', "'", ']]>', '\u0085', '\u2028'],
  ['http://www.w3.org/XML/1998/namespace', 'http://www.w3.org/2000/xmlns/', '&#0;', '&#xFFFE;', '\uFFFE', '&foo;', '&'],
);
const TEXTS = mostly(
  ['', 'hi', '&#13;', 'a\r', '\r\n', '\n\r', '&#xD;&#xA;', '&amp;&lt;&gt;', ']]&gt;', '<![CDATA[a\rb]]>', '<![CDATA[<&]]>', '\u{1F600}', '\uFFFD', '\t', 'é', '&#x10FFFF;'],
  [']]>', '\uFFFF', '\u0000', '&#x1;', '&bogus;', '<!-- c -->', '<?pi x?>'],
);

const attrArb = fc.tuple(ATTR_NAMES, VALUES, fc.constantFrom('"', "'"));
type Node = { name: string; attrs: [string, string, string][]; decls: string[]; children: (Node | string)[] };
const nodeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.record({
    name: NAMES,
    attrs: fc.uniqueArray(attrArb, { maxLength: 3, selector: ([k]) => k }),
    decls: fc.uniqueArray(DECLS, { maxLength: 2, selector: (d) => d.split('=')[0] }),
    children: fc.array(fc.oneof({ depthSize: 'small', withCrossShrink: true }, TEXTS, tie('node')), { maxLength: 3 }),
  }),
})).node;

function write(n: Node): string {
  const attrs = n.decls.map((d) => ` ${d}`).join('') + n.attrs.map(([k, v, q]) => ` ${k}=${q}${v.replaceAll(q, q === '"' ? '&quot;' : '&apos;')}${q}`).join('');
  if (n.children.length === 0) return `<${n.name}${attrs}/>`;
  return `<${n.name}${attrs}>${n.children.map((c) => (typeof c === 'string' ? c : write(c))).join('')}</${n.name}>`;
}

const stanzaArb = fc
  .record({
    root: fc.constantFrom('message', 'iq', 'presence'),
    decls: fc.subarray(["xmlns:p='urn:p'", "xmlns=''", "xmlns='jabber:client'", "xml:lang='en'", "xmlns:xml='http://www.w3.org/XML/1998/namespace'"]),
    children: fc.array(fc.oneof(nodeArb, TEXTS), { maxLength: 3 }),
  })
  .map(({ root, decls, children }) => {
    const inner = children.map((c) => (typeof c === 'string' ? c : write(c))).join('');
    const d = decls.map((x) => ` ${x}`).join('');
    return inner ? `<${root} to='a@b' from='c.example.org'${d}>${inner}</${root}>` : `<${root} to='a@b' from='c.example.org'${d}/>`;
  });

/** Byte-level mutations: a byte replaced, removed or inserted, or a chunk duplicated. */
const mutatedArb = fc
  .tuple(stanzaArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'del', 'ins', 'dup')), { minLength: 1, maxLength: 3 }))
  .map(([xml, edits]) => {
    let b = Array.from(Buffer.from(xml, 'utf8'));
    for (const [pos, byte, op] of edits) {
      const i = pos % (b.length + 1);
      if (op === 'set' && i < b.length) b[i] = byte;
      else if (op === 'del') b.splice(i, 1);
      else if (op === 'ins') b.splice(i, 0, byte);
      else b = [...b.slice(0, i), ...b.slice(i, i + 8), ...b.slice(i)];
    }
    return Buffer.from(b);
  });

describe('differential: what privguard forwards, libexpat accepts', () => {
  async function check(inputs: Buffer[]): Promise<number> {
    const outputs = new Set<string>();
    for (const bytes of inputs) for (const fast of [false, true]) for (const s of forwarded(bytes, fast)) outputs.add(s);
    const list = [...outputs];
    const verdicts = await Promise.all(list.map((s) => expat.accepts(Buffer.from(s, 'utf8'))));
    const refused = list.flatMap((s, i) => (verdicts[i] === true ? [] : [`${verdicts[i]}: ${s}`]));
    expect(refused.slice(0, 10)).toEqual([]);
    return list.length;
  }

  it('generated stanzas', async () => {
    const inputs = fc.sample(stanzaArb, { numRuns: 4000, seed: 11 }).map((s) => Buffer.from(s, 'utf8'));
    // Enough of them get through for the test to mean something.
    expect(await check(inputs)).toBeGreaterThan(500);
  }, 120_000);

  it('mutated stanzas (bytes replaced, removed, inserted, duplicated)', async () => {
    const inputs = fc.sample(mutatedArb, { numRuns: 8000, seed: 12 });
    expect(await check(inputs)).toBeGreaterThan(400);
  }, 120_000);

  it('hand-picked cases of issue 11', async () => {
    const cases = [
      "<message to='a@b' from='c.example.org' ｉｄ='1'/>",
      "<message to='a@b' from='c.example.org'><xml:x/></message>",
      "<message to='a@b' from='c.example.org'><body>a&#13;b</body></message>",
      "<message to='a@b' from='c.example.org'><x xmlns='urn:a'><y xmlns=''/></x></message>",
      "<message xmlns='' to='a@b' from='c.example.org'/>",
      "<message to='a@b' from='c.example.org' xml:lang='en'><body xml:lang='de'>x</body></message>",
    ].map((s) => Buffer.from(s, 'utf8'));
    await check([...cases, Buffer.from([0x3c, 0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x3e, 0xc0, 0xaf])]);
  });
});
