/**
 * privguard's error catalogue. Every error privguard raises at an edge (config
 * loading, sockets, handshakes) carries a stable `code`; tests and callers match
 * on the code, never on the message.
 */
export const ERROR_CODES = [
  'PG_POLICY_INVALID',
  'PG_UPSTREAM_UNREACHABLE',
  'PG_UPSTREAM_REJECTED',
  'PG_UPSTREAM_TIMEOUT',
  'PG_STREAM_ERROR',
  'PG_LISTEN_FAILED',
  'PG_AUDIT_UNAVAILABLE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class PrivguardError extends Error {
  override name = 'PrivguardError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One problem found in a policy file, positioned in the YAML source. */
export interface PolicyIssue {
  /** Dotted YAML path, e.g. `components.pubsub.example.org.secret`. */
  path: string;
  line: number;
  column: number;
  message: string;
}

export class PolicyError extends PrivguardError {
  override name = 'PolicyError';
  constructor(
    readonly file: string,
    readonly issues: readonly PolicyIssue[],
  ) {
    super('PG_POLICY_INVALID', `${file}: ${issues.length} error(s)\n${formatIssues(file, issues)}`);
  }
}

export function formatIssues(file: string, issues: readonly PolicyIssue[]): string {
  return issues
    .map((i) => `${file}: ${i.path || '(root)'} (${i.line}:${i.column}): ${i.message}`)
    .join('\n');
}
