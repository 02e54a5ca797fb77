/**
 * The differential test of the parser's fast path (protocol/frame.ts): random
 * and mutated stanzas, split at random across reads, go through
 *  (A) the parser with the fast path on (every framed stanza taken as it is),
 *  (B) the same parser with it off (every stanza parsed into a tree), and
 *  (C) @xmpp/xml's parser (ltx), for what the fast path forwarded.
 * Properties:
 *  1. A and B agree on every event: the same stanzas in the same order (a
 *     framed stanza's characters parse to B's very tree), the same failure.
 *  2. The fast path classifies as the full engine does: a framed stanza has
 *     the root name and attributes of B's tree, no element in a judged
 *     namespace, no prefixed attribute; and whenever the session's fast-path
 *     checks (policy/framed.ts) let it through, the full engine's verdict on
 *     B's tree is a plain pass in that direction, with nothing to track,
 *     learn or audit.
 *  3. Another parser reads the forwarded characters as privguard judged them:
 *     ltx gives the same names, namespaces, attributes and text.
 * And for the full path's offer of a judged stanza's characters as they
 * arrived (`raw`, forwarded when the stanza passes unchanged): they are part
 * of the input, privguard's parser reads them as the tree it judged (after the
 * decision: nothing in the decision changed the tree), and so does ltx.
 *
 * Privileged messages, the one judged shape the fast path reads without a
 * tree (protocol/privileged-shape.ts), are driven through two engine Links,
 * one fed by the parser with the fast path on and one with it off, from
 * well-formed ones to every kind of near miss: the two links must do exactly
 * the same — the same characters to the server, the same replies, the same
 * decision events (verdict, reason, audit fields), the same stream closes.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Parser, type Element } from '@xmpp/xml';
import { loadPolicyText } from '../../src/config/load.js';
import { Link } from '../../src/engine/link.js';
import { checkComponentElement } from '../../src/policy/addressing.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { framedInboundPasses, framedOutboundPasses, isJudgedNamespace } from '../../src/policy/framed.js';
import { decideInbound } from '../../src/policy/inbound.js';
import { decideOutbound } from '../../src/policy/outbound.js';
import { classifyTopLevel } from '../../src/protocol/classify.js';
import type { FramedStanza } from '../../src/protocol/frame.js';
import { NS, privilegeVersion } from '../../src/protocol/ns.js';
import { StreamParser, type ParserHandlers } from '../../src/protocol/parser.js';
import { serialize } from '../../src/protocol/serialize.js';
import { C, context, FULL_GRANT, stanza, type Ctx } from '../unit/policy/helpers.js';
import { applyEdits, cutAt } from '../support/pieces.js';

const HEADER = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='pubsub.example.test'>";
const LIMITS = { maxStanzaBytes: 400, maxDepth: 4 };

// Pieces biased towards plain stanzas (so the fast path is taken often), with
// everything that must send a stanza to the full path mixed in.
const ROOTS = ['message', 'message', 'message', 'presence', 'iq', 'iq', 'handshake', 'p:message', 'stream:error', 'Message'];
const NAMES = ['body', 'body', 'x', 'query', 'item', 'a-b.c', '_n', 'privilege', 'forwarded', 'perm', 'delegation', 'é', 'p:q', 'n1'];
const NAMESPACES = [
  'urn:example:a', 'jabber:client', 'urn:xmpp:forward:0', 'http://jabber.org/protocol/chatstates', 'urn:xmpp:privilege:3',
  'urn:xmpp:privilege:2', 'urn:xmpp:privilege:1', 'urn:xmpp:delegation:2', 'urn:xmpp:delegation:1', 'jabber:iq:roster',
  'http://jabber.org/protocol/disco#info', 'jabber:component:accept', 'http://etherx.jabber.org/streams', '',
];
const VALUES = [
  'pubsub.example.test', 'bot@pubsub.example.test/r', 'other.example.org', 'u@example.test', 'example.test', 'alice@example.test/phone',
  'get', 'set', 'result', 'error', 'chat', 'unavailable', 'p1', 'd1', 'x', '', 'a&amp;b', 'l1&#10;l2', 'tab\there', 'nl\nhere', 'cr\rhere',
  'é', '😀', '>', '\uFFFE', 'a<b', '&foo;', 'q"q', "q'q", 'urn:xmpp:delegation:2::urn:example:a',
];
const ATTRS = ['from', 'from', 'to', 'to', 'id', 'type', 'xmlns', 'xml:lang', 'xmlns:p', 'p:attr', 'a', 'b-c', 'node', 'é'];
const TEXTS = [
  'hello', 'hello', ' ', '\r\n', 'a&amp;b', '&lt;x&gt;', '<![CDATA[c]]>', '<!-- c -->', '<?pi x?>', ']]>', 'é😀', '\u0001', '\uFFFF',
  '&#65;', '>', 'a\tb', ']]', ']',
];
const HOSTILE = ['<', '>', '&', '/', '"', "'", ':', '=', ' ', '</a>', '<a>', '<!', '<?', 'xmlns="urn:xmpp:privilege:2"', '\u0000', '😀'];

interface Pools {
  roots: string[];
  names: string[];
  attrs: string[];
  values: string[];
  texts: string[];
}
const MIXED: Pools = { roots: ROOTS, names: NAMES, attrs: ATTRS, values: [...VALUES, ...NAMESPACES], texts: TEXTS };
// Only what the fast path takes (and a judged namespace now and then).
const PLAIN: Pools = {
  roots: ['message', 'presence', 'iq'],
  names: ['body', 'x', 'query', 'item', 'a-b.c', '_n', 'n1'],
  attrs: ['a', 'b-c', 'node', 'xmlns', 'id'],
  values: ['get', 'set', 'result', 'error', 'chat', 'p1', 'd1', 'x', 'é', '😀', '>', 'urn:example:a', 'jabber:client', 'urn:xmpp:forward:0', 'urn:xmpp:privilege:2'],
  // Long texts reach the byte limit, some only when counted in UTF-8.
  texts: ['hello', ' ', '\r\n', 'é😀', '>', 'a\tb', ']]', ']', 'long '.repeat(30), 'é'.repeat(120), '😀'.repeat(60)],
};

function stanzaOf(pools: Pools): fc.Arbitrary<string> {
  const attrArb = fc
    .tuple(fc.constantFrom(...pools.attrs), fc.constantFrom(...pools.values), fc.constantFrom('"', "'"), fc.constantFrom(' ', ' ', '\n', ' = '))
    .map(([name, value, q, eq]) => (eq === ' = ' ? ` ${name} = ${q}${value}${q}` : `${eq}${name}=${q}${value}${q}`));
  const tree = fc.letrec<{ node: string; element: string }>((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constantFrom(...pools.texts), tie('element')),
    element: fc
      .tuple(fc.constantFrom(...pools.names), fc.array(attrArb, { maxLength: 3 }), fc.array(tie('node'), { maxLength: 3 }), fc.boolean(), fc.constantFrom('', ' ', '\n'))
      .map(([name, attrs, children, selfClose, ws]) => (selfClose && children.length === 0 ? `<${name}${attrs.join('')}${ws}/>` : `<${name}${attrs.join('')}${ws}>${children.join('')}</${name}${ws}>`)),
  }));
  // Addressing in both directions (component → server first, most often), and
  // the type and id values the session's tables answer for.
  const from = fc.constantFrom('bot@pubsub.example.test', 'bot@pubsub.example.test', 'pubsub.example.test', 'u@example.test/r', 'example.test');
  const to = fc.constantFrom('u@example.test', 'u@example.test', 'example.test', 'pubsub.example.test', 'bot@pubsub.example.test');
  const type = fc.constantFrom('', " type='get'", " type='set'", " type='result'", " type='error'", " type='chat'", " type='unavailable'");
  const id = fc.constantFrom('', " id='p1'", " id='d1'", " id='x'", " id='q'");
  return fc
    .tuple(fc.constantFrom(...pools.roots), from, to, type, id, fc.array(attrArb, { maxLength: 3 }), fc.array(tree.node, { maxLength: 3 }), fc.boolean())
    .map(([name, f, t, ty, i, attrs, children, selfClose]) => {
      const head = `<${name} from='${f}' to='${t}'${ty}${i}${attrs.join('')}`;
      return selfClose && children.length === 0 ? `${head}/>` : `${head}>${children.join('')}</${name}>`;
    });
}
const stanzaArb = fc.oneof({ weight: 3, arbitrary: stanzaOf(PLAIN) }, { weight: 2, arbitrary: stanzaOf(MIXED) });

const mutated = fc
  .tuple(stanzaArb, fc.array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete'), fc.constantFrom(...HOSTILE)), { maxLength: 2 }))
  .map(([s, muts]) => applyEdits(s, muts));

const inputArb = fc.tuple(
  fc.array(fc.oneof({ weight: 3, arbitrary: stanzaArb }, { weight: 1, arbitrary: mutated }), { minLength: 1, maxLength: 4 }),
  fc.array(fc.nat(), { maxLength: 3 }),
  fc.constantFrom('', ' ', '\n'),
);

type Event = { kind: 'stanza'; el: Element; framed?: FramedStanza } | { kind: 'failure'; text: string };

/** What protocol/utf8.ts's isPlainAscii says of the bytes of such characters: ASCII from U+0020 on, but '&' and ']'. */
const PLAIN_CHARS = /^[\x20-\x25\x27-\x5c\x5e-\x7f]*$/;
const ASCII = /^[\x00-\x7f]*$/;

