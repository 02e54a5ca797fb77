/**
 * Audit records: one JSON line per decision privguard takes on a component's
 * behalf (DESIGN.md "Operations"). Records are flat, snake_case, without absent
 * keys, and never carry message bodies. Writing never blocks the stanza path:
 * a sink that cannot keep up drops records and counts them.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export const AUDIT_VERDICTS = ['allowed', 'denied', 'would_deny'] as const;
export type AuditVerdict = (typeof AUDIT_VERDICTS)[number];

export interface AuditRecord {
  component: string;
  domain?: string;
  user?: string;
  /** e.g. `roster.get`, `message.outgoing`, `stanza.from`. */
  action: string;
  verdict: AuditVerdict;
  reason: string;
  /** YAML path of the rule that decided, when one did. */
  rule?: string;
  /** The payload namespace, for privileged IQs. */
  namespace?: string;
  stanza_id?: string;
}

export interface AuditSink {
  write(record: AuditRecord): void;
  /** Records dropped because the sink was backed up. */
  readonly dropped: number;
  close(): Promise<void>;
}

/** Above this many buffered bytes, records are dropped (and counted). */
const MAX_BUFFERED = 8 * 1024 * 1024;

export function createAuditSink({ file }: { file: string }): AuditSink {
  const out: NodeJS.WritableStream & { writableLength: number } =
    file === '-' ? process.stdout : createWriteStream(file, { flags: 'a' });
  let dropped = 0;
  return {
    write(record) {
      if (out.writableLength > MAX_BUFFERED) {
        dropped++;
        return;
      }
      out.write(`${JSON.stringify({ type: 'decision', time: new Date().toISOString(), ...record })}\n`);
    },
    get dropped() {
      return dropped;
    },
    close() {
      if (file === '-') return Promise.resolve();
      return new Promise((resolve) => (out as WriteStream).end(resolve));
    },
  };
}

/** An in-memory sink for tests and `explain`. */
export function createMemoryAuditSink(): AuditSink & { records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return {
    records,
    write: (r) => void records.push(r),
    dropped: 0,
    close: () => Promise.resolve(),
  };
}
