import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Element } from '@xmpp/xml';
import { StreamParser, type ParseFailure, type StreamHeader } from '../../../src/protocol/parser.js';
import { utf8Length } from '../../../src/protocol/utf8.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { received } from '../../fixtures/recordings.js';

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='pubsub.example.org'>";

interface Run {
  header?: StreamHeader;
  stanzas: Element[];
  ended: boolean;
  failure?: ParseFailure;
  whitespace: number;
  parser: StreamParser;
}

function parse(chunks: string[] | string, limits = { maxStanzaBytes: 4096, maxDepth: 64 }): Run {
  const run: Run = { stanzas: [], ended: false, whitespace: 0 } as unknown as Run;
  run.parser = new StreamParser(
    {
      onHeader: (h) => (run.header = h),
      onStanza: (el) => void run.stanzas.push(el),
      onEnd: () => (run.ended = true),
      onWhitespace: () => void run.whitespace++,
    },
    limits,
  );
  for (const c of typeof chunks === 'string' ? [chunks] : chunks) {
    const f = run.parser.write(c);
    if (f && !run.failure) run.failure = f;
  }
  return run;
}

const one = (body: string) => parse(HEADER + body);
const SERVER_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' from='pubsub.example.test' id='x' xmlns='jabber:component:accept'>";
/** Recordings of later cases start mid-stream: give them the header they had. */
const withHeader = (data: string) => (data.startsWith('<?xml') ? data : SERVER_HEADER + data);

describe('StreamParser: stream framing', () => {
  it('reads the header with its resolved namespaces and attributes', () => {
    const r = parse(HEADER);
    expect(r.failure).toBeUndefined();
    expect(r.header).toEqual({
      ns: 'http://etherx.jabber.org/streams',
      local: 'stream',
      defaultNs: 'jabber:component:accept',
      attrs: { to: 'pubsub.example.org' },
    });
  });

  it('emits one element per stanza and the stream end', () => {
    const r = one("<message to='a@b' from='c'><body>hi</body></message><iq type='get' id='1'/></stream:stream>");
    expect(r.stanzas.map((s) => s.name)).toEqual(['message', 'iq']);
    expect(r.stanzas[0]!.getChildText('body')).toBe('hi');
    expect(r.ended).toBe(true);
  });

  it('survives any split of the input across writes', () => {
    const input = HEADER + "<message to='a@b' id='x'><body>a &amp; b &#233; &#x1D11E; <![CDATA[<raw>]]></body></message>";
    const whole = parse(input);
    for (let cut = 1; cut < input.length; cut++) {
      const r = parse([input.slice(0, cut), input.slice(cut)]);
      expect(r.failure, `cut at ${cut}`).toBeUndefined();
      expect(serialize(r.stanzas[0]!)).toBe(serialize(whole.stanzas[0]!));
    }
    expect(whole.stanzas[0]!.getChildText('body')).toBe('a & b é 𝄞 <raw>');
  });

  it('ignores character data between stanzas (real Prosody writes "</iq>306")', () => {
    const data = received('prosody', 'privileged-iq-denied-namespace', 'pubsub');
    expect(data).toContain('</iq>306');
    const r = parse(withHeader(data));
    expect(r.failure).toBeUndefined();
    expect(r.stanzas.some((s) => s.name === 'iq' && s.attrs.id === 'pi5')).toBe(true);
  });

  it('reports white space keep-alives without keeping them', () => {
    const r = parse([HEADER, ' ', '\n\n', "<message to='a@b'/>", '   ']);
    expect(r.failure).toBeUndefined();
    // once per write that carried white space between stanzas
    expect(r.whitespace).toBe(3);
    expect(r.stanzas).toHaveLength(1);
    expect(r.stanzas[0]!.children).toEqual([]);
  });

  it('parses every Prosody recording the team captured without a failure', () => {
    for (const name of ['component-connect', 'roster-get', 'privileged-iq-get', 'delegated-mam-with-node', 'presence-initial-alice']) {
      const r = parse(withHeader(received('prosody', name, 'pubsub')), { maxStanzaBytes: 262144, maxDepth: 64 });
      expect(r.failure, name).toBeUndefined();
      expect(r.stanzas.length, name).toBeGreaterThan(0);
    }
  });
});

