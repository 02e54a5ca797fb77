/**
 * The stream parser never throws out of write(), whatever it is fed: a
 * failure is a value (2,000 random inputs of binary strings split into reads;
 * moved here from the unit project, whose files run in a few seconds).
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { StreamParser } from '../../src/protocol/parser.js';

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='pubsub.example.org'>";

describe('StreamParser', () => {
  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const p = new StreamParser({ onHeader: () => {}, onStanza: () => {}, onEnd: () => {}, onWhitespace: () => {} }, { maxStanzaBytes: 4096, maxDepth: 64 });
        for (const c of [HEADER, ...chunks]) p.write(c);
      }),
      { numRuns: 2000 },
    );
  });
});
