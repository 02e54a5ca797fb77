/**
 * What the privileged-message fast path forwards, read by the servers' own
 * readers: libexpat as Prosody runs it, Prosody's util.xmppstream and
 * ejabberd's fast_xml must each read the characters privguard sent on as
 * exactly one stanza, the very tree privguard's full parser builds of the
 * component's input (what the full engine would have judged). The inputs are
 * a hostile component's (test/support/privileged-attacks.ts), sent in one
 * read and in two cut anywhere, said to be plain ASCII where they are; the
 * engine test (test/unit/engine/fast-path-attacks.test.ts) checks that the
 * decisions are the full engine's. Together: the server acts on what
 * privguard judged, whichever path judged it.
 */
import { describe, expect, it } from 'vitest';
import { isJudgedNamespace } from '../../src/policy/framed.js';
import { StreamParser } from '../../src/protocol/parser.js';
import { STREAM_HEADER } from '../support/stanzas.js';
import { ATTACK_LIMITS, attackLink, PRIVILEGED_ATTACKS } from '../support/privileged-attacks.js';
import { canonical } from './canonical.js';
import { PROSODY, useReaders } from './readers.js';

const readers = useReaders();

const PLAIN_CHARS = /^[\x20-\x25\x27-\x5c\x5e-\x7f]*$/;

/** The characters the fast path sent to the server for `pieces` (the full path's sendings are raw-tree.test.ts's business). */
function fastSent(pieces: string[], plain: boolean): string[] {
  const sent: string[] = [];
  let framed: string | undefined;
  const link = attackLink({
    toComponent: () => {},
    toServer: (xml) => {
      if (xml === framed) sent.push(xml);
    },
    closeStreams: () => {},
    decision: () => {},
    log: () => {},
  });
  const p = new StreamParser(
    {
      onHeader: () => {},
      onStanza: (el, raw) => link.fromComponent(el, raw),
      onEnd: () => {},
      isJudged: isJudgedNamespace,
      onFramed: (f) => {
        framed = f.xml;
        const taken = link.framedFromComponent(f);
        framed = undefined;
        return taken;
      },
    },
    ATTACK_LIMITS,
  );
  for (const piece of [STREAM_HEADER, ...pieces]) if (p.write(piece, plain && PLAIN_CHARS.test(piece))) break;
  return sent;
}

/** The trees privguard's full parser builds of `xml`, in canonical form (up to a failure). */
function judged(xml: string): string[] {
  const out: string[] = [];
  const p = new StreamParser({ onHeader: () => {}, onStanza: (el) => void out.push(canonical(el)), onEnd: () => {} }, ATTACK_LIMITS);
  p.write(STREAM_HEADER + xml);
  return out;
}

describe("differential: the servers' readers read what the privileged-message fast path forwards as privguard judged it", () => {
  it("every attack the fast path forwards, in one read or two, read by libexpat, Prosody's util.xmppstream and fast_xml", async () => {
    const fxml = readers.fxml;
    const reads = [
      (b: Buffer) => readers.expat.tree(b),
      ...(PROSODY ? [(b: Buffer) => readers.expat.tree(b, 'prosody')] : []),
      ...(fxml ? [(b: Buffer) => fxml.tree(b)] : []),
    ];
    const diffs: string[] = [];
    let forwarded = 0;
    for (const [what, xml] of PRIVILEGED_ATTACKS) {
      const trees = judged(xml);
      const sent = new Set<string>();
      for (let cut = 0; cut <= xml.length; cut += 5) {
        for (const plain of [false, true]) for (const s of fastSent(cut === 0 ? [xml] : [xml.slice(0, cut), xml.slice(cut)], plain)) sent.add(s);
      }
      for (const s of sent) {
        forwarded++;
        for (const read of reads) {
          const t = await read(Buffer.from(s, 'utf8'));
          if (!Array.isArray(t) || t.length !== 1 || !trees.includes(t[0]!)) diffs.push(`${what}: ${JSON.stringify(s)}\n  privguard judged ${trees.join(' ; ') || '(nothing: it refuses the input)'}\n  the reader reads ${JSON.stringify(t)}`);
        }
      }
    }
    expect(diffs.slice(0, 5)).toEqual([]);
    // The comparison must have had something to compare.
    expect(forwarded).toBeGreaterThan(15);
  }, 120_000);

  it('the readers see a difference of one attribute value (the comparison can fail)', async () => {
    const [, alice] = PRIVILEGED_ATTACKS[0]!;
    const [tree] = judged(alice);
    const bob = Buffer.from(alice.replace('alice@', 'bob@'));
    expect(await readers.expat.tree(Buffer.from(alice))).toEqual([tree]);
    expect(await readers.expat.tree(bob)).not.toEqual([tree]);
    if (PROSODY) expect(await readers.expat.tree(bob, 'prosody')).not.toEqual([tree]);
    if (readers.fxml) {
      expect(await readers.fxml.tree(Buffer.from(alice))).toEqual([tree]);
      expect(await readers.fxml.tree(bob)).not.toEqual([tree]);
    }
  });
});
