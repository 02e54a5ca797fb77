/**
 * What a decision returns. A Verdict is a value: the proxy applies it, the
 * audit line, the error text and (later) the metric label are all derived from
 * its `reason` and `rule`, never worded separately.
 */
import type { StreamErrorCondition } from '../protocol/ns.js';

export const ACTIONS = ['pass', 'rewrite', 'reject', 'drop'] as const;
export type Action = (typeof ACTIONS)[number];

export const REASONS = [
  'ok',
  'invalid_from',
  'missing_to',
  'malformed_to',
  'unsupported_stanza_type',
] as const;
export type Reason = (typeof REASONS)[number];

export type Verdict =
  | { action: 'pass'; reason: 'ok'; rule: null }
  | {
      action: 'reject';
      reason: Reason;
      rule: string | null;
      /** The stanza breaks the stream's rules: the stream is closed with this error. */
      streamError: { condition: StreamErrorCondition; text: string };
    };

export const PASS: Verdict = Object.freeze({ action: 'pass', reason: 'ok', rule: null });

export function rejectStream(reason: Reason, condition: StreamErrorCondition, text: string, rule: string | null = null): Verdict {
  return { action: 'reject', reason, rule, streamError: { condition, text: `privguard: ${text}` } };
}
