/**
 * Library entry: assembles a running sidecar from a loaded policy and hands
 * back a handle that owns its parts (listener, audit, metrics, file watch).
 * No decisions here. Reload = load, validate and compile the new policy fully,
 * then swap it in atomically; an invalid file leaves the old one in force.
 */
import { connect, type AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { loadPolicyFile, type LoadedPolicy } from './config/load.js';
import { watchPolicyFile, type PolicyWatch } from './config/watch.js';
import { PolicyError } from './errors.js';
import { createAuditSink, type AuditSink } from './observe/audit.js';
import { createDecisionBus, observeDecisions } from './observe/events.js';
import { createLogger, type Logger } from './observe/log.js';
import { createMetrics, noMetrics, serveMetrics, type Metrics, type MetricsServer } from './observe/metrics.js';
import { compilePolicy, type CompiledPolicy } from './policy/compile.js';
import { Listener, type ListenerOptions } from './proxy/listener.js';
import type { SessionStats } from './proxy/session.js';
import { statusView } from './proxy/status-view.js';
import type { LinkSnapshot } from './engine/snapshot.js';
import { collectStatus, type LiveLink } from './status/collect.js';
import { renderStatusHtml } from './status/html.js';
import type { Status } from './status/model.js';
import { StatusRecorder } from './status/recorder.js';

export { loadPolicyFile, loadPolicyText, type LoadedPolicy, type ComponentConfig } from './config/load.js';
export { PolicyError, PrivguardError, type ErrorCode, type PolicyIssue } from './errors.js';
export { describePolicy } from './config/describe.js';
export type { Logger } from './observe/log.js';
export type { AuditSink, AuditRecord } from './observe/audit.js';
export type { SessionStats } from './proxy/session.js';
export type { LinkSnapshot, DomainSnapshot, Rights } from './engine/snapshot.js';
export type { DecisionEvent } from './engine/decision.js';
export { Link, type LinkOptions } from './engine/link.js';
export { offlineLink, assumedAdvertisements, type OfflineLink } from './engine/offline.js';
export { DECISION_CHANNEL } from './observe/events.js';
export type { Status } from './status/model.js';

export interface SidecarOptions {
  policy: LoadedPolicy;
  log?: Logger;
  audit?: AuditSink;
  /** Default: Prometheus metrics when the policy has `metrics`, none otherwise. */
  metrics?: Metrics;
  /** Reload when the policy file's content changes (debounced; ConfigMap volumes included: config/watch.ts). */
  watchFile?: boolean;
  /** Test seam: upstream retry delays and timeouts. */
  upstream?: ListenerOptions['upstream'];
  /** Test seam: how long a component may take to authenticate. */
  handshakeTimeoutMs?: number;
}

export type ReloadResult = { ok: true; policy: LoadedPolicy } | { ok: false; error: PolicyError | Error };

export interface Sidecar {
  /** Where components connect. */
  readonly address: AddressInfo;
  /** Where /metrics, /healthz and /readyz are served, when they are. */
  readonly metricsAddress: AddressInfo | undefined;
  /** The policy in force. */
  readonly policy: LoadedPolicy;
  /** Names of the components online now. */
  online(): string[];
  /** A snapshot of every online session. */
  stats(): SessionStats[];
  /** Per online component: granted, allowed and effective rights per server domain, versions, pending tables. */
  snapshots(): LinkSnapshot[];
  /** What the status page shows (GET /status.json). */
  status(): Status;
  /** Load the policy file again (or take `next`); keeps the old policy if the new one is invalid. */
  reload(next?: LoadedPolicy): ReloadResult;
  /** Reopen the audit file (log rotation). */
  reopenAudit(): Promise<void>;
  /** Graceful: stop accepting, answer pending IQs, `system-shutdown` to components, close upstreams, flush audit. */
  close(): Promise<void>;
}

/** /readyz: can a TCP connection to the XMPP server's component port be made now? */
function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host, port });
    const finish = (ok: boolean) => {
      s.destroy();
      done(ok);
    };
    s.setTimeout(timeoutMs, () => finish(false));
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

function logWarnings(log: Logger, loaded: LoadedPolicy): void {
  for (const w of loaded.warnings) log.warn({ file: loaded.file, path: w.path, line: w.line, column: w.column }, `policy warning: ${w.message}`);
}

