/**
 * What a decision returns. A Verdict is a value: the proxy applies it. The
 * error text, the audit line and (later) the metric label all derive from its
 * `subject`, `reason`, `rule` and `detail`, through `verdictText` alone.
 */
import type { Element } from '@xmpp/xml';
import type { StreamErrorCondition } from '../protocol/ns.js';
import type { Rule } from './compile.js';
import type { EffectiveGrant } from './grants.js';

export type { Rule } from './compile.js';

export const ACTIONS = ['pass', 'rewrite', 'reject', 'drop'] as const;
export type Action = (typeof ACTIONS)[number];

/** Reason codes with the phrase each one puts into texts. */
export const REASON_PHRASES = {
  ok: 'allowed',
  advertise: 'rewritten to the effective rights',
  invalid_from: 'has a "from" outside the component',
  missing_to: 'has no "to"',
  malformed_to: 'has a malformed "to"',
  unsupported_stanza_type: 'is not a stanza',
  not_advertised: 'not allowed: the server has not advertised privileges for this domain',
  policy_denied: 'not allowed',
  server_denied: 'not granted by the server',
  user_out_of_scope: 'not allowed for this user',
  not_managed_target: 'must be addressed to a managed bare JID',
  bad_structure: 'is malformed',
  misplaced_privilege: 'carries a privilege element where none may be',
  wrong_inner_namespace: 'must wrap a jabber:client stanza',
  bad_inner_from: 'has an inner "from" that is not the managed bare JID or domain',
  type_mismatch: 'has an inner type that differs from the outer type',
  reserved_namespace: 'uses a reserved namespace',
  privilege_version: 'uses a privilege namespace the server does not speak',
  pending_full: 'refused: too many privileged requests pending',
  duplicate_id: 'reuses the id of a pending request',
  timeout: 'got no answer from the server in time',
  unmatched_response: 'answers no pending request',
  forged_advertisement: 'is not from a server domain',
  unconfigured_domain: 'is from a domain the policy does not name',
  presence_not_granted: 'not allowed',
} as const;
export type Reason = keyof typeof REASON_PHRASES;
export const REASONS = Object.keys(REASON_PHRASES) as Reason[];

export function isReason(s: string): s is Reason {
  return s in REASON_PHRASES;
}

/** What the audit line says besides verdict and reason. */
export interface AuditInfo {
  /** roster.get, roster.set, roster.push, message.outgoing, iq.get, iq.set, presence, advertise, stanza.* */
  action: string;
  domain?: string;
  user?: string;
  namespace?: string;
}

export interface Reply {
  to: 'component' | 'server';
  stanza: Element;
}

/** A privileged IQ to remember until the server answers it. */
export interface PrivilegedIqTrack {
  kind: 'privileged_iq';
  id: string;
  domain: string;
  /** The managed user's bare JID (normalised). */
  user: string;
}

interface Base {
  reason: Reason;
  rule: Rule | null;
  /** What the stanza is, in words ("roster set", "privileged message"). */
  subject: string;
  detail?: string;
  audit?: AuditInfo;
}

export type Verdict =
  | (Base & { action: 'pass'; track?: PrivilegedIqTrack })
  | (Base & { action: 'rewrite'; stanza: Element; grant?: EffectiveGrant; wider?: string[] })
  | (Base & {
      action: 'reject';
      replies: Reply[];
      /** The stanza breaks the stream's rules: the stream is closed with this error. */
      streamError?: { condition: StreamErrorCondition; text: string };
    })
  | (Base & { action: 'drop'; replies: Reply[] });

/** The one place texts are made: error `<text>`, log lines and `explain`. */
export function verdictText(v: Pick<Verdict, 'subject' | 'reason' | 'rule' | 'detail'>): string {
  const detail = v.detail ? ` (${v.detail})` : '';
  const rule = v.rule ? `: ${v.rule.path} = ${v.rule.value}` : '';
  return `privguard: ${v.subject} ${REASON_PHRASES[v.reason]}${detail}${rule}`;
}

export function pass(subject: string, audit?: AuditInfo, track?: PrivilegedIqTrack): Verdict {
  return { action: 'pass', reason: 'ok', rule: null, subject, ...(audit ? { audit } : {}), ...(track ? { track } : {}) };
}

export const PASS: Verdict = Object.freeze(pass('stanza'));

export function rejectStream(reason: Reason, condition: StreamErrorCondition, subject: string, detail?: string): Verdict {
  const v = { reason, rule: null, subject, ...(detail ? { detail } : {}) };
  return { action: 'reject', ...v, replies: [], streamError: { condition, text: verdictText(v) } };
}
