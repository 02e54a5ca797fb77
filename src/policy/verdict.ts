/**
 * What a decision returns. A Verdict is a value: the proxy applies it. The
 * error text, the audit line and (later) the metric label all derive from its
 * `subject`, `reason`, `rule` and `detail`, through `verdictText` alone.
 */
import type { Element } from '@xmpp/xml';
import type { Delegated } from '../protocol/delegation.js';
import type { StreamErrorCondition } from '../protocol/ns.js';
import type { Rule } from './compile.js';
import type { EffectiveGrant } from './grants.js';

export type { Rule } from './compile.js';

export const ACTIONS = ['pass', 'rewrite', 'reject', 'drop', 'filter'] as const;
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
  out_of_scope: 'not allowed: outside the scope the policy gives',
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
  timeout: 'got no answer in time',
  component_gone: 'was left unanswered by a component that went away',
  server_gone: 'got no answer: the connection to the XMPP server went away',
  shutdown: 'got no answer: privguard is shutting down',
  policy_removed: 'got no answer: the component was removed from the policy',
  delegation_removed: 'lost its delegation when the policy was reloaded',
  unmatched_response: 'answers no pending request',
  forged_advertisement: 'is not from a server domain',
  unconfigured_domain: 'is from a domain the policy does not name',
  presence_not_granted: 'not allowed',
  subscription_not_allowed: 'may not give this roster item a subscription',
  not_delegated: 'is not delegated to this component',
  missing_attribute: 'lacks an attribute the policy requires',
  forged_delegation: 'is not from a server domain',
  not_bare_target: 'is addressed to a full JID, which delegation never covers',
  reply_mismatch: 'does not match the request it answers',
  outer_error: 'was an error, which the user gets as service-unavailable',
  reply_shape: 'is in a shape the server would discard without answering the user',
  misplaced_delegation: 'carries a delegation element where none may be',
  nothing_delegated: 'delegates nothing this component may have',
  non_canonical_jid: 'names a JID that is not in the form the server prepares it to',
  looped_request: 'came back from the server as a request instead of an answer: no answer will come (ejabberd bug #4347, fixed in 25.03)',
} as const;
export type Reason = keyof typeof REASON_PHRASES;

/** What the audit line says besides verdict and reason. */
export interface AuditInfo {
  /** roster.get, roster.set, roster.push, message.outgoing, iq.get, iq.set, presence, advertise, stanza.* */
  action: string;
  domain?: string;
  user?: string;
  namespace?: string;
  /** For a delegation reply that does not match its request: which field. */
  field?: string;
  /** For a filtered stanza: how many items were hidden (never which). */
  hidden?: number;
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

/** A delegated IQ forwarded to the component, to be answered exactly once. */
export interface DelegatedIqTrack {
  kind: 'delegated_iq';
  /** The wrapper's id (the server's). */
  id: string;
  domain: string;
  version: 1 | 2;
  namespace: string;
  /** The server's wrapper and the user's IQ inside it. */
  request: Element;
  inner: Element;
}

export type Track = PrivilegedIqTrack | DelegatedIqTrack;

interface Base {
  reason: Reason;
  rule: Rule | null;
  /** What the stanza is, in words ("roster set", "privileged message"). */
  subject: string;
  detail?: string;
  audit?: AuditInfo;
  /** What this stanza teaches the session about the server (delegations it advertised). */
  learn?: { domain: string; delegated: Delegated };
  /** The pending IQ this stanza settles, whatever the action (a privileged one: the link answers it). */
  settle?: { kind: 'delegated_iq' | 'privileged_iq'; id: string };
}

export type Verdict =
  | (Base & { action: 'pass'; track?: Track })
  | (Base & { action: 'rewrite'; stanza: Element; grant?: EffectiveGrant; wider?: string[] })
  | (Base & {
      action: 'reject';
      replies: Reply[];
      /** The stanza breaks the stream's rules: the stream is closed with this error. */
      streamError?: { condition: StreamErrorCondition; text: string };
      /** In report mode the stanza goes on anyway: what to track if it does. */
      track?: DelegatedIqTrack;
      /** Applied in report mode too: going on, the stanza would leave a user without an answer. */
      enforced?: true;
    })
  | (Base & { action: 'drop'; replies: Reply[]; track?: DelegatedIqTrack })
  | (Base & {
      action: 'filter';
      /**
       * A server stanza with content outside the component's scopes: `stanza`
       * is what the component gets instead (undefined: nothing), `replies` what
       * privguard answers in its place. Report mode forwards the original.
       */
      stanza: Element | undefined;
      hidden: number;
      replies: Reply[];
    });

/** The one place texts are made: error `<text>`, log lines and `explain`. */
export function verdictText(v: Pick<Verdict, 'subject' | 'reason' | 'rule' | 'detail'>): string {
  const detail = v.detail ? ` (${v.detail})` : '';
  const rule = v.rule ? `: ${v.rule.path} = ${v.rule.value}` : '';
  return `privguard: ${v.subject} ${REASON_PHRASES[v.reason]}${detail}${rule}`;
}

/** The fields every verdict has, absent optional keys left out (audit records keep no empty keys). */
export function verdictBase(
  subject: string,
  reason: Reason,
  opts: { rule?: Rule | null; detail?: string | undefined; audit?: AuditInfo | undefined } = {},
): Base {
  return {
    reason,
    rule: opts.rule ?? null,
    subject,
    ...(opts.detail ? { detail: opts.detail } : {}),
    ...(opts.audit ? { audit: opts.audit } : {}),
  };
}

export function pass(subject: string, audit?: AuditInfo, track?: Track): Verdict {
  // Keys added one by one, not spread from temporaries: every audited pass comes here.
  const v: Base & { action: 'pass'; track?: Track } = { action: 'pass', reason: 'ok', rule: null, subject };
  if (audit) v.audit = audit;
  if (track) v.track = track;
  return v;
}

export const PASS: Verdict = Object.freeze(pass('stanza'));

export function rejectStream(reason: Reason, condition: StreamErrorCondition, subject: string, detail?: string): Verdict {
  const v = { reason, rule: null, subject, ...(detail ? { detail } : {}) };
  return { action: 'reject', ...v, replies: [], streamError: { condition, text: verdictText(v) } };
}