/**
 * Feed `pieces` to a parser; with `fast`, every framed stanza is taken as it
 * is; with `plain`, each piece that is plain ASCII is written as such (as the
 * stream does when its bytes are), so the fast path skips looking at its text
 * and values.
 */
function run(pieces: string[], fast: boolean, plain = false): Event[] {
  const events: Event[] = [];
  const handlers: ParserHandlers = {
    onHeader: () => {},
    onStanza: (el) => void events.push({ kind: 'stanza', el }),
    onEnd: () => {},
  };
  if (fast) {
    handlers.isJudged = isJudgedNamespace;
    handlers.onFramed = (f) => {
      events.push({ kind: 'stanza', el: reparse(f.xml), framed: f });
      return true;
    };
  }
  const p = new StreamParser(handlers, LIMITS);
  for (const piece of [HEADER, ...pieces]) {
    // With `plain`, an ASCII piece comes with its bytes too, as the stream gives an ASCII read (joined to the rest of the last one).
    const failure = p.write(piece, plain && PLAIN_CHARS.test(piece), plain && ASCII.test(piece) ? Buffer.from(piece, 'latin1') : undefined);
    if (failure) events.push({ kind: 'failure', text: `${failure.condition}: ${failure.text}` });
  }
  return events;
}

/** A framed stanza's characters through the full path: exactly one tree, no failure. */
function reparse(chars: string): Element {
  const out: Element[] = [];
  const p = new StreamParser({ onHeader: () => {}, onStanza: (el) => void out.push(el), onEnd: () => {} }, LIMITS);
  const failure = p.write(HEADER + chars);
  if (failure || out.length !== 1) throw new Error(`framed characters do not parse to one stanza: ${failure?.text ?? out.length} in ${JSON.stringify(chars)}`);
  return out[0]!;
}