describe('StreamParser: namespaces are resolved, never read off xmlns', () => {
  it('canonicalises a prefixed privilege wrapper into default-namespace form', () => {
    const r = one(
      "<message from='pubsub.example.org' to='example.org'><p:privilege xmlns:p='urn:xmpp:privilege:2'><p:perm access='roster'/></p:privilege></message>",
    );
    const wrapper = r.stanzas[0]!.getChild('privilege', 'urn:xmpp:privilege:2');
    expect(wrapper).toBeDefined();
    expect(wrapper!.name).toBe('privilege');
    expect(wrapper!.attrs).toEqual({ xmlns: 'urn:xmpp:privilege:2' });
    expect(wrapper!.getChild('perm', 'urn:xmpp:privilege:2')).toBeDefined();
    expect(serialize(r.stanzas[0]!)).toBe(
      '<message from="pubsub.example.org" to="example.org"><privilege xmlns="urn:xmpp:privilege:2"><perm access="roster"/></privilege></message>',
    );
  });

  it('resolves a prefix declared on the stream header', () => {
    const r = parse(
      "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' xmlns:p='urn:xmpp:privilege:2'><message to='a@b'><p:privilege/></message>",
    );
    expect(r.stanzas[0]!.getChild('privilege', 'urn:xmpp:privilege:2')).toBeDefined();
  });

  it('resolves a default namespace redeclared on a child', () => {
    const r = one("<message to='a@b'><x xmlns='urn:a'><privilege xmlns='urn:xmpp:privilege:2'><y/></privilege></x></message>");
    const priv = r.stanzas[0]!.getChild('x')!.getChild('privilege')!;
    expect(priv.getNS()).toBe('urn:xmpp:privilege:2');
    expect(priv.getChild('y')!.getNS()).toBe('urn:xmpp:privilege:2');
  });

  it('does not mistake a look-alike for the real namespace', () => {
    const r = one("<message to='a@b'><privilege xmlns:x='urn:xmpp:privilege:2'/></message>");
    const el = r.stanzas[0]!.getChildElements()[0]!;
    expect(el.getNS()).toBe('jabber:component:accept');
  });

  it('keeps prefixed attributes meaningful wherever the element goes', () => {
    const r = one("<message to='a@b' xml:lang='en'><x xmlns='urn:a' xmlns:q='urn:q' q:attr='v'/></message>");
    expect(serialize(r.stanzas[0]!)).toBe('<message to="a@b" xml:lang="en"><x q:attr="v" xmlns:q="urn:q" xmlns="urn:a"/></message>');
  });

  it('marks a stanza in another namespace so it cannot pass for a component stanza', () => {
    const r = one("<message xmlns='jabber:client' to='a@b'/>");
    expect(r.stanzas[0]!.attrs.xmlns).toBe('jabber:client');
  });

  it('refuses an undeclared prefix', () => {
    expect(one("<message to='a@b'><p:x/></message>").failure?.condition).toBe('not-well-formed');
    expect(one("<message to='a@b' p:y='1'/>").failure?.condition).toBe('not-well-formed');
  });
});

