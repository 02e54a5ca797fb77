/**
 * `privguard explain`: runs stanzas from a file through the very decisions the
 * proxy makes, and says what it would do and which rule decided. Without
 * advertisements, the server is assumed to grant exactly what the policy
 * grants (so only the policy is being explained).
 */
import { readFileSync } from 'node:fs';
import type { Element } from '@xmpp/xml';
import { loadPolicyFile, type LoadedPolicy } from './config/load.js';
import { PrivguardError } from './errors.js';
import { checkComponentElement } from './policy/addressing.js';
import { compilePolicy } from './policy/compile.js';
import { assumedAdvertisement, effectiveGrant, type EffectiveGrant } from './policy/grants.js';
import { decideInbound } from './policy/inbound.js';
import { decideOutbound } from './policy/outbound.js';
import { verdictText, type DelegatedIqTrack, type Verdict } from './policy/verdict.js';
import { parseDelegationAdvertisement } from './protocol/delegation.js';
import { classifyTopLevel } from './protocol/classify.js';
import { normaliseDomain, parseJid } from './protocol/jid.js';
import { StreamParser } from './protocol/parser.js';
import { parseAdvertisement } from './protocol/privilege.js';
import type { PrivilegeVersion } from './protocol/ns.js';
import { serialize } from './protocol/serialize.js';

export type Direction = 'to-server' | 'to-component';

export interface ExplainOptions {
  policyFile: string;
  component: string;
  direction: Direction;
  stanzaFile: string;
  advertisedFile?: string;
  /** Delegated requests privguard forwarded earlier (to explain the component's replies). */
  pendingFile?: string;
}

export interface Explanation {
  stanza: string;
  verdict: Verdict;
  text: string;
}

