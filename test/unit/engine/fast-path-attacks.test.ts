/**
 * A hostile component's privileged messages (test/support/privileged-attacks.ts)
 * through two engine Links, one fed by the parser with the fast path on
 * (protocol/frame.ts, privileged-shape.ts, policy/framed.ts) and one with it
 * off: each stanza cut into two reads at every offset, the reads said to be
 * plain ASCII where they are (the fast path then scans with indexOf) or not,
 * in enforce and report mode, before and after a reload. The two links must
 * do exactly the same: the same characters to the server, replies, decision
 * events (verdict, reason, audit fields), closes and parse failures.
 */
import { describe, expect, it } from 'vitest';
import { isJudgedNamespace } from '../../../src/policy/framed.js';
import { StreamParser, type ParserHandlers } from '../../../src/protocol/parser.js';
import { STREAM_HEADER } from '../../support/stanzas.js';
import { ATTACK_LIMITS, ATTACK_POLICY, attackCompiled, attackLink, PRIVILEGED_ATTACKS } from '../../support/privileged-attacks.js';

const ALICE_ONLY = attackCompiled();
// After the reload, bob is in scope too and alice is not.
const BOB_ONLY = attackCompiled(ATTACK_POLICY.replace('users: ["alice"]', 'users: ["bob"]'));

/** What protocol/utf8.ts's isPlainAscii says of such characters' bytes: ASCII from U+0020 on, but '&' and ']'. */
const PLAIN_CHARS = /^[\x20-\x25\x27-\x5c\x5e-\x7f]*$/;

interface Run {
  effects: unknown[];
  /** Privileged messages the fast path took. */
  fast: number;
}

function throughLink(pieces: string[], fast: boolean, plain: boolean, mode: 'enforce' | 'report', reload: boolean): Run {
  const effects: unknown[] = [];
  const link = attackLink(
    {
      toComponent: (xml, kind) => void effects.push(['component', xml, kind]),
      toServer: (xml, kind) => void effects.push(['server', xml, kind]),
      closeStreams: (condition, text) => void effects.push(['close', condition, text]),
      decision: (e) => void effects.push(['decision', e]),
      log: (level, _fields, message) => void effects.push(['log', level, message]),
    },
    ALICE_ONLY,
    mode,
  );
  if (reload) link.reload(BOB_ONLY, mode);
  effects.length = 0; // the advertisement's and the reload's effects are the same on both sides and not under test
  let taken = 0;
  const handlers: ParserHandlers = { onHeader: () => {}, onStanza: (el, raw) => link.fromComponent(el, raw), onEnd: () => {} };
  if (fast) {
    handlers.isJudged = isJudgedNamespace;
    handlers.onFramed = (f) => {
      const t = link.framedFromComponent(f);
      if (t && f.privileged !== undefined) taken++;
      return t;
    };
  }
  const p = new StreamParser(handlers, ATTACK_LIMITS);
  for (const piece of [STREAM_HEADER, ...pieces]) {
    const failure = p.write(piece, plain && PLAIN_CHARS.test(piece));
    if (failure) effects.push(['failure', failure.condition, failure.text]);
  }
  return { effects, fast: taken };
}

describe("attacks on the privileged-message fast path: a component with message=outgoing for alice only", () => {
  it.each(PRIVILEGED_ATTACKS.map(([what, xml]) => [what, xml] as const))('attack: %s — the same with the fast path on and off, cut anywhere', (_what, xml) => {
    for (const mode of ['enforce', 'report'] as const) {
      for (const reload of [false, true]) {
        // Every cut for the common case; a coarser set for the other modes (the cut does not depend on them).
        const step = mode === 'enforce' && !reload ? 1 : 7;
        for (let cut = 0; cut <= xml.length; cut += step) {
          const pieces = cut === 0 ? [xml] : [xml.slice(0, cut), xml.slice(cut)];
          const full = throughLink(pieces, false, false, mode, reload).effects;
          for (const plain of [false, true]) {
            const fast = throughLink(pieces, true, plain, mode, reload).effects;
            expect(fast, `mode ${mode}, reload ${reload}, cut at ${cut}, plain ${plain}`).toEqual(full);
          }
        }
      }
    }
  });

  it('takes the fast path for the allowed control cases (or the comparison above would prove nothing)', () => {
    const [, alice] = PRIVILEGED_ATTACKS.find(([what]) => what.startsWith('as alice'))!;
    const [, bob] = PRIVILEGED_ATTACKS.find(([what]) => what === 'as bob, plainly')!;
    for (const plain of [false, true]) {
      expect(throughLink([alice], true, plain, 'enforce', false).fast).toBe(1);
      // A refusal always goes to the full path (its reply needs the tree); after the reload bob passes there.
      expect(throughLink([bob], true, plain, 'enforce', false).fast).toBe(0);
      expect(throughLink([bob], true, plain, 'enforce', true).fast).toBe(1);
    }
    // Of all the attacks, a fair share passes on the fast path.
    const taken = PRIVILEGED_ATTACKS.filter(([, xml]) => throughLink([xml], true, false, 'enforce', false).fast > 0).length;
    expect(taken).toBeGreaterThan(15);
  });
});
