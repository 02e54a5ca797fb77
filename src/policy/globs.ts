/**
 * A set of glob patterns matched at a cost that does not grow with their
 * number (issue 14: 10,000 scope patterns cost what 10 do). Each glob is
 * filed under one of its literal ends, the text before its first wildcard
 * or after its last (`*@conference.example.org` under
 * "@conference.example.org"; `bot-*@example.org` under "bot-" or
 * "@example.org", whichever fewer globs share), and a
 * string is tried only against the globs filed under its own prefixes and
 * suffixes: one Map look-up per distinct key length. Globs without a literal
 * end (`*x*`) share one anchored alternation, whose cost does grow with
 * their number.
 *
 * `*` stands for any run of characters other than `stop` (a JID glob's
 * wildcards never cross its "@"), `?` for one such character. Pure.
 */

export interface GlobSet {
  readonly size: number;
  test(s: string): boolean;
}

function escape(s: string): string {
  return s.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/** Globs filed by a literal key, with the key lengths present (shortest first). */
interface Bucketed {
  byKey: Map<string, RegExp[]>;
  lengths: number[];
}

function bucketed(entries: readonly [string, RegExp][]): Bucketed {
  const byKey = new Map<string, RegExp[]>();
  for (const [key, re] of entries) {
    const list = byKey.get(key);
    if (list) list.push(re);
    else byKey.set(key, [re]);
  }
  return { byKey, lengths: [...new Set(entries.map(([k]) => k.length))].sort((a, b) => a - b) };
}

export function compileGlobSet(patterns: readonly string[], stop: string): GlobSet {
  const wild = `[^${escape(stop)}]`;
  const source = (p: string) =>
    p
      .split(/([*?])/)
      .map((piece) => (piece === '*' ? `${wild}*` : piece === '?' ? wild : escape(piece)))
      .join('');
  const ends = patterns.map((p) => {
    const first = p.search(/[*?]/);
    const last = Math.max(p.lastIndexOf('*'), p.lastIndexOf('?'));
    return first === -1 ? { p, prefix: p, suffix: p } : { p, prefix: p.slice(0, first), suffix: p.slice(last + 1) };
  });
  // File each glob under the end fewer globs share, so that no bucket holds most of them.
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const prefixCount = new Map<string, number>();
  const suffixCount = new Map<string, number>();
  for (const e of ends) {
    if (e.prefix !== '') count(prefixCount, e.prefix);
    if (e.suffix !== '') count(suffixCount, e.suffix);
  }
  const byPrefix: [string, RegExp][] = [];
  const bySuffix: [string, RegExp][] = [];
  const others: string[] = [];
  for (const { p, prefix, suffix } of ends) {
    if (prefix === '' && suffix === '') {
      others.push(source(p));
      continue;
    }
    const re = new RegExp(`^${source(p)}$`, 'su');
    const viaPrefix = prefix === '' ? Infinity : prefixCount.get(prefix)!;
    const viaSuffix = suffix === '' ? Infinity : suffixCount.get(suffix)!;
    if (viaPrefix < viaSuffix || (viaPrefix === viaSuffix && prefix.length >= suffix.length)) byPrefix.push([prefix, re]);
    else bySuffix.push([suffix, re]);
  }
  const pre = bucketed(byPrefix);
  const suf = bucketed(bySuffix);
  const rest = others.length > 0 ? new RegExp(`^(?:${others.join('|')})$`, 'su') : undefined;
  const tryAll = (list: RegExp[] | undefined, s: string) => list !== undefined && list.some((re) => re.test(s));
  return Object.freeze({
    size: patterns.length,
    test(s: string): boolean {
      for (const n of pre.lengths) {
        if (n > s.length) break;
        if (tryAll(pre.byKey.get(s.slice(0, n)), s)) return true;
      }
      for (const n of suf.lengths) {
        if (n > s.length) break;
        if (tryAll(suf.byKey.get(s.slice(s.length - n)), s)) return true;
      }
      return rest !== undefined && rest.test(s);
    },
  });
}
