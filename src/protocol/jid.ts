/**
 * JID parsing and normalisation, done the way the server compares JIDs: the
 * localpart and domainpart are case-folded and NFKC-normalised (a subset of
 * RFC 7622 PRECIS, close to what Prosody's stringprep nodeprep/nameprep do),
 * the resourcepart is kept as is. Invalid JIDs are values, not exceptions.
 *
 * Deliberately left out: the full PRECIS IdentifierClass tables (bidi rules,
 * unassigned code points); characters outside them are refused only when
 * RFC 7622 forbids them outright (§3.3.1 localpart exclusions, spaces, controls).
 */

export interface Jid {
  local: string;
  domain: string;
  resource: string;
  /** local@domain or domain, normalised. */
  bare: string;
}

export type JidResult = { ok: true; jid: Jid } | { ok: false; reason: string };

const LOCAL_FORBIDDEN = /["&'/:<>@\s\p{Cc}]/u;
const DOMAIN_FORBIDDEN = /[\s\p{Cc}@/"&'<>\\]/u;
const RESOURCE_FORBIDDEN = /\p{Cc}/u;
const MAX_PART = 1023;

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

/** The case-fold of JID parts, and of anything compared with them (user patterns). */
export function fold(s: string): string {
  // NFKC leaves printable ASCII alone: the common case needs only lower-casing.
  if (PRINTABLE_ASCII.test(s)) return s.toLowerCase();
  return s.normalize('NFKC').toLowerCase().normalize('NFKC');
}

export function normaliseDomain(raw: string): string | undefined {
  let d = fold(raw);
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.length === 0 || d.length > MAX_PART || DOMAIN_FORBIDDEN.test(d)) return undefined;
  if (d.split('.').some((label) => label.length === 0 || label.length > 63)) return undefined;
  return d;
}

/** The same JIDs come by again and again (a component's own, its users'): parse each once. */
const cache = new Map<string, JidResult>();
const CACHE_MAX = 4096;

export function parseJid(raw: string): JidResult {
  const hit = cache.get(raw);
  if (hit) return hit;
  const result = Object.freeze(parseJidUncached(raw));
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(raw, result);
  return result;
}

function parseJidUncached(raw: string): JidResult {
  const slash = raw.indexOf('/');
  const beforeResource = slash === -1 ? raw : raw.slice(0, slash);
  const resource = slash === -1 ? '' : raw.slice(slash + 1);
  const at = beforeResource.indexOf('@');
  const rawLocal = at === -1 ? '' : beforeResource.slice(0, at);
  const rawDomain = at === -1 ? beforeResource : beforeResource.slice(at + 1);
  if (at !== -1 && rawLocal.length === 0) return { ok: false, reason: 'empty localpart' };
  if (slash !== -1 && resource.length === 0) return { ok: false, reason: 'empty resourcepart' };
  const local = rawLocal ? fold(rawLocal) : '';
  if (local.length > MAX_PART || LOCAL_FORBIDDEN.test(local)) return { ok: false, reason: 'invalid localpart' };
  const domain = normaliseDomain(rawDomain);
  if (domain === undefined) return { ok: false, reason: 'invalid domainpart' };
  const res = resource.normalize('NFC');
  if (res.length > MAX_PART || RESOURCE_FORBIDDEN.test(res)) return { ok: false, reason: 'invalid resourcepart' };
  const bare = local ? `${local}@${domain}` : domain;
  return { ok: true, jid: Object.freeze({ local, domain, resource: res, bare }) };
}
