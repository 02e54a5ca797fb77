/**
 * Stanza-level comparison of two runs of the same scenario (e.g. a real
 * component straight to the server vs the same component through privguard):
 * what each party (the component, each user client) received, normalised so
 * that what legitimately varies between runs does not count, then compared.
 *
 * API (kept backward compatible; add options rather than change meanings):
 *  - `Transcript`: party name → the stanzas that party received, in order.
 *    A @xmpp peer's `stanzas` array can be used as is; for a component that
 *    runs in another process, record it with `startTap` (tap.ts).
 *  - `normalise(el, opts?)`: one stanza → a canonical one-line string:
 *    resolved namespaces, sorted attributes, no whitespace-only text, the
 *    children of stanzas (and of roster queries, RSM sets, XEP-0356
 *    advertisements and their perms, plus
 *    `opts.unordered`) in sorted order, as their order is not significant; volatile
 *    parts masked as `*`: the stanza's own `id`, ids of MAM results/queries,
 *    XEP-0359 stanza-id/origin-id ids, XEP-0203 delay stamps, RSM first/last,
 *    anything that looks like a timestamp, UUIDs anywhere in a value, with or
 *    without dashes (random ids: `slidge-carbon-<uuid>` → `slidge-carbon-*`), and `opts.mask`.
 *    `opts.replace` applies text substitutions afterwards (e.g. ports).
 *  - `compareTranscripts(a, b, opts?)`: the differences, per party, as a list
 *    of `{ party, only: 'a' | 'b', stanza, count }` — a stanza (normalised)
 *    that one run's party received `count` times more than the other's.
 *    Order is not significant (multiset) unless `opts.ordered` names the party.
 *    `opts.drop(el, party)` leaves stanzas out of both runs (e.g. keep-alives).
 *  - `unexpectedDifferences(diffs, expected)`: splits differences into those
 *    the test lists as expected (party, side, and a RegExp or substring of the
 *    normalised stanza) and the rest; also returns expectations that matched
 *    nothing, so a stale expectation fails too.
 *  - `formatDifferences(diffs)`: human-readable text for a failure message.
 */
import type { Element } from '@xmpp/xml';

/** Party name → stanzas it received, in arrival order. */
export type Transcript = Record<string, readonly Element[]>;

export interface NormaliseOptions {
  /** Literal strings masked as `*` wherever they occur in attribute values or text (random resources, secrets, …). */
  mask?: readonly string[];
  /** Substitutions applied to the canonical string at the end (e.g. [/:\d{4,5}\b/g, ':PORT']). */
  replace?: ReadonlyArray<readonly [RegExp, string]>;
  /** More [namespace, element name] whose children's order is not significant (added to the defaults). */
  unordered?: ReadonlyArray<readonly [string, string]>;
  /** Keep the stanza's own `id` (default: masked). */
  keepStanzaId?: boolean;
}

export interface CompareOptions extends NormaliseOptions {
  /** Parties whose stanza order matters (default: none; each party's stanzas compare as a multiset). */
  ordered?: readonly string[];
  /** Leave a stanza out of the comparison (in both runs). */
  drop?: (el: Element, party: string) => boolean;
}

export interface Difference {
  party: string;
  /** The run whose party received this stanza more often. */
  only: 'a' | 'b';
  /** The normalised stanza. */
  stanza: string;
  /** How many more times. */
  count: number;
}

export interface ExpectedDifference {
  party: string;
  only: 'a' | 'b';
  /** Matches the normalised stanza (a string: substring). */
  match: RegExp | string;
  /** Why the policy makes this differ (for the reader; shown when unused). */
  why?: string;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Random ids components make (slixmpp: uuid4), wherever they appear in a value. */
const UUID = /\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b/gi;

/** [namespace, element name] → attributes whose value varies between runs. */
const VOLATILE_ATTRS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['urn:xmpp:sid:0', 'stanza-id', ['id', 'by']],
  ['urn:xmpp:sid:0', 'origin-id', ['id']],
  ['urn:xmpp:delay', 'delay', ['stamp']],
  ['urn:xmpp:mam:2', 'result', ['id', 'queryid']],
  ['urn:xmpp:mam:2', 'query', ['queryid']],
  ['urn:xmpp:mam:2', 'fin', ['queryid']],
];
/**
 * [namespace, element name] whose children compare as a set: their order is
 * not significant and varies between runs (Prosody builds roster results and
 * RSM sets and privilege advertisements from Lua tables; slixmpp adds a
 * message's extensions from a set).
 * Stanzas themselves (message, presence, iq at any depth) are always included.
 */
const UNORDERED: ReadonlyArray<readonly [string, string]> = [
  ['jabber:iq:roster', 'query'],
  ['http://jabber.org/protocol/rsm', 'set'],
  ['urn:xmpp:privilege:2', 'privilege'],
  ['urn:xmpp:privilege:2', 'perm'],
];
const STANZA_NS = new Set(['jabber:client', 'jabber:server', 'jabber:component:accept']);

function isUnordered(ns: string, name: string, opts: NormaliseOptions): boolean {
  if (STANZA_NS.has(ns) && (name === 'message' || name === 'presence' || name === 'iq')) return true;
  return [...UNORDERED, ...(opts.unordered ?? [])].some(([n, e]) => n === ns && e === name);
}

/** [namespace, element name] whose text varies between runs. */
const VOLATILE_TEXT: ReadonlyArray<readonly [string, string]> = [
  ['http://jabber.org/protocol/rsm', 'first'],
  ['http://jabber.org/protocol/rsm', 'last'],
  ['urn:xmpp:time', 'utc'],
];