/** Settings that a reload cannot change on a running process. */
function restartOnly(before: LoadedPolicy, after: LoadedPolicy): string[] {
  const a = before.policy;
  const b = after.policy;
  const changed: string[] = [];
  if (a.listen.host !== b.listen.host || a.listen.port !== b.listen.port) changed.push('listen');
  if (JSON.stringify(a.metrics) !== JSON.stringify(b.metrics)) changed.push('metrics');
  if (a.audit.file !== b.audit.file) changed.push('audit.file');
  return changed;
}

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const log = opts.log ?? createLogger();
  let current: { loaded: LoadedPolicy; compiled: CompiledPolicy } = { loaded: opts.policy, compiled: compilePolicy(opts.policy) };
  const first = current.loaded.policy;
  const auditFile = first.audit.file;
  const metrics = opts.metrics ?? (first.metrics ? await createMetrics() : noMetrics());
  // Relative paths are relative to the policy file, as secret files are.
  const audit = opts.audit ?? createAuditSink({ file: auditFile === '-' ? '-' : resolve(dirname(current.loaded.file), auditFile) });
  metrics.watchAuditDrops(() => audit.dropped);
  // Every decision is one event: audited and counted by its subscribers.
  const decisions = createDecisionBus();
  observeDecisions(decisions, audit, metrics);
  // The status page is one more subscriber: counters per action, and the last denials.
  const recorder = new StatusRecorder();
  recorder.policyLoaded(current.loaded.file, current.loaded.revision);
  decisions.subscribe((e) => recorder.decision({ component: e.component, action: e.subject, verdict: e.verdict, reason: e.reason, domain: e.domain, user: e.user, namespace: e.namespace, rule: e.rule }));
  const listener = new Listener({
    policy: () => current.loaded,
    compiled: () => current.compiled,
    log,
    decisions: (e) => decisions.publish(e),
    metrics,
    upstream: opts.upstream,
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
    onPresence: (name, online) => (online ? recorder.online(name) : recorder.offline(name)),
  });
  const status = (): Status =>
    collectStatus({
      recorder,
      policy: current.loaded,
      compiled: current.compiled,
      links: new Map<string, LiveLink>(
        listener.sessions.flatMap((s) => {
          const config = current.loaded.components.get(s.name);
          return s.state === 'online' && config ? [[s.name, statusView(s, config.policy)] as const] : [];
        }),
      ),
    });
  const address = await listener.listen(first.listen.host, first.listen.port);
  let metricsServer: MetricsServer | undefined;
  if (first.metrics) {
    try {
      metricsServer = await serveMetrics({
        host: first.metrics.host,
        port: first.metrics.port,
        metrics,
        ready: () => reachable(current.loaded.policy.upstream.host, current.loaded.policy.upstream.port),
        status: { html: () => renderStatusHtml(status()), json: () => JSON.stringify(status(), null, 2) },
      });
    } catch (e) {
      await listener.close();
      throw e;
    }
  }
  const reload = (next?: LoadedPolicy): ReloadResult => {
    let loaded: LoadedPolicy;
    let compiled: CompiledPolicy;
    try {
      loaded = next ?? loadPolicyFile(current.loaded.file);
      compiled = compilePolicy(loaded);
    } catch (e) {
      metrics.reload('failed');
      const error = e instanceof Error ? e : new Error(String(e));
      const lines = error instanceof PolicyError ? error.issues.map((i) => `${i.path || '(root)'} (${i.line}:${i.column}): ${i.message}`) : [error.message];
      log.error({ file: current.loaded.file, errors: lines }, `policy reload failed, the previous policy stays in force:\n  ${lines.join('\n  ')}`);
      recorder.reloaded({ ok: false, errors: error instanceof PolicyError ? [...error.issues] : [{ path: '', line: 0, column: 0, message: error.message }] });
      return { ok: false, error };
    }
    const needRestart = restartOnly(current.loaded, loaded);
    if (needRestart.length > 0) log.warn({ keys: needRestart }, `policy reloaded, but ${needRestart.join(', ')} only change on restart`);
    current = { loaded, compiled };
    listener.applyPolicy(compiled);
    metrics.reload('ok');
    recorder.reloaded({ ok: true, file: loaded.file, revision: loaded.revision });
    logWarnings(log, loaded);
    log.info({ file: loaded.file, revision: loaded.revision, components: [...loaded.components.keys()] }, 'policy reloaded');
    return { ok: true, policy: loaded };
  };

  const watcher: PolicyWatch | undefined = opts.watchFile
    ? watchPolicyFile(current.loaded.file, () => reload(), {
        initial: current.loaded.revision,
        failed: (e) => log.warn({ file: current.loaded.file, error: e.message }, 'watching the policy file failed; SIGHUP still reloads'),
      })
    : undefined;

  // Logged last: once this line is out, every part is in place (the file watch included).
  logWarnings(log, current.loaded);
  log.info(
    { file: current.loaded.file, revision: current.loaded.revision, listen: `${address.address}:${address.port}`, upstream: `${first.upstream.host}:${first.upstream.port}`, metrics: metricsServer ? `${metricsServer.address.address}:${metricsServer.address.port}` : undefined },
    `privguard listening on ${address.address}:${address.port}`,
  );

  let closing: Promise<void> | undefined;
  return {
    address,
    get metricsAddress() {
      return metricsServer?.address;
    },
    get policy() {
      return current.loaded;
    },
    online: () => listener.sessions.map((s) => s.name),
    snapshots: () => listener.sessions.map((s) => s.link.snapshot()),
    stats: () => listener.sessions.map((s) => s.stats()),
    status,
    reload,
    reopenAudit: () => audit.reopen(),
    close() {
      closing ??= (async () => {
        watcher?.close();
        await listener.close('system-shutdown');
        await metricsServer?.close();
        await audit.close();
      })();
      return closing;
    },
  };
}
