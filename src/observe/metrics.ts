/**
 * Every metric privguard exports, declared once with fixed label sets (the
 * README's metric table is checked against METRIC_NAMES), and the HTTP
 * endpoints: /metrics (Prometheus text), /healthz (the process is up), /readyz
 * (a policy is loaded and the upstream accepts connections; 503 otherwise),
 * and, when given, the status page (/ as HTML, /status.json: src/status/).
 * Decisions in enforce and report mode are counted apart by the `mode` label.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// prom-client (~13 MB resident) is loaded only when metrics are configured.
import type { Registry } from 'prom-client';
import { PrivguardError } from '../errors.js';

export const METRIC_NAMES = [
  'privguard_stanzas_total',
  'privguard_decisions_total',
  'privguard_components_connected',
  'privguard_pending_iqs',
  'privguard_decision_seconds',
  'privguard_policy_reloads_total',
  'privguard_upstream_connect_failures_total',
  'privguard_audit_dropped_total',
] as const;

export interface Metrics {
  /** False for noMetrics(): callers may skip measuring (e.g. timing decisions). */
  readonly enabled: boolean;
  /** Prometheus text and its content type. */
  render(): Promise<{ contentType: string; text: string }>;
  stanza(direction: 'to_server' | 'to_component', kind: string): void;
  decision(mode: 'enforce' | 'report', action: string, verdict: string, reason: string): void;
  decisionTime(seconds: number): void;
  componentConnected(delta: 1 | -1): void;
  pending(table: 'privileged' | 'delegated', delta: number): void;
  reload(result: 'ok' | 'failed'): void;
  upstreamFailure(code: string): void;
  /** Where the count of dropped audit records comes from (read at each scrape). */
  watchAuditDrops(source: () => number): void;
}

export async function createMetrics(): Promise<Metrics> {
  const { Counter, Gauge, Histogram, Registry: PromRegistry, collectDefaultMetrics } = await import('prom-client');
  const registry: Registry = new PromRegistry();
  collectDefaultMetrics({ register: registry, prefix: 'privguard_process_' });
  const stanzas = new Counter({
    name: 'privguard_stanzas_total',
    help: 'Stanzas relayed, by direction and top-level kind',
    labelNames: ['direction', 'kind'] as const,
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'privguard_decisions_total',
    help: 'Privileged decisions, by mode (enforce|report), action (pass|rewrite|reject|drop), verdict (allowed|denied|would_deny) and reason',
    labelNames: ['mode', 'action', 'verdict', 'reason'] as const,
    registers: [registry],
  });
  const connected = new Gauge({ name: 'privguard_components_connected', help: 'Components online now', registers: [registry] });
  const pending = new Gauge({
    name: 'privguard_pending_iqs',
    help: 'IQs waiting for an answer, by table (privileged: for the server; delegated: for a component)',
    labelNames: ['table'] as const,
    registers: [registry],
  });
  const decisionTime = new Histogram({
    name: 'privguard_decision_seconds',
    help: 'Time to decide one judged stanza (fast-path stanzas need no decision)',
    buckets: [1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3],
    registers: [registry],
  });
  const reloads = new Counter({ name: 'privguard_policy_reloads_total', help: 'Policy reloads, by result', labelNames: ['result'] as const, registers: [registry] });
  const upstream = new Counter({
    name: 'privguard_upstream_connect_failures_total',
    help: 'Failed connections to the XMPP server, by error code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  let droppedSource: () => number = () => 0;
  new Counter({
    name: 'privguard_audit_dropped_total',
    help: 'Audit records dropped because the audit sink could not keep up or failed',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(droppedSource());
    },
  });
  pending.set({ table: 'privileged' }, 0);
  pending.set({ table: 'delegated' }, 0);
  return {
    enabled: true,
    render: async () => ({ contentType: registry.contentType, text: await registry.metrics() }),
    stanza: (direction, kind) => stanzas.inc({ direction, kind }),
    decision: (mode, action, verdict, reason) => decisions.inc({ mode, action, verdict, reason }),
    decisionTime: (s) => decisionTime.observe(s),
    componentConnected: (d) => connected.inc(d),
    pending: (table, d) => pending.inc({ table }, d),
    reload: (result) => reloads.inc({ result }),
    upstreamFailure: (code) => upstream.inc({ code }),
    watchAuditDrops: (source) => {
      droppedSource = source;
    },
  };
}

/** A Metrics that records nothing (no `metrics` in the policy, and tests). */
export function noMetrics(): Metrics {
  const nothing = () => {};
  return {
    enabled: false,
    render: () => Promise.resolve({ contentType: 'text/plain', text: '' }),
    stanza: nothing,
    decision: nothing,
    decisionTime: nothing,
    componentConnected: nothing,
    pending: nothing,
    reload: nothing,
    upstreamFailure: nothing,
    watchAuditDrops: nothing,
  };
}

export interface MetricsServer {
  address: AddressInfo;
  close(): Promise<void>;
}

/** The status page's two renderings (GET / and GET /status.json). */
export interface StatusPages {
  html(): string;
  json(): string;
}

export async function serveMetrics(opts: { host: string; port: number; metrics: Metrics; ready: () => Promise<boolean>; status?: StatusPages }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (opts.status && (path === '/' || path === '/status.json')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      const html = path === '/';
      const body = html ? opts.status.html() : opts.status.json();
      // Live data: never cached; the page is self-contained, so nothing else may load or frame it.
      res
        .writeHead(200, {
          'content-type': html ? 'text/html; charset=utf-8' : 'application/json',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          ...(html ? { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" } : {}),
        })
        .end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      void opts.ready().then((ok) => res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready: the XMPP server cannot be reached\n'));
      return;
    }
    if (path === '/metrics') {
      void opts.metrics.render().then(({ contentType, text }) => res.writeHead(200, { 'content-type': contentType }).end(text));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new PrivguardError('PG_LISTEN_FAILED', `cannot serve metrics on ${opts.host}:${opts.port}: ${e.message}`, { cause: e })));
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
