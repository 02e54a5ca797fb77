/**
 * A hostile component cuts its stanzas into reads where a token the parser
 * must refuse (or normalise) straddles two of them: the parser must do with
 * every split exactly what it does with the whole input, as libexpat does
 * (its verdict never depends on how the bytes arrived). A stanza refused in
 * one read but taken in two is one the server would refuse in any case.
 */
import { describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { StreamParser } from '../../../src/protocol/parser.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { STREAM_HEADER } from '../../support/stanzas.js';

function parse(pieces: string[]): string[] {
  const out: string[] = [];
  const p = new StreamParser({ onHeader: () => {}, onStanza: (el: Element) => void out.push(serialize(el)), onEnd: () => {} }, { maxStanzaBytes: 4096, maxDepth: 8 });
  for (const piece of [STREAM_HEADER, ...pieces]) {
    const failure = p.write(piece);
    if (failure) {
      out.push(`${failure.condition}: ${failure.text}`);
      break;
    }
  }
  return out;
}

const S = (text: string) => `<message from='c.example' to='u@example.test'><body>${text}</body></message>`;

describe('attack: a token split across reads', () => {
  it.each([
    [']]> in character data (refused)', S('a]]>b')],
    [']]]> in character data (refused)', S('a]]]>b')],
    [']] > in character data (taken)', S('a]] >b]')],
    ['] ]> in character data (taken)', S('a] ]>b]]')],
    ['an entity reference (decoded)', S('a&amp;b&#x1F600;c')],
    ['CR LF in character data (one line feed)', S('a\r\nb\rc')],
    [']]> right after CR (refused)', S('a\r]]>b')],
  ])('%s: the same at every cut as in one read', (_what, xml) => {
    const whole = parse([xml]);
    for (let cut = 1; cut < xml.length; cut++) {
      expect(parse([xml.slice(0, cut), xml.slice(cut)]), `cut at ${cut}: ${JSON.stringify(xml.slice(cut - 3, cut))}|${JSON.stringify(xml.slice(cut, cut + 3))}`).toEqual(whole);
      for (let second = cut + 1; second < xml.length; second++) {
        expect(parse([xml.slice(0, cut), xml.slice(cut, second), xml.slice(second)])).toEqual(whole);
      }
    }
  });

  it("refuses ']]>' in character data whatever the reads", () => {
    expect(parse([S('a]]>b')])).toEqual(["not-well-formed: ']]>' in character data"]);
    const head = S('a').replace('a</body></message>', 'a');
    expect(parse([`${head}]`, ']>b</body></message>'])).toEqual(["not-well-formed: ']]>' in character data"]);
    expect(parse([`${head}]]`, '>b</body></message>'])).toEqual(["not-well-formed: ']]>' in character data"]);
    expect(parse([`${head}]`, ']', '>b</body></message>'])).toEqual(["not-well-formed: ']]>' in character data"]);
  });
});