function* elements(el: Element): Generator<Element> {
  yield el;
  for (const c of el.children) if (typeof c !== 'string') yield* elements(c);
}

/** A tree as any namespace-aware reader sees it: names, resolved namespaces, attributes (no declarations), text. */
function shape(el: Element, eol = false): unknown {
  const attrs = Object.entries(el.attrs as Record<string, string>).filter(([k]) => k !== 'xmlns' && !k.startsWith('xmlns:')).sort();
  const children: unknown[] = [];
  for (const c of el.children) {
    if (typeof c === 'string') {
      const t = eol ? c.replace(/\r\n?/g, '\n') : c;
      const last = children[children.length - 1];
      if (typeof last === 'string') children[children.length - 1] = last + t;
      else if (t !== '') children.push(t);
    } else {
      children.push(shape(c, eol));
    }
  }
  return { name: el.name, ns: el.getNS(), attrs, children };
}

/** ltx (through @xmpp/xml's Parser) on the forwarded characters. */
function ltx(chars: string): Element {
  const parser = new Parser();
  const out: Element[] = [];
  const errors: unknown[] = [];
  parser.on('element', (el: Element) => out.push(el));
  parser.on('error', (e: unknown) => errors.push(e));
  parser.write(HEADER + chars);
  if (errors.length > 0 || out.length !== 1) throw new Error(`ltx read ${out.length} stanzas, errors: ${errors.map(String).join('; ')}`);
  return out[0]!;
}