/** Stanzas from a file of XML fragments, parsed as privguard parses a component stream. */
export function readStanzas(file: string): Element[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PrivguardError('PG_STREAM_ERROR', `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseStanzaText(text, file);
}

/** Stanzas from XML text, parsed as privguard parses a component stream; `where` names the source in errors. */
export function parseStanzaText(text: string, where: string): Element[] {
  const out: Element[] = [];
  const parser = new StreamParser(
    { onHeader: () => {}, onStanza: (el) => void out.push(el), onEnd: () => {} },
    { maxStanzaBytes: 16 * 1024 * 1024, maxDepth: 64 },
  );
  const body = text.replace(/^\uFEFF?\s*<\?xml[^>]*\?>/, '');
  const failure = parser.write(
    `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>${body}`,
  );
  if (failure) throw new PrivguardError('PG_STREAM_ERROR', `${where}: ${failure.condition}: ${failure.text}`);
  if (out.length === 0) throw new PrivguardError('PG_STREAM_ERROR', `${where}: no stanza found`);
  return out;
}

export function explainStanzas(opts: ExplainOptions): Explanation[] {
  return explainElements({
    policy: loadPolicyFile(opts.policyFile),
    component: opts.component,
    direction: opts.direction,
    stanzas: readStanzas(opts.stanzaFile),
    ...(opts.advertisedFile ? { advertised: readStanzas(opts.advertisedFile) } : {}),
    ...(opts.pendingFile ? { pending: readStanzas(opts.pendingFile) } : {}),
  });
}

/** What `explain` and `privguard test` decide on: parsed stanzas instead of files. */
export interface ExplainInput {
  policy: LoadedPolicy;
  component: string;
  direction: Direction;
  stanzas: readonly Element[];
  /** The server's advertisements; absent: the server grants what the policy grants. */
  advertised?: readonly Element[];
  /** With no advertisements: the privilege namespace version the server is assumed to speak (default 2). */
  version?: PrivilegeVersion;
  /** Delegated requests privguard forwarded earlier. */
  pending?: readonly Element[];
}

export function explainElements(input: ExplainInput): Explanation[] {
  const compiled = compilePolicy(input.policy);
  const name = normaliseDomain(input.component);
  const component = name === undefined ? undefined : compiled.components.get(name);
  if (!component) {
    const known = [...compiled.components.keys()].join(', ');
    throw new PrivguardError('PG_POLICY_INVALID', `${input.component} is not a component of ${input.policy.file} (it has: ${known})`);
  }
  const grants = new Map<string, EffectiveGrant>();
  const delegations = new Map<string, Map<string, readonly string[]>>();
  if (input.advertised) {
    for (const el of input.advertised) {
      const from = parseJid((el.attrs.from as string | undefined) ?? '');
      if (!from.ok) continue;
      const adv = parseAdvertisement(el);
      if (adv) grants.set(from.jid.domain, effectiveGrant(from.jid.domain, adv, component.privileges.get(from.jid.domain)).grant);
      const deleg = parseDelegationAdvertisement(el);
      if (deleg) {
        const known = delegations.get(from.jid.domain) ?? new Map<string, readonly string[]>();
        for (const [ns, attrs] of deleg.delegated) known.set(ns, attrs);
        delegations.set(from.jid.domain, known);
      }
    }
  } else {
    for (const [domain, p] of component.privileges) grants.set(domain, effectiveGrant(domain, assumedAdvertisement(p, input.version), p).grant);
    for (const [domain, byNs] of component.delegations) delegations.set(domain, new Map([...byNs].map(([ns, d]) => [ns, d.attributes])));
  }
  const inbound = (el: Element) =>
    decideInbound(
      { component, grants, pendingUser: () => undefined, expiredUser: () => undefined, delegations, isDelegationPending: () => false, delegationPendingFull: false },
      el,
    );
  const pending = new Map<string, DelegatedIqTrack>();
  for (const el of input.pending ?? []) {
    const v = inbound(el);
    const t = v.action === 'pass' || v.action === 'reject' ? v.track : undefined;
    if (t?.kind === 'delegated_iq') pending.set(t.id, t);
  }
  return input.stanzas.map((el) => {
    let verdict: Verdict;
    if (input.direction === 'to-server') {
      const framing = checkComponentElement(component.name, classifyTopLevel(el), el);
      verdict =
        framing.action === 'reject'
          ? framing
          : decideOutbound({ component, grants, isPending: () => false, pendingFull: false, delegationPending: (id) => pending.get(id), delegationClosed: () => false }, el);
    } else {
      verdict = inbound(el);
    }
    return { stanza: serialize(el), verdict, text: verdictText(verdict) };
  });
}

/** The human-readable report `privguard explain` prints. */
export function formatExplanation(e: Explanation): string {
  const v = e.verdict;
  const lines = [`stanza:  ${e.stanza.length > 300 ? `${e.stanza.slice(0, 297)}...` : e.stanza}`, `verdict: ${v.action}`, `reason:  ${v.reason}`];
  lines.push(`rule:    ${v.rule ? `${v.rule.path} = ${v.rule.value}` : '(none: decided by the protocol or the server grant)'}`);
  if (v.action !== 'pass') lines.push(`text:    ${e.text}`);
  if (v.action === 'reject' && v.streamError) lines.push(`closes the stream with: ${v.streamError.condition}`);
  if (v.action === 'reject' || v.action === 'drop') {
    for (const r of v.replies) lines.push(`answers the ${r.to}: ${serialize(r.stanza)}`);
    if (v.replies.length === 0 && !(v.action === 'reject' && v.streamError)) lines.push('answers: nothing (dropped silently, audited)');
  }
  if (v.action === 'rewrite') lines.push(`sends instead: ${serialize(v.stanza)}`);
  if (v.audit) {
    const a = v.audit;
    lines.push(`audit:   action=${a.action}${a.domain ? ` domain=${a.domain}` : ''}${a.user ? ` user=${a.user}` : ''}${a.namespace ? ` namespace=${a.namespace}` : ''}`);
  }
  return lines.join('\n');
}
