/**
 * JID scopes: the lists in a policy that say which JIDs a right reaches
 * (`roster_subscription`, and the content scopes built on it). One entry is
 *  - `any`        every JID;
 *  - `self`       the bare JID of the user the component acts for;
 *  - `component`  the component's own domain and every JID at it
 *                 (`gw.example.org`, `+33612@gw.example.org`; not subdomains);
 *  - `server`     the advertising server domain itself (no localpart);
 *  - a domain     that domain and every JID at it (`upload.example.org`);
 *  - a JID        one bare JID (`bot@example.org`);
 *  - a glob       `*` / `?` wildcards in the localpart and/or domain
 *                 (`*@conference.example.org`, `*.example.org`); a pattern
 *                 without `@` matches domains (and the JIDs at them), one
 *                 with `@` matches only JIDs that have a localpart.
 * Keywords win over the single-label domain of the same name.
 *
 * Comparison is on bare, prepared JIDs: entries are prepared once at compile
 * time with the same preparation as every stanza JID (protocol/jid.ts), and a
 * JID handed to `matches` must come from parseJid, so case, width or
 * ignorable-character tricks cannot widen or dodge a scope. Resources never
 * matter: a scope names accounts and services, not sessions.
 */
import { normaliseDomain, parseJid, prepareLocal, type Jid } from '../protocol/jid.js';
import { compileGlobSet } from './globs.js';

export const SCOPE_KEYWORDS = ['any', 'self', 'component', 'server'] as const;
export type ScopeKeyword = (typeof SCOPE_KEYWORDS)[number];

/** One parsed entry; literals and glob sources are already prepared. */
export type ScopeEntry =
  | { kind: ScopeKeyword }
  | { kind: 'domain'; domain: string }
  | { kind: 'jid'; bare: string }
  | { kind: 'domain_glob'; pattern: string }
  | { kind: 'jid_glob'; pattern: string };

export type ScopeEntryResult = { ok: true; entry: ScopeEntry } | { ok: false; reason: string };

/** The JIDs the keywords stand for, prepared (bare, from parseJid). */
export interface ScopeContext {
  /** The component's name (its domain). */
  component: string;
  /** The server domain whose privilege is exercised. */
  server: string;
  /** The user the component acts for, when there is one. */
  self?: string;
}

export interface JidScope {
  /** The entries as written in the policy, for texts and `check`. */
  readonly entries: readonly string[];
  /** True when the list holds `any`. */
  readonly any: boolean;
  /** True when the list is empty (nothing is in scope). */
  readonly empty: boolean;
  matches(jid: Jid, ctx: ScopeContext): boolean;
}

const WILD = /[*?]/;
/** Stand-ins for the wildcards while the pattern goes through JID preparation. */
const STAR = 'wildstar0';
const QMARK = 'wildqmark0';

function prepareGlobPart(raw: string, prep: (s: string) => string | undefined): string | undefined {
  // Wildcards become plain letters so preparation sees a well-formed part,
  // and come back afterwards.
  const prepared = prep(raw.replaceAll('*', STAR).replaceAll('?', QMARK));
  if (prepared === undefined) return undefined;
  const out = prepared.replaceAll(STAR, '*').replaceAll(QMARK, '?');
  // Text that prepares into a placeholder (e.g. "WILDSTAR0") must not become a wildcard.
  const wild = (s: string) => s.replace(/[^*?]/g, '');
  return wild(out) === wild(raw) ? out : undefined;
}

const prepDomain = (s: string): string | undefined => normaliseDomain(s);
const prepLocal = (s: string): string | undefined => {
  if (s.includes('@') || s.includes('/')) return undefined;
  const r = prepareLocal(s);
  return r.ok ? r.value : undefined;
};

/** Parses and prepares one entry of a scope list (used by the schema and the compiler). */
export function parseScopeEntry(raw: string): ScopeEntryResult {
  if ((SCOPE_KEYWORDS as readonly string[]).includes(raw)) return { ok: true, entry: { kind: raw as ScopeKeyword } };
  const bad = (why: string): ScopeEntryResult => ({
    ok: false,
    reason: `"${raw}" is not a JID scope (${why}); expected any, self, component, server, a domain, a bare JID or a glob like *@conference.example.org`,
  });
  if (raw.includes('/')) return bad('a scope names bare JIDs, without a resource');
  const at = raw.indexOf('@');
  if (!WILD.test(raw)) {
    const r = parseJid(raw);
    if (!r.ok) return bad(r.reason);
    return r.jid.local === '' ? { ok: true, entry: { kind: 'domain', domain: r.jid.domain } } : { ok: true, entry: { kind: 'jid', bare: r.jid.bare } };
  }
  if (at === -1) {
    const d = prepareGlobPart(raw, prepDomain);
    return d === undefined ? bad('invalid domain pattern') : { ok: true, entry: { kind: 'domain_glob', pattern: d } };
  }
  if (raw.indexOf('@', at + 1) !== -1) return bad('more than one "@"');
  const local = prepareGlobPart(raw.slice(0, at), prepLocal);
  const domain = prepareGlobPart(raw.slice(at + 1), prepDomain);
  if (local === undefined) return bad('invalid localpart pattern');
  if (domain === undefined) return bad('invalid domain pattern');
  return { ok: true, entry: { kind: 'jid_glob', pattern: `${local}@${domain}` } };
}

/**
 * Compiles a validated list once: literals into Sets, globs into glob sets
 * (policy/globs.ts: a leading or trailing `*` is a Set look-up too), so the
 * cost per JID does not grow with the list.
 * Throws on an entry the schema should have refused (a programming error).
 */
export function compileJidScope(entries: readonly string[]): JidScope {
  const keywords = new Set<ScopeKeyword>();
  const domains = new Set<string>();
  const jids = new Set<string>();
  const domainGlobs: string[] = [];
  const jidGlobs: string[] = [];
  for (const raw of entries) {
    const r = parseScopeEntry(raw);
    if (!r.ok) throw new Error(r.reason);
    const e = r.entry;
    switch (e.kind) {
      case 'domain':
        domains.add(e.domain);
        break;
      case 'jid':
        jids.add(e.bare);
        break;
      case 'domain_glob':
        domainGlobs.push(e.pattern);
        break;
      case 'jid_glob':
        jidGlobs.push(e.pattern);
        break;
      default:
        keywords.add(e.kind);
    }
  }
  const any = keywords.has('any');
  // A wildcard never crosses the "@" (in a JID glob, the localpart's stays in the localpart).
  const domainRe = domainGlobs.length ? compileGlobSet(domainGlobs, '@') : undefined;
  const jidRe = jidGlobs.length ? compileGlobSet(jidGlobs, '@') : undefined;
  const self = keywords.has('self');
  const component = keywords.has('component');
  const server = keywords.has('server');
  return Object.freeze({
    entries: Object.freeze([...entries]),
    any,
    empty: entries.length === 0,
    matches(jid: Jid, ctx: ScopeContext): boolean {
      if (any) return true;
      if (self && ctx.self !== undefined && jid.bare === ctx.self) return true;
      if (component && jid.domain === ctx.component) return true;
      if (server && jid.local === '' && jid.domain === ctx.server) return true;
      if (domains.has(jid.domain) || (jid.local !== '' && jids.has(jid.bare))) return true;
      if (domainRe?.test(jid.domain)) return true;
      return jid.local !== '' && jidRe !== undefined && jidRe.test(jid.bare);
    },
  });
}
