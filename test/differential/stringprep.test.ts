/**
 * privguard's JID preparation against Prosody's own: util.encodings (ICU
 * usprep) and util.jid, run with the Lua interpreter Prosody uses
 * (prosody-prep.lua). Prosody 0.12 on this host (ICU 72); Prosody 13 in the
 * Debian 13 root when it is there (ICU 76).
 *
 * The property, for every input: when privguard accepts, Prosody accepts too
 * and prepares to the same string. (When privguard refuses, nothing is
 * forwarded, whatever Prosody would do.) At the JID level also: privguard
 * calls a JID canonical only if Prosody prepares it to itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJid } from '../../src/protocol/jid.js';
import { stringprep, type Profile } from '../../src/protocol/stringprep.js';

type Kind = Profile | 'jid';

const SCRIPT = readFileSync(fileURLToPath(new URL('./prosody-prep.lua', import.meta.url)), 'utf8');
const DEBIAN13 = '/var/cache/privguard/debian13';

interface Prosody {
  name: string;
  available: boolean;
  run(lines: string): string;
}

function lua(cmd: string, args: string[], env: Record<string, string>): (input: string) => string {
  return (input) => {
    const r = spawnSync(cmd, args, { input, env: { ...process.env, ...env }, maxBuffer: 1 << 30, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || String(r.error)}`);
    return r.stdout;
  };
}

// `-e` takes the script as an argument: it must not start with "-".
const PROSODIES: Prosody[] = [
  {
    name: 'Prosody 0.12 (Debian 12, ICU 72)',
    available: existsSync('/usr/lib/prosody/util/encodings.so') && existsSync('/usr/bin/lua5.4'),
    run: lua('lua5.4', ['-e', `;${SCRIPT}`], { LUA_CPATH: '/usr/lib/prosody/?.so', LUA_PATH: '/usr/lib/prosody/?.lua', PRIVGUARD_PROSODY_PREFIX: '' }),
  },
  {
    name: 'Prosody 13 (Debian 13 root, ICU 76)',
    available: existsSync(`${DEBIAN13}/usr/lib/prosody/util/encodings.so`) && existsSync(`${DEBIAN13}/usr/bin/lua5.4`) && process.getuid?.() === 0,
    run: lua('chroot', [DEBIAN13, 'env', 'LUA_CPATH=/usr/lib/?.so', 'LUA_PATH=/usr/lib/?.lua', 'PRIVGUARD_PROSODY_PREFIX=prosody.', 'lua5.4', '-e', `;${SCRIPT}`], {}),
  },
];

/** Prosody's answers for many inputs at once, in one process: the prepared string or null (refused). */
function prosodyPrep(p: Prosody, items: readonly { kind: Kind; input: string }[]): (string | null)[] {
  const lines = items.map(({ kind, input }) => `${kind} ${Buffer.from(input, 'utf8').toString('hex')}\n`).join('');
  const out = p.run(lines).split('\n');
  return items.map((_, i) => {
    const line = out[i];
    if (line === undefined) throw new Error(`Prosody gave ${out.length} answers for ${items.length} inputs`);
    return line === '-' ? null : Buffer.from(line, 'hex').toString('utf8');
  });
}

const show = (s: string): string => JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** What privguard says for one input: the prepared form or null. At the JID level: the full prepared JID. */
function ours(kind: Kind, input: string): { value: string | null; canonical?: boolean } {
  if (kind === 'jid') {
    const r = parseJid(input);
    if (!r.ok) return { value: null };
    const j = r.jid;
    return { value: j.resource ? `${j.bare}/${j.resource}` : j.bare, canonical: r.canonical };
  }
  const r = stringprep(kind, input);
  return { value: r.ok ? r.value : null };
}

/**
 * Checks the property over `items`; returns how many privguard accepted.
 * Mismatches are listed (the first 25) so a failure says what differs.
 */
function compare(p: Prosody, items: readonly { kind: Kind; input: string }[]): number {
  const accepted: { kind: Kind; input: string; mine: ReturnType<typeof ours> }[] = [];
  for (const { kind, input } of items) {
    const mine = ours(kind, input);
    if (mine.value !== null) accepted.push({ kind, input, mine });
  }
  const theirs = prosodyPrep(p, accepted);
  const bad: string[] = [];
  accepted.forEach(({ kind, input, mine }, i) => {
    const their = theirs[i] ?? null;
    if (their !== mine.value) bad.push(`${kind} ${show(input)}: privguard ${show(mine.value!)}, Prosody ${their === null ? 'refuses' : show(their)}`);
    // Canonical means the server leaves the text as it is.
    if (mine.canonical && their !== input) bad.push(`${kind} ${show(input)} called canonical, Prosody prepares it to ${their === null ? 'nothing' : show(their)}`);
  });
  expect(bad.slice(0, 25), `${bad.length} differences`).toEqual([]);
  return accepted.length;
}

