/**
 * The one decision event. Every decision privguard takes — a policy verdict,
 * an advertisement rewritten, an IQ answered in the component's or the
 * server's place (timeout, either side gone, shutdown, reload) — becomes one
 * DecisionEvent built by `decisionEvent`, with the same fields every time.
 * observe/ turns it into an audit line and a `privguard_decisions_total`
 * count; the engine itself does no I/O.
 */
import type { Mode } from '../config/schema.js';
import { parseJid } from '../protocol/jid.js';
import type { Action, AuditInfo, Reason } from '../policy/verdict.js';

export type DecisionVerdict = 'allowed' | 'denied' | 'would_deny';

/** Why the link answered a pending IQ itself when no policy verdict did. */
export type EndReason = Extract<Reason, 'timeout' | 'component_gone' | 'server_gone' | 'shutdown' | 'policy_removed'>;

export interface DecisionEvent {
  component: string;
  mode: Mode;
  /** What privguard did with the stanza: pass, rewrite, reject, drop. */
  action: Action;
  verdict: DecisionVerdict;
  reason: Reason;
  /** What was decided on: `roster.get`, `iq.set`, `delegation.forward`, `stanza.from`, … */
  subject: string;
  domain: string | undefined;
  /** Normalised localpart of a user of `domain`; the bare JID of anyone else. */
  user: string | undefined;
  /** YAML path of the rule that decided, when one did. */
  rule: string | undefined;
  namespace: string | undefined;
  /** For a delegation reply that did not match its request: which field. */
  field: string | undefined;
  stanzaId: string | undefined;
}

/** The `user` field for a JID seen on `domain`'s behalf, through the JID normaliser. */
export function userOf(raw: string | undefined, domain: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const j = parseJid(raw);
  if (!j.ok || j.jid.local === '') return undefined;
  return j.jid.domain === domain ? j.jid.local : j.jid.bare;
}

/** The one builder: every key present (undefined where it does not apply). */
export function decisionEvent(
  component: string,
  mode: Mode,
  action: Action,
  verdict: DecisionVerdict,
  reason: Reason,
  subject: string,
  info: AuditInfo | undefined,
  rule: string | undefined,
  stanzaId: string | undefined,
): DecisionEvent {
  return {
    component,
    mode,
    action,
    verdict,
    reason,
    subject,
    domain: info?.domain,
    user: info?.user,
    rule,
    namespace: info?.namespace,
    field: info?.field,
    stanzaId,
  };
}