// Session states the fast-path checks consult: ids of delegated requests and of privileged IQs.
function contexts(): Ctx[] {
  const none = context('example.test: { message: outgoing, roster: both, presence: roster }', FULL_GRANT);
  const busy = context('example.test: { message: outgoing, roster: both, presence: roster }', FULL_GRANT);
  busy.pending.set('p1', 'u@example.test');
  busy.expired.set('x', 'u@example.test');
  const wrapper = stanza(
    "<iq from='example.test' to='pubsub.example.test' type='set' id='d1'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='u@example.test/r' to='example.test' type='get' id='q'><query xmlns='urn:example:a'/></iq></forwarded></delegation></iq>",
  );
  busy.delegPending.set('d1', { kind: 'delegated_iq', id: 'd1', domain: 'example.test', version: 2, namespace: 'urn:example:a', request: wrapper, inner: wrapper.getChild('delegation')!.getChild('forwarded')!.getChild('iq')! });
  return [none, busy];
}
const CONTEXTS = contexts();

describe('the parser fast path against the full path and against ltx', () => {
  it('agrees on every stanza, every failure and every classification', () => {
    let framed = 0;
    let full = 0;
    let outPasses = 0;
    let inPasses = 0;
    fc.assert(
      fc.property(inputArb, ([stanzas, cuts, sep]) => {
        const input = stanzas.join(sep);
        const pieces = cutAt(input, cuts);
        const a = run(pieces, true, true);
        const b = run(pieces, false);
        // 1. The same events, stanza by stanza (and the same again when no piece is said to be plain).
        const events = (es: Event[]) => es.map((e) => (e.kind === 'stanza' ? serialize(e.el) : e.text));
        expect(events(a)).toEqual(events(b));
        expect(events(run(pieces, true))).toEqual(events(b));
        a.forEach((e, i) => {
          if (e.kind !== 'stanza' || !e.framed) {
            if (e.kind === 'stanza') full++;
            return;
          }
          framed++;
          const f = e.framed;
          const t = (b[i] as { el: Element }).el;
          // 2. No reference, CDATA, comment, processing instruction or prefix went the fast way,
          // what it read is what the full path read, and nothing in it is judged.
          expect(f.xml).not.toMatch(/&|<!|<\?|<\/?[^\s/>]*:/);
          expect(Object.keys(f.attrs).filter((k) => k.includes(':'))).toEqual([]);
          expect(f.name).toBe(t.name);
          expect({ ...f.attrs }).toEqual(t.attrs);
          for (const el of elements(t)) {
            // (Elements without a declaration are in the stream's namespace: not judged below the root.)
            // The one exception, the privilege wrapper of a privileged message, is tested below.
            const ns = el.getNS() ?? '';
            const wrapper = f.privileged !== undefined && el.parent === t && el.name === 'privilege';
            expect(el === t || wrapper || ns === NS.component || !isJudgedNamespace(ns)).toBe(true);
            expect(Object.keys(el.attrs).filter((k) => k.includes(':'))).toEqual([]);
          }
          for (const ctx of CONTEXTS) {
            const isReply = (id: string) => ctx.delegPending.has(id);
            if (framedOutboundPasses(C, f, isReply)) {
              outPasses++;
              expect(checkComponentElement(C, classifyTopLevel(t), t).action).toBe('pass');
              const v = decideOutbound({ ...ctx.out, delegationClosed: isReply }, t);
              expect(v.action).toBe('pass');
              if (v.action === 'pass') expect([v.track, v.settle, v.audit]).toEqual([undefined, undefined, undefined]);
            }
            const isResponse = (id: string) => ctx.pending.has(id) || ctx.expired.has(id);
            if (framedInboundPasses(f, isResponse)) {
              inPasses++;
              const v = decideInbound(ctx.in, t);
              expect(v.action).toBe('pass');
              if (v.action === 'pass') expect([v.track, v.learn, v.audit]).toEqual([undefined, undefined, undefined]);
            }
          }
          // 3. Another parser reads the forwarded characters as privguard judged them.
          expect(shape(ltx(f.xml), true)).toEqual(shape(t));
        });
      }),
      { numRuns: 6000, seed: 7 },
    );
    // The generator must exercise both paths, or the test proves nothing.
    expect(framed).toBeGreaterThan(1000);
    expect(full).toBeGreaterThan(1000);
    expect(outPasses).toBeGreaterThan(500);
    expect(inPasses).toBeGreaterThan(500);
  });
});

