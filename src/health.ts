/**
 * `privguard health`: the container health probe (the image has no curl).
 * With `metrics` in the policy it asks the running process's /healthz; without,
 * it checks that the listen port accepts a TCP connection. Only the policy's
 * `listen` and `metrics` keys are read: a probe must not fail because a secret
 * the running process already holds cannot be read again.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { parse } from 'yaml';
import { PolicySchema } from './config/schema.js';

export type HealthTarget = { kind: 'http'; url: string } | { kind: 'tcp'; host: string; port: number };
export interface HealthResult {
  ok: boolean;
  detail: string;
}

/** A wildcard listen address is probed on loopback. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Where to probe, from the policy's text; an error message if those keys are invalid. */
export function healthTarget(text: string): HealthTarget | { error: string } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return { error: `the policy is not YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
  const root = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  if (root.metrics !== undefined && root.metrics !== null) {
    const m = PolicySchema.shape.metrics.safeParse(root.metrics);
    if (!m.success || !m.data) return { error: 'metrics: expected { host, port }' };
    return { kind: 'http', url: `http://${urlHost(reachableHost(m.data.host))}:${m.data.port}/healthz` };
  }
  const l = PolicySchema.shape.listen.safeParse(root.listen);
  if (!l.success) return { error: 'listen: expected { host, port }' };
  return { kind: 'tcp', host: reachableHost(l.data.host), port: l.data.port };
}

export function probe(target: HealthTarget, timeoutMs: number): Promise<HealthResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: HealthResult) => {
      if (!settled) resolve(r);
      settled = true;
    };
    if (target.kind === 'tcp') {
      const where = `${target.host}:${target.port}`;
      const s = connect({ host: target.host, port: target.port });
      const finish = (r: HealthResult) => {
        s.destroy();
        done(r);
      };
      s.setTimeout(timeoutMs, () => finish({ ok: false, detail: `${where}: no connection within ${timeoutMs} ms` }));
      s.once('connect', () => finish({ ok: true, detail: `${where} accepts connections` }));
      s.once('error', (e) => finish({ ok: false, detail: `${where}: ${e.message}` }));
      return;
    }
    const req = request(target.url, { timeout: timeoutMs }, (res) => {
      res.resume();
      const ok = res.statusCode === 200;
      done({ ok, detail: `${target.url}: HTTP ${res.statusCode ?? '?'}` });
    });
    req.once('timeout', () => {
      req.destroy();
      done({ ok: false, detail: `${target.url}: no answer within ${timeoutMs} ms` });
    });
    req.once('error', (e) => done({ ok: false, detail: `${target.url}: ${e.message}` }));
    req.end();
  });
}
