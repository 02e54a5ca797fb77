/**
 * Audit records: one JSON line per decision privguard takes on a component's
 * behalf (DESIGN.md "Operations"). Records are flat, snake_case, without absent
 * keys, and never carry message bodies. Writing never blocks the stanza path:
 * a sink that cannot keep up drops records and counts them.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { PrivguardError } from '../errors.js';

export const AUDIT_VERDICTS = ['allowed', 'denied', 'would_deny', 'filtered', 'would_filter'] as const;
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
  /** The payload namespace, for privileged and delegated IQs. */
  namespace?: string;
  /** For a delegation reply that did not match its request: which field. */
  field?: string;
  stanza_id?: string;
  /** For a filtered stanza: how many items (roster items, presences) the component did not get. */
  hidden?: number;
}

export interface AuditSink {
  write(record: AuditRecord): void;
  /** Records dropped because the sink was backed up. */
  readonly dropped: number;
  /** Close and open the file again (after log rotation moved it); no-op for stdout. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** Optional fields, in the order a line carries them (after component, domain, user, action, verdict, reason). */
const TAIL = ['rule', 'namespace', 'field', 'stanza_id'] as const;
let lastMs = 0;
let lastIso = '';

/** A JSON string literal; most values need no escaping, and a loop finds that out faster than JSON.stringify escapes. */
function q(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff) || c === 0x2028 || c === 0x2029) return JSON.stringify(v);
  }
  return `"${v}"`;
}

/**
 * The keys from component to reason of the last line, and what they were
 * written from: a busy component's decisions repeat them (the same strings,
 * so the comparison is cheap) and only the tail differs.
 */
let head = '';
let headOf: Pick<AuditRecord, 'component' | 'domain' | 'user' | 'action' | 'verdict' | 'reason'> | undefined;

/** One JSON line, keys always in the same order (DESIGN.md "Operations"). */
export function auditLine(r: AuditRecord): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  const h = headOf;
  if (h === undefined || r.component !== h.component || r.domain !== h.domain || r.user !== h.user || r.action !== h.action || r.verdict !== h.verdict || r.reason !== h.reason) {
    let m = `,"component":${q(r.component)}`;
    if (r.domain !== undefined) m += `,"domain":${q(r.domain)}`;
    if (r.user !== undefined) m += `,"user":${q(r.user)}`;
    m += `,"action":${q(r.action)},"verdict":"${r.verdict}","reason":${q(r.reason)}`;
    head = m;
    headOf = { component: r.component, domain: r.domain, user: r.user, action: r.action, verdict: r.verdict, reason: r.reason };
  }
  let s = `{"type":"decision","time":"${lastIso}"${head}`;
  for (const k of TAIL) {
    const v = r[k];
    if (v !== undefined) s += `,"${k}":${q(v)}`;
  }
  if (r.hidden !== undefined) s += `,"hidden":${r.hidden}`;
  return `${s}}\n`;
}

/** Above this many buffered bytes, records are dropped (and counted). */
const MAX_BUFFERED = 8 * 1024 * 1024;

export function createAuditSink({ file }: { file: string }): AuditSink {
  let dropped = 0;
  // Opened synchronously: a path that cannot be written is an error at start
  // (or at reopen), not an event that fires later.
  const open = (): NodeJS.WritableStream & { writableLength: number } => {
    if (file === '-') return process.stdout;
    let fd: number;
    try {
      fd = openSync(file, 'a');
    } catch (e) {
      throw new PrivguardError('PG_AUDIT_UNAVAILABLE', `cannot open the audit file ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const stream = createWriteStream(file, { fd });
    // A failing disk must not take the sidecar down: count what is lost.
    stream.on('error', () => {
      dropped++;
    });
    return stream;
  };
  const end = (s: NodeJS.WritableStream): Promise<void> =>
    file === '-' ? Promise.resolve() : new Promise((resolve) => (s as WriteStream).end(resolve));
  let out = open();
  // Records of one tick leave in one write (a busy component makes many).
  let batch = '';
  const flush = (): void => {
    const lines = batch;
    batch = '';
    if (lines.length > 0 && !('destroyed' in out && out.destroyed === true)) out.write(lines);
  };
  return {
    write(record) {
      if (out.writableLength + batch.length > MAX_BUFFERED || ('destroyed' in out && out.destroyed === true)) {
        dropped++;
        return;
      }
      if (batch.length === 0) process.nextTick(flush);
      batch += auditLine(record);
    },
    get dropped() {
      return dropped;
    },
    async reopen() {
      if (file === '-') return;
      flush();
      const old = out;
      // New records go to the new file at once; the old stream flushes what it holds.
      out = open();
      await end(old);
    },
    close() {
      flush();
      return end(out);
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
    reopen: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