/** The full path only, with what the parser offers as each stanza's characters as they arrived. */
function runRaw(pieces: string[]): { el: Element; raw: string | undefined }[] {
  const out: { el: Element; raw: string | undefined }[] = [];
  const p = new StreamParser({ onHeader: () => {}, onStanza: (el, raw) => void out.push({ el, raw }), onEnd: () => {} }, LIMITS);
  for (const piece of [HEADER, ...pieces]) if (p.write(piece)) break;
  return out;
}

describe("the full path's raw characters of a stanza against its tree and against ltx", () => {
  it('reads as exactly the tree privguard judged, whoever reads it', () => {
    let raw = 0;
    let judged = 0;
    let none = 0;
    fc.assert(
      fc.property(inputArb, ([stanzas, cuts, sep]) => {
        const input = stanzas.join(sep);
        for (const { el, raw: chars } of runRaw(cutAt(input, cuts))) {
          if (chars === undefined) {
            none++;
            continue;
          }
          raw++;
          if ([...elements(el)].some((e) => e !== el && isJudgedNamespace(e.getNS() ?? ''))) judged++;
          expect(input.includes(chars)).toBe(true);
          expect(chars).not.toMatch(/&|\r|<!|<\?|<\/?[^\s/>]*:/);
          // No prefix but xml: (bound in every document), so no declaration outside the stanza matters.
          for (const e of elements(el)) expect(Object.keys(e.attrs).filter((k) => k.includes(':') && !k.startsWith('xml:'))).toEqual([]);
          // The decision reads the tree and must leave it as it was: what is forwarded is what was judged.
          for (const ctx of CONTEXTS) decideOutbound({ ...ctx.out, delegationClosed: (id) => ctx.delegPending.has(id) }, el);
          expect(serialize(reparse(chars))).toBe(serialize(el));
          expect(shape(ltx(chars))).toEqual(shape(el));
        }
      }),
      { numRuns: 6000, seed: 8 },
    );
    // Both outcomes, and judged stanzas among those offered (the point of the offer).
    expect(raw).toBeGreaterThan(1000);
    expect(judged).toBeGreaterThan(200);
    expect(none).toBeGreaterThan(500);
  });
});

// ── privileged messages through the engine, fast path on and off ─────────────

