import { describe, expect, it } from 'vitest';
import { frameStanza } from '../../../src/protocol/frame.js';
import { isJudgedNamespace } from '../../../src/policy/framed.js';
import { StreamParser } from '../../../src/protocol/parser.js';

const LIMITS = { maxStanzaBytes: 1024, maxDepth: 8 };
/** Characters protocol/utf8.ts calls plain: ASCII from U+0020 on, but '&' and ']'. */
const PLAIN_CHARS = /^[\x20-\x25\x27-\x5c\x5e-\x7f]*$/;
const HEADER = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>";

describe('frameStanza: what may skip the tree', () => {
  it('frames a plain stanza: root name, root attributes, its exact characters', () => {
    const s = `<message from='bot@c.example' to="u@example.org" id='1'><body xmlns='urn:x'>hé > 😀\r\n</body><x/></message>`;
    const f = frameStanza(`${s}<next/>`, 0, LIMITS, isJudgedNamespace)!;
    expect(f.xml).toBe(s);
    expect(f.name).toBe('message');
    expect({ ...f.attrs }).toEqual({ from: 'bot@c.example', to: 'u@example.org', id: '1' });
    expect(f.attr('to')).toBe('u@example.org');
    expect(f.attr('type')).toBeUndefined();
  });

  it('starts where it is told and frames a self-closing root', () => {
    const f = frameStanza(`junk<presence from='c.example' to='u@x'/>`, 4, LIMITS, isJudgedNamespace)!;
    expect(f.xml).toBe(`<presence from='c.example' to='u@x'/>`);
  });

  it.each([
    ['an entity reference', `<message><body>a &amp; b</body></message>`],
    ['a character reference in an attribute', `<message id='&#65;'/>`],
    ['CDATA', `<message><body><![CDATA[x]]></body></message>`],
    ['a comment', `<message><!-- c --></message>`],
    ['a processing instruction', `<message><?pi?></message>`],
    ['a prefixed element', `<message><p:x xmlns:p='urn:x'/></message>`],
    ['a prefixed attribute', `<message><body xml:lang='en'>x</body></message>`],
    ['a namespace declared on the root', `<message xmlns='jabber:component:accept'/>`],
    ['a privilege element', `<message><privilege xmlns='urn:xmpp:privilege:2'/></message>`],
    ['a delegation element', `<iq><delegation xmlns='urn:xmpp:delegation:1'/></iq>`],
    ['a roster query', `<iq><query xmlns='jabber:iq:roster'/></iq>`],
    ['a disco#info query', `<iq><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`],
    ['an undeclared default namespace', `<message><x xmlns=''/></message>`],
    ['attack: the xml namespace declared as the default one (the full parser and libexpat refuse it)', `<message><x xmlns='http://www.w3.org/XML/1998/namespace'/></message>`],
    ['attack: the xmlns namespace declared as the default one', `<message><x xmlns='http://www.w3.org/2000/xmlns/'/></message>`],
    ['a tab in an attribute value (normalised by parsers)', `<message id='a\tb'/>`],
    ['a control character in text', `<message><body>\u0001</body></message>`],
    ['U+FFFE in text', `<message><body>\uFFFE</body></message>`],
    [']]> in text', `<message><body>]]></body></message>`],
    ['a duplicate attribute', `<message id='1' id='2'/>`],
    ['a mismatched end tag', `<message><a></b></message>`],
    ['a non-ASCII name', `<message><é/></message>`],
    ['an incomplete stanza', `<message><body>hel`],
    ['nesting deeper than the limit', `<message>${'<a>'.repeat(8)}${'</a>'.repeat(8)}</message>`],
    ['more UTF-8 bytes than the limit (fewer characters)', `<message><body>${'é'.repeat(600)}</body></message>`],
    ['more UTF-8 bytes than the limit in an attribute value', `<message id='${'é'.repeat(600)}'/>`],
    ['U+FFFF in text', `<message><body>\uFFFF</body></message>`],
    ['U+FFFE in an attribute value', `<message id='\uFFFE'/>`],
    ['U+FFFF in an attribute value', `<message id='\uFFFF'/>`],
    ["'<' in an attribute value", `<message id='a<b'/>`],
    ["'&' in an attribute value", `<message id='a&amp;b'/>`],
    ['a line feed in an attribute value', `<message id='a\nb'/>`],
    ['a carriage return in an attribute value', `<message id='a\rb'/>`],
    ['a control character in an attribute value', `<message id='a\u0001b'/>`],
    ['NUL in text', `<message><body>a\u0000b</body></message>`],
    ['a C1 character (non-ASCII) before ]]> in text', `<message><body>\u0085]]></body></message>`],
    ['an attribute value without its closing quote', `<message id='abc/>`],
    ['character data without a following tag', `<message>abc`],
  ])('leaves %s to the full parser', (_what, input) => {
    expect(frameStanza(input, 0, LIMITS, isJudgedNamespace)).toBeUndefined();
    if (PLAIN_CHARS.test(input)) expect(frameStanza(input, 0, LIMITS, isJudgedNamespace, true)).toBeUndefined();
  });

  it.each([
    ['tab, LF and CR in text', `<message><body>a\tb\nc\r\nd</body></message>`],
    ['DEL and C1 characters in text', `<message><body>\u007f\u0085</body></message>`],
    ['a lone ] and ]] in text', `<message><body>a]b]]c]</body></message>`],
    [']]> in an attribute value', `<message id=']]>'/>`],
    ['the other quote and > in an attribute value', `<message id='q"q>' to="p'p"/>`],
    ['non-ASCII in an attribute value', `<message id='é😀'/>`],
  ])('frames a stanza with %s', (_what, input) => {
    expect(frameStanza(input, 0, LIMITS, isJudgedNamespace)?.xml).toBe(input);
  });

  it.each([
    ['a plain stanza', `<message from='a@b' to="c@d" id='x>y'><body>text > more</body><x a='1'/></message>`, true],
    ["'<' in a later attribute value", `<message from='a@b' to='c<d'/>`, false],
    ["'<' in a child's attribute value", `<message from='a@b'><x a='1' b='2<'/></message>`, false],
    ['a value without its closing quote', `<message from='a@b/>`, false],
    ['character data without a following tag', `<message from='a@b'>text`, false],
    ['too many characters for the limit', `<message><body>${'x'.repeat(LIMITS.maxStanzaBytes)}</body></message>`, false],
  ])('given plain input, frames exactly as it does character by character: %s', (_what, input, frames) => {
    expect(PLAIN_CHARS.test(input)).toBe(true);
    expect(frameStanza(input, 0, LIMITS, isJudgedNamespace, true)?.xml).toBe(frames ? input : undefined);
    expect(frameStanza(input, 0, LIMITS, isJudgedNamespace)?.xml).toBe(frames ? input : undefined);
  });

  it('judges each stanza of one buffer on its own, whatever came before or after it in the buffer', () => {
    const clean = `<message id='1'><body>ok</body></message>`;
    const dirty = [`<message id='a&amp;b'/>`, `<message><body>a &amp; b</body></message>`, `<message id='a\nb'/>`, `<message><body>\u0001</body></message>`, `<message><body>]]></body></message>`];
    for (const d of dirty) {
      for (const buf of [clean + d + clean, d + clean + d]) {
        const at = (n: number) => frameStanza(buf, n, LIMITS, isJudgedNamespace);
        // Forwards through the buffer, then back again.
        const starts = buf.startsWith(clean) ? [0, clean.length, clean.length + d.length] : [0, d.length, d.length + clean.length];
        for (const order of [starts, [...starts].reverse()]) {
          expect(order.map((n) => at(n)?.xml)).toEqual(order.map((n) => (buf.startsWith(clean, n) ? clean : undefined)));
        }
      }
    }
  });

  it('counts non-ASCII characters in text and values towards the byte limit exactly', () => {
    const head = `<message id='é'><body>`;
    const tail = `</body></message>`;
    // 'é' is two UTF-8 bytes: one extra in the value, fill the rest with 'é' and one ASCII character or not.
    const room = LIMITS.maxStanzaBytes - (head.length + 1) - tail.length;
    const fill = 'é'.repeat(Math.floor(room / 2)) + (room % 2 ? 'x' : '');
    expect(frameStanza(head + fill + tail, 0, LIMITS, isJudgedNamespace)).toBeDefined();
    expect(frameStanza(`${head}${fill}x${tail}`, 0, LIMITS, isJudgedNamespace)).toBeUndefined();
  });

  it('counts a stanza exactly at the byte limit as within it, one byte more as over', () => {
    const head = `<message><body>`;
    const tail = `</body></message>`;
    const fill = 'x'.repeat(LIMITS.maxStanzaBytes - head.length - tail.length);
    expect(frameStanza(head + fill + tail, 0, LIMITS, isJudgedNamespace)).toBeDefined();
    expect(frameStanza(`${head}${fill}x${tail}`, 0, LIMITS, isJudgedNamespace)).toBeUndefined();
  });
});