function volatileAttrsOf(ns: string, name: string): readonly string[] {
  return VOLATILE_ATTRS.find(([n, e]) => n === ns && e === name)?.[2] ?? [];
}

function hasVolatileText(ns: string, name: string): boolean {
  return VOLATILE_TEXT.some(([n, e]) => n === ns && e === name);
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function maskValue(v: string, opts: NormaliseOptions): string {
  if (TIMESTAMP.test(v)) return '*';
  let out = v.replace(UUID, '*');
  for (const m of opts.mask ?? []) if (m !== '') out = out.split(m).join('*');
  return out;
}

function canon(el: Element, parentNs: string, top: boolean, opts: NormaliseOptions): string {
  const ns = typeof el.attrs.xmlns === 'string' ? el.attrs.xmlns : parentNs;
  const volatileAttrs = volatileAttrsOf(ns, el.name);
  const attrs = Object.entries(el.attrs as Record<string, unknown>)
    .filter(([k, v]) => k !== 'xmlns' && !k.startsWith('xmlns:') && v !== undefined && v !== null)
    .map(([k, v]): [string, string] => {
      const value = String(v);
      if ((top && k === 'id' && !opts.keepStanzaId) || volatileAttrs.includes(k)) return [k, '*'];
      return [k, maskValue(value, opts)];
    })
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const textVolatile = hasVolatileText(ns, el.name);
  const parts = el.children.map((c) => {
    if (typeof c === 'string') {
      if (c.trim() === '') return '';
      return textVolatile ? '*' : escape(maskValue(c, opts));
    }
    return canon(c, ns, false, opts);
  });
  if (top || isUnordered(ns, el.name, opts)) parts.sort();
  const children = parts.join('');
  const nsPart = ns !== parentNs ? ` xmlns="${escape(ns)}"` : '';
  const attrPart = attrs.map(([k, v]) => ` ${k}="${escape(v)}"`).join('');
  return `<${el.name}${nsPart}${attrPart}${children === '' ? '/>' : `>${children}</${el.name}>`}`;
}

/** One stanza as a canonical string with what varies between runs masked. */
export function normalise(el: Element, opts: NormaliseOptions = {}): string {
  // Top-level stanzas of a client stream and of a component stream are the same
  // stanzas: compare them in one namespace.
  const text = canon(el, '', true, opts).replace(/^<(\w+) xmlns="jabber:(client|component:accept|server)"/, '<$1');
  return (opts.replace ?? []).reduce((s, [re, by]) => s.replace(re, by), text);
}

function counts(stanzas: readonly Element[], party: string, opts: CompareOptions): Map<string, number> {
  const m = new Map<string, number>();
  for (const el of stanzas) {
    if (opts.drop?.(el, party)) continue;
    const k = normalise(el, opts);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function orderedDiff(party: string, a: string[], b: string[]): Difference[] {
  // Longest common subsequence; what is left on each side differs.
  const dp: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const out: Difference[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    }
    else if (j >= b.length || (i < a.length && dp[i + 1]![j]! >= dp[i]![j + 1]!)) out.push({ party, only: 'a', stanza: a[i++]!, count: 1 });
    else out.push({ party, only: 'b', stanza: b[j++]!, count: 1 });
  }
  return out;
}

/** What differs between run a and run b, party by party (parties of either run). */
export function compareTranscripts(a: Transcript, b: Transcript, opts: CompareOptions = {}): Difference[] {
  const parties = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const out: Difference[] = [];
  for (const party of parties) {
    const sa = a[party] ?? [];
    const sb = b[party] ?? [];
    if (opts.ordered?.includes(party)) {
      const keep = (s: readonly Element[]) => s.filter((el) => !opts.drop?.(el, party)).map((el) => normalise(el, opts));
      out.push(...orderedDiff(party, keep(sa), keep(sb)));
      continue;
    }
    const ca = counts(sa, party, opts);
    const cb = counts(sb, party, opts);
    for (const k of [...new Set([...ca.keys(), ...cb.keys()])].sort()) {
      const d = (ca.get(k) ?? 0) - (cb.get(k) ?? 0);
      if (d > 0) out.push({ party, only: 'a', stanza: k, count: d });
      if (d < 0) out.push({ party, only: 'b', stanza: k, count: -d });
    }
  }
  return out;
}

/** Differences the test expects (because the policy changes them) vs the rest; expectations that matched nothing. */
export function unexpectedDifferences(
  diffs: readonly Difference[],
  expected: readonly ExpectedDifference[],
): { unexpected: Difference[]; expected: Difference[]; unused: ExpectedDifference[] } {
  const used = new Set<ExpectedDifference>();
  const matches = (d: Difference, e: ExpectedDifference) =>
    e.party === d.party && e.only === d.only && (typeof e.match === 'string' ? d.stanza.includes(e.match) : e.match.test(d.stanza));
  const unexpected: Difference[] = [];
  const exp: Difference[] = [];
  for (const d of diffs) {
    const e = expected.find((x) => matches(d, x));
    if (e) {
      used.add(e);
      exp.push(d);
    } else unexpected.push(d);
  }
  return { unexpected, expected: exp, unused: expected.filter((e) => !used.has(e)) };
}

/** Differences as text, one per line: `party [only in a ×2] <stanza…>`. */
export function formatDifferences(diffs: readonly Difference[]): string {
  if (diffs.length === 0) return '(no differences)';
  return diffs.map((d) => `${d.party} [only in ${d.only}${d.count > 1 ? ` ×${d.count}` : ''}] ${d.stanza}`).join('\n');
}