// Alphabets the generated strings draw from (issue 11: ASCII, B.1, case pairs, ligatures, fullwidth, combining, RTL, unassigned).
const PIECES = {
  ascii: [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!*+=? @/&\'":<>\\'],
  b1: ['\u00ad', '\u034f', '\u1806', '\u180b', '\u180c', '\u180d', '\u200b', '\u200c', '\u200d', '\u2060', '\ufe00', '\ufe0f', '\ufeff'],
  casePairs: ['ß', 'ẞ', 'ς', 'Σ', 'σ', 'İ', 'ı', 'K', 'Å', 'ſ', 'ǅ', 'Ω', 'µ', 'ﬀ', 'ŉ', 'ΐ', 'Ꙁ', 'Ⴀ', 'ⴀ', '𐐀', '𐐨', 'Ⅻ', 'ⓐ', 'Ⓐ'],
  ligatures: ['ﬁ', 'ﬂ', 'ﬃ', 'ĳ', 'Ĳ', 'ǆ', '㎏', '℡', '™', '½', '²', '₂', 'ℌ', 'ℍ', '…', '‥'],
  fullwidth: ['ａ', 'Ｂ', '０', '＠', '／', '．', '｡', '＆', 'ｶ', 'ﾞ', '　'],
  combining: ['\u0300', '\u0301', '\u0308', '\u0327', '\u0345', '\u0344', '\u20dd', '\u3099', 'e\u0301', 'A\u030a', '\u1100\u1161', '가'],
  rtl: ['\u05d0', '\u05d1', '\u0627', '\u0628', '\u0660', '\u0661', '\u06f1', '\u200f', '\u200e', '\u202e', '\ufb1d', '\ufe70', '\u0710'],
  other: ['\u0000', '\t', '\n', '\u007f', '\u0085', '\u00a0', '\u2000', '\u2028', '\ue000', '\ufffd', '\ufffe', '\u{1d400}', '\u{1f600}', '\u2ff0', '\u2800', '\u3000', '\u0221', '\u0860', '\u{e0001}', '\u{20000}'],
};
const ALL_PIECES = Object.values(PIECES).flat();

const pieceString = fc.array(fc.constantFrom(...ALL_PIECES), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
const mostlyAscii = fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PIECES.ascii) }, { weight: 1, arbitrary: fc.constantFrom(...ALL_PIECES) }), { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
const anyUnicode = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 });

function generated(n: number, seed: number): string[] {
  return fc.sample(fc.oneof(pieceString, mostlyAscii, anyUnicode), { numRuns: n, seed });
}

const ENV_OK = PROSODIES.some((p) => p.available);

describe.runIf(ENV_OK)('stringprep against Prosody', () => {
  for (const p of PROSODIES) {
    describe.runIf(p.available)(p.name, () => {
      it('every code point, alone and between LTR and RTL neighbours, in each profile', () => {
        const items: { kind: Kind; input: string }[] = [];
        for (let cp = 0; cp <= 0x10ffff; cp++) {
          if (cp >= 0xd800 && cp <= 0xdfff) continue; // not encodable in UTF-8
          const c = String.fromCodePoint(cp);
          for (const kind of ['nodeprep', 'nameprep', 'resourceprep'] as const) {
            items.push({ kind, input: c }, { kind, input: `a${c}` }, { kind, input: `\u05d0${c}\u05d0` });
          }
        }
        const accepted = compare(p, items);
        // Most assigned code points are accepted somewhere: a refusing stub would not pass.
        expect(accepted).toBeGreaterThan(500_000);
      }, 300_000);

      it('generated strings: ASCII, B.1, case pairs, ligatures, fullwidth, combining marks, RTL, unassigned', () => {
        const items: { kind: Kind; input: string }[] = [];
        for (const s of generated(6000, 11)) for (const kind of ['nodeprep', 'nameprep', 'resourceprep'] as const) items.push({ kind, input: s });
        expect(compare(p, items)).toBeGreaterThan(3000);
      }, 120_000);

      it('whole JIDs: the same prepared JID, and canonical only when Prosody leaves it as it is', () => {
        const locals = generated(1500, 12);
        const domains = [...generated(300, 13).map((s) => `${s}.example`), 'example.org', 'Example.ORG', 'example.org.', 'ｅｘａｍｐｌｅ.org', 'exam\u00adple.org', 'xn--bcher-kva.example', 'bücher.example'];
        const resources = generated(300, 14);
        const items: { kind: Kind; input: string }[] = [];
        locals.forEach((l, i) => {
          const d = domains[i % domains.length]!;
          const r = resources[i % resources.length]!;
          items.push({ kind: 'jid', input: `${l}@${d}` }, { kind: 'jid', input: `${l}@${d}/${r}` }, { kind: 'jid', input: d });
        });
        for (const alias of ['b\u00adob', 'bo\u200bb', '\ufeffbob', 'Bob', 'BOB', 'boß', 'ｂｏｂ', 'b\u034fob', 'bo\u2060b', 'b\ufe0fob']) items.push({ kind: 'jid', input: `${alias}@example.org` });
        expect(compare(p, items)).toBeGreaterThan(500);
      }, 120_000);
    });
  }
});

describe.skipIf(ENV_OK)('stringprep against Prosody: Prosody is missing', () => {
  // .ci/run installs Prosody (scripts/ensure-servers.sh): there a missing module fails, it is not skipped.
  (process.env.CI ? it : it.skip)('needs Prosody (util/encodings.so) and lua5.4: sh scripts/ensure-prosody.sh', () => {
    throw new Error('Prosody util/encodings.so or lua5.4 missing: the differential test cannot run');
  });
});