describe('StreamParser: what the server would reject is rejected', () => {
  it.each([
    ['duplicate attribute', "<message to='a@b' to='evil@c'/>"],
    ['duplicate expanded attribute', "<message to='a@b'><x xmlns:a='urn:z' xmlns:b='urn:z' a:k='1' b:k='2'/></message>"],
    ['undefined entity', "<message to='a@b'><body>&foo;</body></message>"],
    ['undefined entity in an attribute', "<message to='a@b&nope;'/>"],
    ['illegal character reference', "<message to='a@b'><body>&#1;</body></message>"],
    ['surrogate character reference', "<message to='a@b'><body>&#xD800;</body></message>"],
    ['raw control character', "<message to='a@b'><body>\u0001</body></message>"],
    ['bare ampersand', "<message to='a@b'><body>a & b</body></message>"],
    ['mismatched end tag', "<message to='a@b'><body>x</message>"],
    ['unquoted attribute', '<message to=a@b/>'],
    ['no space between attributes', "<message to='a@b'id='1'/>"],
    ["'<' in an attribute value", "<message to='a<b'/>"],
    ['invalid element name', '<1bad/>'],
    ["'<' in an element name (no need to wait for '>')", '<<<'],
    ["'<' in an end tag", "<message to='a@b'></mess<"],
    ['empty namespace bound to a prefix', "<message xmlns:p=''/>"],
    // Names are looked up in a cache whose empty slots hold '': an empty name must not be found there.
    ['attribute without a name', "<message to='a@b' ='x'/>"],
    ['attribute without a name after white space', "<message to='a@b'><x a='1' \n= 'x'/></message>"],
    ['element without a name', "<message to='a@b'>< /></message>"],
    ['element without a name, closed by an end tag without one', "<message to='a@b'><></></message>"],
  ])('%s → not-well-formed', (_what, body) => {
    const r = one(body);
    expect(r.failure?.condition).toBe('not-well-formed');
    expect(r.stanzas).toHaveLength(0);
  });

  it.each([
    ['DOCTYPE after the header', "<!DOCTYPE x [<!ENTITY e 'v'>]><message to='a@b'/>"],
    ['comment', "<!-- hi --><message to='a@b'/>"],
    ['comment inside a stanza', "<message to='a@b'><!-- x --></message>"],
    ['processing instruction', "<?evil?><message to='a@b'/>"],
    ['XML declaration mid-stream', "<?xml version='1.0'?>"],
  ])('%s → restricted-xml', (_what, body) => {
    const r = one(body);
    expect(r.failure?.condition).toBe('restricted-xml');
    expect(r.stanzas).toHaveLength(0);
  });

  it('refuses a DOCTYPE before the header', () => {
    expect(parse("<!DOCTYPE stream><stream:stream xmlns='jabber:component:accept'>").failure?.condition).toBe('restricted-xml');
  });

  it('refuses text before the header', () => {
    expect(parse('hello <stream:stream>').failure?.condition).toBe('not-well-formed');
  });

  it('is dead after a failure: later input is ignored and nothing throws', () => {
    const r = one("<message to='a@b' to='c'/>");
    expect(r.failure).toBeDefined();
    expect(r.parser.write("<message to='x@y'/>")).toBeUndefined();
    expect(r.stanzas).toHaveLength(0);
  });
  // "never throws, whatever the input" (2,000 random inputs) is in test/property/parser.property.test.ts.
});

describe('StreamParser: a stanza as it arrived (raw), for forwarding it unchanged', () => {
  function raws(chunks: string[]): (string | undefined)[] {
    const out: (string | undefined)[] = [];
    const p = new StreamParser({ onHeader: () => {}, onStanza: (_el, raw) => void out.push(raw), onEnd: () => {} }, { maxStanzaBytes: 4096, maxDepth: 64 });
    for (const c of [HEADER, ...chunks]) expect(p.write(c)).toBeUndefined();
    return out;
  }
  const PRIV =
    "<message from='c.example.org' to='example.org' id='p1'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
    "<message xmlns='jabber:client' from='a@example.org' to='b@example.org' type='chat'><body xml:lang='en'>hi > there</body></message></forwarded></privilege></message>";

  it('offers the characters of a stanza every reader reads as its tree, judged namespaces included', () => {
    expect(raws([`${PRIV} <presence/>`])).toEqual([PRIV, '<presence/>']);
  });

  it('offers nothing where another reader could read other characters or where they are not at hand', () => {
    const cases = [
      "<message to='a@b'><body>a&amp;b</body></message>", // a reference
      "<message to='a@b'><body>a\r\nb</body></message>", // a CR, normalised
      "<message to='a@b' x='a\tb'/>", // a value normalised
      "<message to='a@b'><body><![CDATA[x]]></body></message>",
      "<message xmlns='jabber:client' to='a@b'/>", // a namespace declared on the root
      "<message to='a@b'><x xmlns=''/></message>",
      "<message to='a@b' xmlns:p='urn:p' p:a='1'/>", // a prefix
      "<message to='a@b'><p:x xmlns:p='urn:p'/></message>",
    ];
    for (const c of cases) expect(raws([c]), c).toEqual([undefined]);
    // Split across two reads: not at hand in one piece.
    expect(raws([PRIV.slice(0, 100), PRIV.slice(100)])).toEqual([undefined]);
    // A start tag completed by the next read is read in that one: offered.
    expect(raws(['<presence to=', "'a@b'/>"])).toEqual(["<presence to='a@b'/>"]);
  });
});

