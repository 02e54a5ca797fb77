/**
 * The hostile component's privileged messages of test/support/privileged-attacks.ts,
 * several in a row, with hostile pieces inserted or characters deleted
 * anywhere, cut into up to seven reads, each read said to be plain ASCII or
 * not (where it is), and reads suspended after every stanza as the rate limit
 * does: a Link fed with the fast path on must do what one fed with it off does
 * (test/unit/engine/fast-path-attacks.test.ts does the same for each attack
 * alone, cut once at every offset). Bytes to the server compare exactly for a
 * privileged message; any other stanza compares as its tree (the plain fast
 * path forwards a CR that the full path normalises: the same stanza to every
 * reader).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isJudgedNamespace } from '../../src/policy/framed.js';
import { privilegeVersion } from '../../src/protocol/ns.js';
import { StreamParser, type ParserHandlers } from '../../src/protocol/parser.js';
import { serialize } from '../../src/protocol/serialize.js';
import { parseStanza, STREAM_HEADER } from '../support/stanzas.js';
import { ATTACK_LIMITS, attackLink, PRIVILEGED_ATTACKS } from '../support/privileged-attacks.js';
import { applyEdits, cutAt } from '../support/pieces.js';

const PLAIN_CHARS = /^[\x20-\x25\x27-\x5c\x5e-\x7f]*$/;
const ASCII = /^[\x00-\x7f]*$/;
const PIECES = [
  '<', '>', '&', '/', '"', "'", ':', '=', ' ', '\r', '\t', '\n', '</a>', '<a>', ']]>', '\u0000', '\u0085', 'é', '😀', 'bob', 'alice',
  "xmlns='jabber:client'", "xmlns='urn:xmpp:privilege:2'", "xmlns='http://www.w3.org/XML/1998/namespace'", "from='bob@example.test' ",
  "<message xmlns='jabber:client' from='bob@example.test' to='carol@example.test'/>",
];

function sent(xml: string): string {
  const el = parseStanza(xml);
  return el.children.some((c) => typeof c !== 'string' && privilegeVersion(c.getNS()) !== undefined) ? xml : serialize(el);
}

function throughLink(pieces: string[], fast: boolean, plain: boolean[], suspend: boolean): unknown[] {
  const out: unknown[] = [];
  const link = attackLink({
    toComponent: (xml) => void out.push(['component', xml]),
    toServer: (xml) => void out.push(['server', sent(xml)]),
    closeStreams: (condition, text) => void out.push(['close', condition, text]),
    decision: (e) => void out.push(['decision', e]),
    log: (level, _fields, message) => void out.push(['log', level, message]),
  });
  out.length = 0;
  let suspended = false;
  const pause = () => {
    if (suspend) {
      p.suspend();
      suspended = true;
    }
  };
  const handlers: ParserHandlers = {
    onHeader: () => {},
    onStanza: (el, raw) => {
      link.fromComponent(el, raw);
      pause();
    },
    onEnd: () => {},
  };
  if (fast) {
    handlers.isJudged = isJudgedNamespace;
    handlers.onFramed = (f) => {
      const taken = link.framedFromComponent(f);
      if (taken) pause();
      return taken;
    };
  }
  const p = new StreamParser(handlers, ATTACK_LIMITS);
  p.write(STREAM_HEADER, true);
  pieces.forEach((piece, i) => {
    // A read said to be plain comes with its bytes when it is ASCII, as the stream gives it (joined to the rest of the last one).
    const bytes = plain[i % plain.length]! && ASCII.test(piece) ? Buffer.from(piece, 'latin1') : undefined;
    let failure = p.write(piece, plain[i % plain.length]! && PLAIN_CHARS.test(piece), bytes);
    if (failure) out.push(['failure', failure.condition, failure.text]);
    while (suspended) {
      suspended = false;
      failure = p.resume();
      if (failure) out.push(['failure', failure.condition, failure.text]);
    }
  });
  return out;
}

const inputArb = fc.record({
  stanzas: fc.array(fc.constantFrom(...PRIVILEGED_ATTACKS.map(([, xml]) => xml)), { minLength: 1, maxLength: 4 }),
  sep: fc.constantFrom('', ' ', '\n'),
  edits: fc.array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete'), fc.constantFrom(...PIECES)), { maxLength: 3 }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  plain: fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
  suspend: fc.boolean(),
});

describe('attacks on the privileged-message fast path, mutated, cut and suspended at random', () => {
  it('a Link with the fast path does what one without it does', () => {
    fc.assert(
      fc.property(inputArb, ({ stanzas, sep, edits, cuts, plain, suspend }) => {
        const pieces = cutAt(applyEdits(stanzas.join(sep), edits), cuts);
        expect(throughLink(pieces, true, plain, suspend)).toEqual(throughLink(pieces, false, plain, suspend));
      }),
      { numRuns: 4000, seed: 17 },
    );
  });
});
