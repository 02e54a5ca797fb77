/**
 * `privguard explain`: runs stanzas from a file through the very engine the
 * proxy runs (an offline Link: translation, tables and decisions included), and
 * says what it would do and which rule decided. Without advertisements, the
 * server is assumed to grant exactly what the policy grants, in the current
 * namespace versions (so only the policy is being explained).
 */
import { readFileSync } from 'node:fs';
import type { Element } from '@xmpp/xml';
import { loadPolicyFile, type LoadedPolicy } from './config/load.js';
import { PrivguardError } from './errors.js';
import { checkComponentElement } from './policy/addressing.js';
import { compilePolicy } from './policy/compile.js';
import { verdictText, type Verdict } from './policy/verdict.js';
import { assumedAdvertisements, offlineLink, type OfflineLink } from './engine/offline.js';
import { classifyTopLevel } from './protocol/classify.js';
import { normaliseDomain } from './protocol/jid.js';
import { StreamParser } from './protocol/parser.js';
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
  version?: 1 | 2;
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
  // The production path: a Link on a fake clock, told what the server advertised
  // (or, without advertisements, what the policy asks for) and what is pending.
  const advertised = input.advertised ?? assumedAdvertisements(component, input.version);
  const pending = input.pending ?? [];
  const fresh = (): OfflineLink => {
    const off = offlineLink({ compiled: component, pendingTimeoutMs: compiled.pendingTimeoutMs, maxPending: compiled.maxPending });
    for (const el of advertised) off.link.fromServer(el);
    for (const el of pending) off.link.fromServer(el);
    return off;
  };
  let off = fresh();
  return input.stanzas.map((el) => {
    // A stanza that closed the stream is explained; the next one meets a new link, as a reconnecting component would.
    if (!off.link.open) off = fresh();
    const stanza = serialize(el);
    const before = off.verdicts.length;
    if (input.direction === 'to-server') off.link.fromComponent(el);
    else off.link.fromServer(el);
    const verdict = off.verdicts[before]?.verdict ?? checkComponentElement(component.name, classifyTopLevel(el), el);
    return { stanza, verdict, text: verdictText(verdict) };
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