describe('StreamParser: limits', () => {
  const limits = { maxStanzaBytes: 2048, maxDepth: 64 };

  it('accepts a stanza of exactly the limit and refuses one byte more', () => {
    const frame = (n: number) => `<message to='a@b'><body>${'x'.repeat(n)}</body></message>`;
    const overhead = frame(0).length;
    expect(parse(HEADER + frame(2048 - overhead), limits).failure).toBeUndefined();
    expect(parse(HEADER + frame(2049 - overhead), limits).failure?.condition).toBe('policy-violation');
  });

  it('counts UTF-8 bytes, not characters', () => {
    const frame = (s: string) => `<message to='a@b'><body>${s}</body></message>`;
    const overhead = frame('').length;
    const euros = '€'.repeat(Math.floor((2048 - overhead) / 3) + 1); // fits in chars, not in bytes
    expect(frame(euros).length).toBeLessThan(2048);
    expect(parse(HEADER + frame(euros), limits).failure?.condition).toBe('policy-violation');
  });

  it('fails an unterminated attribute value before buffering much more than the limit', () => {
    const p = parse([HEADER, "<message to='"], limits);
    let fed = 0;
    let failure: ParseFailure | undefined;
    while (!failure && fed < 1_000_000) {
      failure = p.parser.write('A'.repeat(512));
      fed += 512;
    }
    expect(failure?.condition).toBe('policy-violation');
    expect(fed).toBeLessThanOrEqual(2048 + 512);
  });

  it('fails unterminated text trickled in small reads at the limit', () => {
    const p = parse([HEADER, "<message to='a@b'><body>"], limits);
    let fed = 0;
    let failure: ParseFailure | undefined;
    while (!failure && fed < 1_000_000) {
      failure = p.parser.write('B'.repeat(100));
      fed += 100;
    }
    expect(failure?.condition).toBe('policy-violation');
    // at most one read beyond the limit is ever held
    expect(fed).toBeLessThanOrEqual(2048 + 100);
  });

  it('does not count the bytes between stanzas against the next stanza', () => {
    const chunks = [HEADER];
    for (let i = 0; i < 100; i++) chunks.push(`<message to='a@b'><body>${'y'.repeat(1500)}</body></message>`, '  ');
    const r = parse(chunks, limits);
    expect(r.failure).toBeUndefined();
    expect(r.stanzas).toHaveLength(100);
  });

  it('allows nesting to the depth bound and refuses one level more', () => {
    const nest = (n: number) => `${'<a>'.repeat(n)}${'</a>'.repeat(n)}`;
    expect(parse(HEADER + `<message to='a@b'>${nest(63)}</message>`, limits).failure).toBeUndefined();
    expect(parse(HEADER + `<message to='a@b'>${nest(64)}</message>`, limits).failure?.condition).toBe('policy-violation');
  });

  it('checks a start tag with tens of thousands of attributes, duplicates included', () => {
    const attrs = Array.from({ length: 30_000 }, (_, i) => `a${i}='1'`).join(' ');
    const r = parse(`${HEADER}<message ${attrs}/>`, { maxStanzaBytes: 1 << 20, maxDepth: 64 });
    expect(r.stanzas).toHaveLength(1);
    expect(parse(`${HEADER}<message ${attrs} a29999='2'/>`, { maxStanzaBytes: 1 << 20, maxDepth: 64 }).failure?.condition).toBe('not-well-formed');
  });

  it('utf8Length agrees with Buffer.byteLength', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => utf8Length(s) === Buffer.byteLength(s)));
  });
});

describe('serialize', () => {
  it('round-trips what the parser produced, with attribute white space kept as references', () => {
    const r = one("<message to='a@b' x='l1&#10;l2&#9;t'><body>a\r\nb &lt; &amp;</body></message>");
    const el = r.stanzas[0]!;
    expect(el.attrs.x).toBe('l1\nl2\tt');
    const out = serialize(el);
    expect(out).toBe('<message to="a@b" x="l1&#10;l2&#9;t"><body>a\nb &lt; &amp;</body></message>');
    const again = one(out).stanzas[0]!;
    expect(serialize(again)).toBe(out);
  });

  it('never writes a character XML forbids, even when a text quotes hostile input', async () => {
    const { streamError } = await import('../../../src/protocol/stanzas.js');
    const text = streamError('not-well-formed', 'invalid attribute name "\u001fxmlns"');
    expect(text).toContain('\uFFFDxmlns');
    expect(one(text.replace('<stream:error>', "<message to='a@b'>").replace('</stream:error>', '</message>')).failure).toBeUndefined();
  });

  it('normalises literal white space in attribute values as XML requires', () => {
    const r = one("<message to='a@b' x='l1\nl2\tt'/>");
    expect(r.stanzas[0]!.attrs.x).toBe('l1 l2 t');
  });
});
