/**
 * Library entry: assembles a running sidecar from a loaded policy. No
 * decisions here; it builds the parts and hands back a handle that owns them.
 */
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { loadPolicyFile, type LoadedPolicy } from './config/load.js';
import { createAuditSink, type AuditSink } from './observe/audit.js';
import { createLogger, type Logger } from './observe/log.js';
import { compilePolicy } from './policy/compile.js';
import { Listener, type ListenerOptions } from './proxy/listener.js';
import type { SessionStats } from './proxy/session.js';

export { loadPolicyFile, loadPolicyText, type LoadedPolicy, type ComponentConfig } from './config/load.js';
export { PolicyError, PrivguardError, StreamError, type ErrorCode, type PolicyIssue } from './errors.js';
export { describePolicy } from './config/describe.js';
export type { Logger } from './observe/log.js';
export type { AuditSink, AuditRecord } from './observe/audit.js';
export type { SessionStats } from './proxy/session.js';

export interface SidecarOptions {
  policy: LoadedPolicy;
  log?: Logger;
  audit?: AuditSink;
  /** Test seam: upstream retry delays and timeouts. */
  upstream?: ListenerOptions['upstream'];
  /** Test seam: how long a component may take to authenticate. */
  handshakeTimeoutMs?: number;
}

export interface Sidecar {
  /** Where components connect. */
  readonly address: AddressInfo;
  readonly policy: LoadedPolicy;
  /** Names of the components online now. */
  online(): string[];
  /** A snapshot of every online session. */
  stats(): SessionStats[];
  /** Reopen the audit file (log rotation). */
  reopenAudit(): Promise<void>;
  /** Graceful: stop accepting, `system-shutdown` to components, close upstreams, flush audit. */
  close(): Promise<void>;
}

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const policy = opts.policy;
  const log = opts.log ?? createLogger();
  const auditFile = policy.policy.audit.file;
  // Relative paths are relative to the policy file, as secret files are.
  const audit = opts.audit ?? createAuditSink({ file: auditFile === '-' ? '-' : resolve(dirname(policy.file), auditFile) });
  const compiled = compilePolicy(policy);
  const listener = new Listener({
    policy: () => policy,
    compiled: () => compiled,
    log,
    audit,
    upstream: opts.upstream,
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
  });
  const { host, port } = policy.policy.listen;
  const address = await listener.listen(host, port);
  log.info(
    { listen: `${address.address}:${address.port}`, upstream: `${policy.policy.upstream.host}:${policy.policy.upstream.port}` },
    `privguard listening on ${address.address}:${address.port}`,
  );
  let closing: Promise<void> | undefined;
  return {
    address,
    policy,
    online: () => listener.sessions.map((s) => s.component.name),
    stats: () => listener.sessions.map((s) => s.stats()),
    reopenAudit: () => audit.reopen(),
    close() {
      closing ??= (async () => {
        await listener.close('system-shutdown');
        await audit.close();
      })();
      return closing;
    },
  };
}

export async function startSidecarFromFile(file: string, log?: Logger): Promise<Sidecar> {
  return startSidecar({ policy: loadPolicyFile(file), ...(log ? { log } : {}) });
}