const PRIV_POLICY = (speaks: string) => `components:
  ${C}:
    secret: s
    upstream_secret: u
    speaks: ${speaks}
    privileges:
      example.test: { message: outgoing, users: ["alice", "bob*"], except_users: ["bobby"], message_to: [self, "*@example.test", component] }
      v1.test: { message: outgoing }
      none.test: { message: none }
      quiet.test: { message: outgoing }
`;
// What the server grants: message on example.test (:2), v1.test (:1 only) and none.test; quiet.test never advertises.
const PRIV_ADVERTISEMENTS = ['example.test', 'v1.test', 'none.test'].map(
  (d) => `<message from='${d}' to='${C}'><privilege xmlns='urn:xmpp:privilege:${d === 'v1.test' ? 1 : 2}'><perm access='message' type='outgoing'/></privilege></message>`,
);
const PRIV_LIMITS = { maxStanzaBytes: 900, maxDepth: 6 };

/** Mostly one of `good` (so whole well-formed messages are common), now and then one of `bad`. */
const choose = <T>(good: T[], bad: T[]): fc.Arbitrary<T> =>
  fc.oneof({ weight: 20, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });
/** An element as an [open, close] pair, so prefixed names close as they opened. */
const pair = (open: string, name: string): [string, string] => [open, `</${name}>`];

const privilegedArb = fc
  .record({
    from: choose([C, `bot@${C}`], ['example.test', 'Pubsub.example.test', `bot@${C}/r`]),
    // Outer "to": the domains' grants differ (none.test: the policy says none; quiet.test: never advertised; v1.test: :1 only).
    to: choose(['example.test', 'example.test', 'example.test', 'v1.test'], ['none.test', 'quiet.test', 'alice@example.test', 'Example.test', 'example.test/r', 'a@b@c']),
    extra: choose(['', " id='p1'", " id='p2' type='chat'"], [" type='error'", " xml:lang='en'", " id='p1' id='p2'", " to='example.test'"]),
    before: choose(['', ' ', '\n'], ['<body>x</body>', "<delegation xmlns='urn:xmpp:delegation:2'/>", "<privilege xmlns='urn:xmpp:privilege:2'/>", 'text', '&amp;']),
    privilege: choose(
      [pair("<privilege xmlns='urn:xmpp:privilege:2'>", 'privilege'), pair("<privilege xmlns='urn:xmpp:privilege:2' a='b'>", 'privilege')],
      [
        pair("<privilege xmlns='urn:xmpp:privilege:1'>", 'privilege'),
        pair("<privilege xmlns='urn:xmpp:privilege:3'>", 'privilege'),
        pair('<privilege>', 'privilege'),
        pair("<privileged_iq xmlns='urn:xmpp:privilege:2'>", 'privileged_iq'),
        pair("<p:privilege xmlns:p='urn:xmpp:privilege:2'>", 'p:privilege'),
        pair("<privilege xmlns='urn:xmpp:delegation:2'>", 'privilege'),
        pair("<privilege xmlns='urn:xmpp:privilege:2' xmlns:p='urn:example:a'>", 'privilege'),
      ],
    ),
    inPrivilege: choose(['', ' ', '\n  '], ['<x/>', "<forwarded xmlns='urn:xmpp:forward:0'/>", "<privilege xmlns='urn:xmpp:privilege:2'/>"]),
    forwarded: choose(
      [pair("<forwarded xmlns='urn:xmpp:forward:0'>", 'forwarded')],
      [
        pair('<forwarded>', 'forwarded'),
        pair("<forwarded xmlns='urn:example:a'>", 'forwarded'),
        pair("<f:forwarded xmlns:f='urn:xmpp:forward:0'>", 'f:forwarded'),
        pair("<fwd xmlns='urn:xmpp:forward:0'>", 'fwd'),
      ],
    ),
    inForwarded: choose(['', ' '], ["<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/>", '<x/>']),
    innerName: choose(['message'], ['iq', 'presence', 'Message']),
    innerNs: choose([" xmlns='jabber:client'"], ['', " xmlns='jabber:component:accept'", " xmlns='urn:example:a'", " xmlns=''", " xmlns='urn:xmpp:privilege:2'"]),
    // Inner "from": users in and out of the policy's scope, the domain itself, and what the server would read otherwise.
    innerFrom: choose(
      [" from='alice@example.test'", " from='alice@example.test'", " from='bob@example.test'", " from='bob2@example.test'", " from='example.test'", " from='bobby@example.test'", " from='eve@example.test'", " from='alice@v1.test'"],
      [" from='Alice@example.test'", " from='alice@example.test/r'", " from='alice@quiet.test'", " from='alice@other.test'", '', " from='alice@example.test '"],
    ),
    innerTo: choose(
      [" to='carol@example.test'", " to='carol@example.test'", " to='alice@example.test'", ` to='${C}'`, " to='x@elsewhere.org'", " to='room@conference.example.test/nick'"],
      [" to='Carol@example.test'", " to='a@b@c'", '', " to='carol@EXAMPLE.test'"],
    ),
    innerExtra: choose(['', " type='chat' id='i1'", " id='x'"], [" from='bob@example.test'", " xml:lang='en'", " to='carol@example.test'", " a='&amp;'", " a='x\ty'"]),
    content: fc.array(
      choose(
        ['<body>hi</body>', 'hello', ' ', "<x xmlns='urn:example:a'><y/></x>", '<body>é😀</body>', "<active xmlns='http://jabber.org/protocol/chatstates'/>"],
        ['\r\n', 'a&amp;b', '<![CDATA[c]]>', "<query xmlns='jabber:iq:roster'/>", "<privilege xmlns='urn:xmpp:privilege:2'/>", "<x xmlns=''/>", '<!-- c -->', "<delegation xmlns='urn:xmpp:delegation:2'/>", '<a><b><c><d/></c></b></a>'],
      ),
      { maxLength: 3 },
    ),
    afterInner: choose(['', ' '], ['<x/>', "<message xmlns='jabber:client' from='alice@example.test' to='carol@example.test'/>"]),
    afterForwarded: choose(['', ' '], ['<x/>', "<forwarded xmlns='urn:xmpp:forward:0'/>"]),
    after: choose(['', ' '], ['<body>x</body>', "<privilege xmlns='urn:xmpp:privilege:2'/>", "<delegation xmlns='urn:xmpp:delegation:2'/>"]),
  })
  .map((r) => {
    const inner = `<${r.innerName}${r.innerNs}${r.innerFrom}${r.innerTo}${r.innerExtra}>${r.content.join('')}</${r.innerName}>`;
    const fwd = `${r.forwarded[0]}${r.inForwarded}${inner}${r.afterInner}${r.forwarded[1]}`;
    const priv = `${r.privilege[0]}${r.inPrivilege}${fwd}${r.afterForwarded}${r.privilege[1]}`;
    return `<message from='${r.from}' to='${r.to}'${r.extra}>${r.before}${priv}${r.after}</message>`;
  });