describe('StreamParser with a fast path', () => {
  function parse(input: string, take: (name: string) => boolean) {
    const framed: string[] = [];
    const trees: string[] = [];
    const p = new StreamParser(
      {
        onHeader: () => {},
        onStanza: (el) => void trees.push(el.name),
        onEnd: () => {},
        isJudged: isJudgedNamespace,
        onFramed: (f) => {
          if (!take(f.name)) return false;
          framed.push(f.xml);
          return true;
        },
      },
      LIMITS,
    );
    const failure = p.write(HEADER + input);
    return { framed, trees, failure };
  }

  it('hands over framed stanzas in order with the parsed ones, and parses what the handler declines', () => {
    const r = parse(`<message id='1'/><iq id='2'><query xmlns='jabber:iq:roster'/></iq><presence id='3'/><message id='4'/>`, (n) => n !== 'presence');
    expect(r.failure).toBeUndefined();
    expect(r.framed).toEqual([`<message id='1'/>`, `<message id='4'/>`]);
    expect(r.trees).toEqual(['iq', 'presence']);
  });

  it('reports an error the fast path stepped back from exactly as the full parser does', () => {
    const r = parse(`<message id='1'/><message id='2' id='3'/>`, () => true);
    expect(r.framed).toEqual([`<message id='1'/>`]);
    expect(r.failure).toEqual({ condition: 'not-well-formed', text: 'duplicate attribute "id"' });
  });

  function parser(framed: string[], trees: string[], onFramed: () => void = () => {}) {
    const p: StreamParser = new StreamParser(
      {
        onHeader: () => {},
        onStanza: (el) => void trees.push(el.attrs.id as string),
        onEnd: () => {},
        isJudged: isJudgedNamespace,
        onFramed: (f) => {
          framed.push(f.attr('id')!);
          onFramed();
          return true;
        },
      },
      LIMITS,
    );
    p.write(HEADER, true);
    return p;
  }

  it('calls input plain only if all of it is: the part of a stanza carried over from an earlier write counts', () => {
    const framed: string[] = [];
    const trees: string[] = [];
    const p = parser(framed, trees);
    // A '<' in a value can only be there if unescaped text was mis-scanned: '&' arrives first, not plain.
    expect(p.write("<message id='1' to='a&amp;", false)).toBeUndefined();
    expect(p.write("b'/><message id='2'/>", true)).toBeUndefined();
    expect(p.write("<message id='3'><body>x &amp;", false)).toBeUndefined();
    expect(p.write(' y</body></message>', true)).toBeUndefined();
    // An unfinished tag waiting for its '>' over more than one write.
    expect(p.write("<message id='4' to='a&amp;", false)).toBeUndefined();
    expect(p.write('b c', true)).toBeUndefined();
    expect(p.write("'/><message id='5'/>", true)).toBeUndefined();
    expect(trees).toEqual(['1', '3', '4']);
    expect(framed).toEqual(['2', '5']);
  });

  it('calls input held while suspended plain only if all of it is', () => {
    const framed: string[] = [];
    const trees: string[] = [];
    let p: StreamParser | undefined = undefined;
    p = parser(framed, trees, () => p!.suspend());
    p.write(`<message id='1'/><message id='2' to='a&amp;b'/>`, false);
    p.write(`<message id='3'/><message id='4'><body>&amp;</body></message>`, false);
    p.write(`<message id='5'/>`, true);
    expect(framed).toEqual(['1']);
    for (let n = 0; n < 5 && p.resume() === undefined; n++);
    expect(trees).toEqual(['2', '4']);
    expect(framed).toEqual(['1', '3', '5']);
  });

  it('takes no fast path when the stream is not in the component namespace', () => {
    const framed: string[] = [];
    const p = new StreamParser(
      { onHeader: () => {}, onStanza: () => {}, onEnd: () => {}, onFramed: (f) => (framed.push(f.xml), true), isJudged: isJudgedNamespace },
      LIMITS,
    );
    p.write("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message id='1'/>");
    expect(framed).toEqual([]);
  });
});
