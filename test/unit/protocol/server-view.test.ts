/**
 * The parser reads a stanza the way the server's parser (libexpat, through
 * Prosody's util/xmppstream.lua) does: names from libexpat's own tables,
 * end-of-line handling on the raw input only, `xmlns=''` as no namespace,
 * strict UTF-8, and nothing privguard could not forward in a form the server
 * accepts (issue 11 item 3). test/differential/ checks the same against libexpat.
 */
import { describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { StreamParser, type ParseFailure } from '../../../src/protocol/parser.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { joinAscii, StrictUtf8Decoder } from '../../../src/protocol/utf8.js';

const HEADER = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='c.example.org'>";

function parse(chunks: string[]): { stanzas: Element[]; failure?: ParseFailure } {
  const out: { stanzas: Element[]; failure?: ParseFailure } = { stanzas: [] };
  const p = new StreamParser({ onHeader: () => {}, onStanza: (el) => void out.stanzas.push(el), onEnd: () => {} }, { maxStanzaBytes: 10_000, maxDepth: 32 });
  for (const c of [HEADER, ...chunks]) {
    const f = p.write(c);
    if (f && !out.failure) out.failure = f;
  }
  return out;
}

describe('names: libexpat tables, not XML 1.0 5th edition', () => {
  it('refuses a fullwidth attribute name (valid in the 5th edition, refused by libexpat)', () => {
    const r = parse(["<message to='a@b' from='c.example.org' \uFF49\uFF44='1'/>"]);
    expect(r.failure?.condition).toBe('not-well-formed');
    expect(r.stanzas).toHaveLength(0);
  });
  it('refuses such a name on an element too', () => {
    expect(parse(["<message to='a@b' from='c.example.org'><\u0D80x/></message>"]).failure?.condition).toBe('not-well-formed');
  });
  it('accepts names libexpat accepts (Latin, Cyrillic, CJK)', () => {
    const r = parse(["<message to='a@b' from='c.example.org'><\u00E9l\u0436\u4E2D xmlns='urn:x' \u00E0='1'/></message>"]);
    expect(r.failure).toBeUndefined();
    expect(r.stanzas[0]!.getChild('\u00E9l\u0436\u4E2D')?.attrs['\u00E0']).toBe('1');
  });
});

describe('the xml namespace', () => {
  it('refuses an element with the xml prefix (it has no canonical form)', () => {
    const r = parse(["<message to='a@b' from='c.example.org'><xml:x/></message>"]);
    expect(r.failure?.condition).toBe('policy-violation');
    expect(r.stanzas).toHaveLength(0);
  });
  it('refuses the xml or xmlns namespace as a default namespace', () => {
    expect(parse(["<message to='a@b' from='c.example.org'><x xmlns='http://www.w3.org/XML/1998/namespace'/></message>"]).failure?.condition).toBe('not-well-formed');
    expect(parse(["<message to='a@b' from='c.example.org'><x xmlns='http://www.w3.org/2000/xmlns/'/></message>"]).failure?.condition).toBe('not-well-formed');
  });
  it("tolerates a reserved default namespace on the server's stream (Prosody writes a user's <xml:x/> so)", () => {
    const out: Element[] = [];
    const p = new StreamParser({ onHeader: () => {}, onStanza: (el) => void out.push(el), onEnd: () => {} }, { maxStanzaBytes: 10_000, maxDepth: 32, serverStream: true });
    p.write(HEADER);
    expect(p.write("<message to='c.example.org' from='a@b'><x xmlns='http://www.w3.org/XML/1998/namespace'/></message>")).toBeUndefined();
    expect(out).toHaveLength(1);
  });
  it('keeps xml: attributes as they are, without a declaration', () => {
    const r = parse(["<message to='a@b' from='c.example.org' xml:lang='en'><body xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='de'>x</body></message>"]);
    expect(r.failure).toBeUndefined();
    expect(serialize(r.stanzas[0]!)).toBe('<message to="a@b" from="c.example.org" xml:lang="en"><body xml:lang="de">x</body></message>');
  });
});

describe("xmlns=''", () => {
  it('puts the element in no namespace, not its parent’s', () => {
    const r = parse(["<message to='a@b' from='c.example.org'><x xmlns='urn:a'><y xmlns=''><z/></y></x></message>"]);
    const y = r.stanzas[0]!.getChild('x')!.getChild('y')!;
    expect(y.getNS()).toBeUndefined();
    expect(y.getChild('z')!.getNS()).toBeUndefined();
    expect(r.stanzas[0]!.getChild('x')!.getChild('y', 'urn:a')).toBeUndefined();
  });
  it('a top-level stanza with xmlns= is in no namespace, not the component one', () => {
    const r = parse(["<message xmlns='' to='a@b' from='c.example.org'/>"]);
    expect(r.stanzas[0]!.getNS()).toBeUndefined();
  });
});

describe('end-of-line handling applies to the raw input only', () => {
  it('&#13; in text stays a CR, and is written back as a reference', () => {
    const r = parse(["<message to='a@b' from='c.example.org'><body>a&#13;b&#13;&#10;c</body></message>"]);
    expect(r.stanzas[0]!.getChildText('body')).toBe('a\rb\r\nc');
    expect(serialize(r.stanzas[0]!)).toContain('<body>a&#13;b&#13;\nc</body>');
  });
  it('a raw CR LF split across reads is one LF', () => {
    const r = parse(["<message to='a@b' from='c.example.org'><body>a\r", "\nb\rc\r", '</body></message>']);
    expect(r.stanzas[0]!.getChildText('body')).toBe('a\nb\nc\n');
  });
  it('CR in a CDATA section is normalised, a CR reference in an attribute is kept', () => {
    const r = parse(["<message to='a@b' from='c.example.org' id='x&#13;y'><body><![CDATA[a\r\nb]]></body></message>"]);
    expect(r.stanzas[0]!.getChildText('body')).toBe('a\nb');
    expect(r.stanzas[0]!.attrs.id).toBe('x\ry');
  });
});

describe('strict UTF-8', () => {
  const bytes = (...b: number[]) => Uint8Array.from(b);
  it('decodes a character split across reads', () => {
    const d = new StrictUtf8Decoder();
    expect(d.write(bytes(0x61, 0xe2, 0x82))).toBe('a');
    expect(d.write(bytes(0xac, 0x62))).toBe('\u20ACb');
  });
  it.each([
    ['a stray continuation byte', [0x80]],
    ['an overlong form', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a truncated sequence', [0xe2, 0x82, 0x41]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xFF', [0xff]],
  ])('refuses %s instead of repairing it', (_what, b) => {
    expect(new StrictUtf8Decoder().write(bytes(0x3c, ...b))).toBeUndefined();
  });
  it('joins the rest of an ASCII read to the next as bytes, and never a text that is not ASCII (Latin-1 would keep only low bytes)', () => {
    expect(joinAscii("<message to='a", Buffer.from("@b'/>"))?.toString('latin1')).toBe("<message to='a@b'/>");
    expect(joinAscii('\u4e3c', Buffer.from('x'))).toBeUndefined();
    expect(joinAscii('é', Buffer.from('x'))).toBeUndefined();
  });
  it('does not join bytes of another length than the chunk (not its ASCII bytes): the chunk is what is read', () => {
    const stanzas: Element[] = [];
    const p = new StreamParser({ onHeader: () => {}, onStanza: (el) => void stanzas.push(el), onEnd: () => {} }, { maxStanzaBytes: 1000, maxDepth: 8 });
    p.write(HEADER, true, Buffer.from(HEADER));
    p.write("<message to='a", true, Buffer.from("<message to='a"));
    p.write("@b'/>", true, Buffer.from("@c'/> "));
    expect(stanzas.map((el) => String(el.attrs.to))).toEqual(['a@b']);
  });
  it('a failure from outside the parser ends it like its own', () => {
    let headers = 0;
    const p = new StreamParser({ onHeader: () => void headers++, onStanza: () => {}, onEnd: () => {} }, { maxStanzaBytes: 100, maxDepth: 4 });
    expect(p.fail('not-well-formed', 'invalid UTF-8')).toEqual({ condition: 'not-well-formed', text: 'invalid UTF-8' });
    // Dead afterwards: input is ignored, as after a failure of its own.
    expect(p.write("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>")).toBeUndefined();
    expect(headers).toBe(0);
    expect(p.fail('not-well-formed', 'again')).toBeUndefined();
  });
});
