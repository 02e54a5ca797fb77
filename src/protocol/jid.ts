/**
 * JID parsing and preparation, done the way the server does it (Prosody's
 * util.jid): split like Prosody's `split`, strip one trailing dot from the
 * domain, then stringprep each part — nodeprep, nameprep, resourceprep
 * (protocol/stringprep.ts). privguard refuses a little more than the server
 * (unassigned code points, bad domain labels, controls); never less.
 *
 * `canonical` says whether the raw text already is the prepared form. In every
 * position privguard judges, a JID that is not canonical is refused: the
 * server would act on the prepared JID, which is not the text privguard judged
 * (`b\u00ADob` is `bob` to the server). Invalid JIDs are values, not exceptions.
 */
import { nameprep, nodeprep, resourceprep } from './stringprep.js';
import { utf8Length } from './utf8.js';

export interface Jid {
  local: string;
  domain: string;
  resource: string;
  /** local@domain or domain, prepared. */
  bare: string;
}

export type JidResult = { ok: true; jid: Jid; canonical: boolean } | { ok: false; reason: string };

/** privguard's own refusals beyond nameprep (which lets spaces, controls and ASCII symbols through). */
const DOMAIN_FORBIDDEN = /[\s\p{Cc}@/"&'<>\\]/u;
/** RFC 6122 §2.1: each part is at most 1023 bytes; Prosody refuses 1024 or more, before and after preparation. */
const MAX_PART_BYTES = 1023;

function fitsPart(s: string): boolean {
  return s.length <= MAX_PART_BYTES && utf8Length(s) <= MAX_PART_BYTES;
}

/** A domain as the server prepares it (trailing dot stripped, nameprep), or undefined. */
export function normaliseDomain(raw: string): string | undefined {
  let d = raw;
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.length === 0 || !fitsPart(d)) return undefined;
  const prepped = nameprep(d);
  if (!prepped.ok) return undefined;
  d = prepped.value;
  if (d.length === 0 || !fitsPart(d) || DOMAIN_FORBIDDEN.test(d)) return undefined;
  if (d.split('.').some((label) => label.length === 0 || label.length > 63)) return undefined;
  return d;
}

/** A localpart as the server prepares it (nodeprep), or why not. */
export function prepareLocal(raw: string): { ok: true; value: string } | { ok: false; reason: string } {
  if (raw.length === 0 || !fitsPart(raw)) return { ok: false, reason: 'invalid localpart' };
  const p = nodeprep(raw);
  if (!p.ok) return { ok: false, reason: `invalid localpart: ${p.problem}` };
  if (p.value.length === 0 || !fitsPart(p.value)) return { ok: false, reason: 'invalid localpart' };
  return { ok: true, value: p.value };
}

/** The same JIDs come by again and again (a component's own, its users'): parse each once. */
const cache = new Map<string, JidResult>();
const CACHE_MAX = 4096;
/**
 * The last two JIDs asked for: one stanza asks for the same attribute values
 * several times (the addressing check, the prepared-form check, the decision),
 * and comparing with the very same string is cheaper than hashing it for the map.
 */
let lastRaw = '';
let lastResult: JidResult = Object.freeze(parseJidUncached(''));
let prevRaw = '';
let prevResult: JidResult = lastResult;

export function parseJid(raw: string): JidResult {
  if (raw === lastRaw) return lastResult;
  if (raw === prevRaw) return prevResult;
  let result = cache.get(raw);
  if (result === undefined) {
    result = Object.freeze(parseJidUncached(raw));
    if (cache.size >= CACHE_MAX) cache.clear();
    // A copy of the key: `raw` is often a slice of a whole read, which the cache would keep alive.
    cache.set((' ' + raw).slice(1), result);
  }
  prevRaw = lastRaw;
  prevResult = lastResult;
  lastRaw = raw;
  lastResult = result;
  return result;
}

/** Whether `raw` is a valid JID already in the form the server prepares it to. */
export function isCanonicalJid(raw: string): boolean {
  const r = parseJid(raw);
  return r.ok && r.canonical;
}

function parseJidUncached(raw: string): JidResult {
  const slash = raw.indexOf('/');
  const beforeResource = slash === -1 ? raw : raw.slice(0, slash);
  const rawResource = slash === -1 ? '' : raw.slice(slash + 1);
  const at = beforeResource.indexOf('@');
  const rawLocal = at === -1 ? '' : beforeResource.slice(0, at);
  const rawDomain = at === -1 ? beforeResource : beforeResource.slice(at + 1);
  if (at !== -1 && rawLocal.length === 0) return { ok: false, reason: 'empty localpart' };
  if (slash !== -1 && rawResource.length === 0) return { ok: false, reason: 'empty resourcepart' };
  let local = '';
  if (at !== -1) {
    const l = prepareLocal(rawLocal);
    if (!l.ok) return l;
    local = l.value;
  }
  const domain = normaliseDomain(rawDomain);
  if (domain === undefined) return { ok: false, reason: 'invalid domainpart' };
  let resource = '';
  if (slash !== -1) {
    if (!fitsPart(rawResource)) return { ok: false, reason: 'invalid resourcepart' };
    const r = resourceprep(rawResource);
    if (!r.ok || r.value.length === 0 || !fitsPart(r.value)) return { ok: false, reason: 'invalid resourcepart' };
    resource = r.value;
  }
  const bare = local ? `${local}@${domain}` : domain;
  const full = resource ? `${bare}/${resource}` : bare;
  return { ok: true, jid: Object.freeze({ local, domain, resource, bare }), canonical: full === raw };
}