const privMutated = fc
  .tuple(privilegedArb, fc.array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete'), fc.constantFrom(...HOSTILE)), { minLength: 1, maxLength: 2 }))
  .map(([s, muts]) => applyEdits(s, muts));

const privInputArb = fc.tuple(
  fc.array(fc.oneof({ weight: 6, arbitrary: privilegedArb }, { weight: 1, arbitrary: privMutated }, { weight: 1, arbitrary: stanzaOf(PLAIN) }), { minLength: 1, maxLength: 5 }),
  fc.array(fc.nat(), { maxLength: 2 }),
  fc.constantFrom('', ' ', '\n'),
  // Speaking as the server (auto) is the fast path's case; a fixed version may mean translating: always the full path.
  fc.constantFrom(...Array<string>(4).fill('{ privilege: auto, delegation: auto }'), '{ privilege: 2, delegation: auto }', '{ privilege: 1, delegation: auto }'),
  fc.constantFrom<'enforce' | 'report'>('enforce', 'enforce', 'report'),
  fc.boolean(),
);

const COMPILED = new Map<string, ReturnType<typeof compilePolicy>>();
function compiledFor(speaks: string) {
  let c = COMPILED.get(speaks);
  if (!c) COMPILED.set(speaks, (c = compilePolicy(loadPolicyText(PRIV_POLICY(speaks), 'p.yaml', {}))));
  return c.components.get(C)!;
}

interface PrivCounts {
  fastPass: number;
  fastBack: number;
  denied: number;
}

/**
 * What went to the server, as compared: a privileged message to the very
 * character; anything else as its tree (the plain fast path forwards a
 * stanza's characters where the full path may re-serialise them, e.g. with a
 * CR in its text: the same stanza, which the first property above checks).
 */
function sent(xml: string): string {
  const out: Element[] = [];
  const p = new StreamParser({ onHeader: () => {}, onStanza: (el) => void out.push(el), onEnd: () => {} }, PRIV_LIMITS);
  expect(p.write(HEADER + xml)).toBeUndefined();
  expect(out).toHaveLength(1);
  const el = out[0]!;
  return el.children.some((c) => typeof c !== 'string' && privilegeVersion(c.getNS()) !== undefined) ? xml : serialize(el);
}

/**
 * Everything a Link does with `pieces` from the component, fed by the parser with the fast path on
 * (`fast`) or off, after the server's advertisements: every effect, in order, and any parse failure.
 * With `plain`, pieces of plain ASCII are written as such (the fast path then scans with indexOf).
 */
function throughLink(pieces: string[], speaks: string, mode: 'enforce' | 'report', fast: boolean, plain = false, counts?: PrivCounts): unknown[] {
  const out: unknown[] = [];
  const link = new Link({
    name: C,
    compiled: compiledFor(speaks),
    mode,
    pendingTimeoutMs: 1000,
    maxPending: 10,
    now: () => 0,
    effects: {
      toComponent: (xml, kind) => void out.push(['component', xml, kind]),
      toServer: (xml, kind) => void out.push(['server', sent(xml), kind]),
      closeStreams: (condition, text) => void out.push(['close', condition, text]),
      decision: (e) => void out.push(['decision', e]),
      log: (level, _fields, message) => void out.push(['log', level, message]),
    },
  });
  for (const adv of PRIV_ADVERTISEMENTS) link.fromServer(stanza(adv));
  out.length = 0; // the advertisements' own effects are the same on both sides and not under test
  const handlers: ParserHandlers = { onHeader: () => {}, onStanza: (el, raw) => link.fromComponent(el, raw), onEnd: () => {} };
  if (fast) {
    handlers.isJudged = isJudgedNamespace;
    handlers.onFramed = (f) => {
      const taken = link.framedFromComponent(f);
      if (counts && f.privileged !== undefined) {
        if (taken) counts.fastPass++;
        else counts.fastBack++;
      }
      return taken;
    };
  }
  const p = new StreamParser(handlers, PRIV_LIMITS);
  for (const piece of [HEADER, ...pieces]) {
    const failure = p.write(piece, plain && PLAIN_CHARS.test(piece));
    if (failure) out.push(['failure', failure.condition, failure.text]);
  }
  if (counts) for (const e of out) if (Array.isArray(e) && e[0] === 'decision' && (e[1] as { verdict: string }).verdict !== 'allowed') counts.denied++;
  return out;
}

describe('privileged messages: the fast path against the full engine', () => {
  it('does exactly what the full engine does: bytes to the server, replies, decision events, closes', () => {
    const counts: PrivCounts = { fastPass: 0, fastBack: 0, denied: 0 };
    fc.assert(
      fc.property(privInputArb, ([stanzas, cuts, sep, speaks, mode, plain]) => {
        const pieces = cutAt(stanzas.join(sep), cuts);
        expect(throughLink(pieces, speaks, mode, true, plain, counts)).toEqual(throughLink(pieces, speaks, mode, false));
      }),
      { numRuns: 5000, seed: 9 },
    );
    // Both outcomes of the fast path, and refusals among them, or the comparison proves little.
    expect(counts.fastPass).toBeGreaterThan(500);
    expect(counts.fastBack).toBeGreaterThan(1000);
    expect(counts.denied).toBeGreaterThan(1000);
  });
});
