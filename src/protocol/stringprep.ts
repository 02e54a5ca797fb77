/**
 * Stringprep (RFC 3454) with the XMPP profiles the servers prepare JIDs with:
 * nodeprep for localparts, nameprep for domains (RFC 3491), resourceprep for
 * resources (RFC 3920 appendices A and B). Prosody 0.12 and 13 run these
 * through ICU's usprep; privguard must reach the same prepared form, or refuse.
 *
 * Steps (RFC 3454 §3–6): refuse unassigned code points (A.1; Prosody accepts
 * them, privguard refuses: their bidi class and normalisation are not in the
 * tables); map (B.1 deleted; B.2 case folding, not for resources); NFKC;
 * refuse prohibited output (C tables per profile); the bidi rules (§6).
 * On top of the RFC, privguard refuses code points whose normalisation or bidi
 * class changed after Unicode 3.2 or differs between ICU versions (UNSTABLE in
 * the generated tables): the two Prosody versions could disagree on them.
 *
 * NFKC is JavaScript's (current Unicode). For strings of code points assigned
 * in Unicode 3.2 and not in UNSTABLE it gives the Unicode 3.2 result
 * (normalisation stability); test/differential/stringprep.test.ts checks the
 * whole module against Prosody's util.encodings.
 */
import {
  ASCII_CONTROL_C21,
  ASCII_SPACE_C11,
  CASE_FOLD_B2,
  DELETED_B1,
  L_D2,
  PROHIBITED_COMMON,
  RANDAL_D1,
  UNASSIGNED_A1,
  UNSTABLE,
} from './stringprep-tables.js';

export type Profile = 'nodeprep' | 'nameprep' | 'resourceprep';

export type PrepResult = { ok: true; value: string } | { ok: false; problem: string };

/** Membership in a flattened list of inclusive ranges, by binary search. */
function inRanges(table: readonly number[], cp: number): boolean {
  let lo = 0;
  let hi = table.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < table[2 * mid]!) hi = mid - 1;
    else if (cp > table[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

let caseFold: Map<number, string> | undefined;

function b2(cp: number): string | undefined {
  if (caseFold === undefined) {
    caseFold = new Map();
    for (const entry of CASE_FOLD_B2.split(';')) {
      const [cpHex, mapped] = entry.split(':') as [string, string];
      caseFold.set(parseInt(cpHex, 16), String.fromCodePoint(...mapped.split(' ').map((h) => parseInt(h, 16))));
    }
  }
  return caseFold.get(cp);
}

/** RFC 3920 A.5: nodeprep's own prohibited ASCII characters. */
const NODE_PROHIBITED_ASCII = new Set(['"', '&', "'", '/', ':', '<', '>', '@'].map((c) => c.codePointAt(0)!));

function prohibited(profile: Profile, cp: number): boolean {
  if (inRanges(PROHIBITED_COMMON, cp)) return true;
  if (profile === 'nodeprep') return inRanges(ASCII_SPACE_C11, cp) || inRanges(ASCII_CONTROL_C21, cp) || NODE_PROHIBITED_ASCII.has(cp);
  if (profile === 'resourceprep') return inRanges(ASCII_CONTROL_C21, cp);
  return false;
}

const hex = (cp: number): string => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

/** Printable ASCII: nothing to delete, normalise or check for bidi. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export function stringprep(profile: Profile, input: string): PrepResult {
  if (PRINTABLE_ASCII.test(input)) {
    const value = profile === 'resourceprep' ? input : input.toLowerCase();
    for (let i = 0; i < value.length; i++) {
      const cp = value.charCodeAt(i);
      if (prohibited(profile, cp)) return { ok: false, problem: `prohibited character ${hex(cp)}` };
    }
    return { ok: true, value };
  }
  // 1. Unassigned, unstable; map.
  let mapped = '';
  for (const ch of input) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) return { ok: false, problem: `lone surrogate ${hex(cp)}` };
    if (inRanges(UNASSIGNED_A1, cp)) return { ok: false, problem: `unassigned code point ${hex(cp)}` };
    if (inRanges(UNSTABLE, cp)) return { ok: false, problem: `code point ${hex(cp)} is prepared differently across Unicode versions` };
    if (inRanges(DELETED_B1, cp)) continue;
    mapped += (profile !== 'resourceprep' ? b2(cp) : undefined) ?? ch;
  }
  // 2. Normalise.
  const output = mapped.normalize('NFKC');
  // 3. Prohibited output, 4. bidi (RFC 3454 §6).
  let hasRandAL = false;
  let hasL = false;
  let first = -1;
  let last = -1;
  for (const ch of output) {
    const cp = ch.codePointAt(0)!;
    if (prohibited(profile, cp)) return { ok: false, problem: `prohibited character ${hex(cp)}` };
    if (inRanges(UNASSIGNED_A1, cp) || inRanges(UNSTABLE, cp)) return { ok: false, problem: `code point ${hex(cp)} after normalisation` };
    const randal = inRanges(RANDAL_D1, cp);
    if (randal) hasRandAL = true;
    else if (inRanges(L_D2, cp)) hasL = true;
    if (first === -1) first = randal ? 1 : 0;
    last = randal ? 1 : 0;
  }
  if (hasRandAL && (hasL || first !== 1 || last !== 1)) return { ok: false, problem: 'mixes right-to-left and left-to-right text' };
  return { ok: true, value: output };
}

export const nodeprep = (s: string): PrepResult => stringprep('nodeprep', s);
export const nameprep = (s: string): PrepResult => stringprep('nameprep', s);
export const resourceprep = (s: string): PrepResult => stringprep('resourceprep', s);
