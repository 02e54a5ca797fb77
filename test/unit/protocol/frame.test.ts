import { describe, expect, it } from 'vitest';
import { frameStanza } from '../../../src/protocol/frame.js';
import { isJudgedNamespace } from '../../../src/policy/framed.js';
import { StreamParser } from '../../../src/protocol/parser.js';

const LIMITS = { maxStanzaBytes: 1024, maxDepth: 8 };
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
  ])('leaves %s to the full parser', (_what, input) => {
    expect(frameStanza(input, 0, LIMITS, isJudgedNamespace)).toBeUndefined();
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
