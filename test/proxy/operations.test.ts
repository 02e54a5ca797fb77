import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../src/config/load.js';
import { startSidecar, type Sidecar } from '../../src/index.js';
import { createMemoryAuditSink } from '../../src/observe/audit.js';
import { METRIC_NAMES } from '../../src/observe/metrics.js';
import { FakeServer } from '../support/fake-server.js';
import { freePort, freePorts } from '../support/ports.js';
import { COMPONENT_SECRET, RawComponent, recordingLogger } from '../support/component.js';
import { waitFor } from '../support/wait.js';

let sidecar: Sidecar | undefined;
let fake: FakeServer | undefined;
afterEach(async () => {
  await sidecar?.close();
  await fake?.stop();
  sidecar = undefined;
  fake = undefined;
});

const policy = (listen: number, upstream: number, extra = '') => `listen: { port: ${listen} }
upstream: { port: ${upstream} }
${extra}
components:
  a.example.org: { secret: ${COMPONENT_SECRET}, upstream_secret: s3cr3t }
`;

describe('reload on a change of the policy file', () => {
  it('keeps the old policy on an invalid file (logging line:column), and applies a valid one', async () => {
    fake = await FakeServer.start();
    const dir = mkdtempSync(join(tmpdir(), 'pg-reload-'));
    const file = join(dir, 'policy.yaml');
    const listen = await freePort();
    writeFileSync(file, policy(listen, fake.port));
    const log = recordingLogger();
    sidecar = await startSidecar({ policy: loadPolicyFile(file), log, audit: createMemoryAuditSink(), watchFile: true });

    writeFileSync(file, policy(listen, fake.port, 'mode: strict'));
    const failed = await waitFor('reload failure logged', () => log.lines.find((l) => l.msg.startsWith('policy reload failed')), 5000);
    expect(failed.msg).toContain('mode (3:7): "strict" is not one of enforce, report');
    expect(sidecar.policy.policy.mode).toBe('enforce');
    const before = sidecar.status().policy;
    expect(before.last_reload).toMatchObject({ ok: false, errors: [{ path: 'mode', line: 3, column: 7 }] });

    // written elsewhere and renamed into place, as editors and config managers do
    writeFileSync(join(dir, 'next.yaml'), policy(listen, fake.port, 'mode: report'));
    renameSync(join(dir, 'next.yaml'), file);
    await waitFor('reloaded', () => (sidecar!.policy.policy.mode === 'report' ? true : undefined), 5000);
    expect(log.lines.some((l) => l.msg === 'policy reloaded')).toBe(true);
    const after = sidecar.status().policy;
    expect(after).toMatchObject({ mode: 'report', last_reload: { ok: true, errors: [] } });
    expect(after.revision).not.toBe(before.revision);
  });
});

describe('metrics, /healthz, /readyz', () => {
  it('serves Prometheus metrics declared in one place, and readiness that follows the XMPP server', async () => {
    fake = await FakeServer.start();
    const [listen, metricsPort] = await freePorts(2);
    const dir = mkdtempSync(join(tmpdir(), 'pg-metrics-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, policy(listen!, fake.port, `metrics: { host: 127.0.0.1, port: ${metricsPort} }`));
    sidecar = await startSidecar({ policy: loadPolicyFile(file), log: recordingLogger(), audit: createMemoryAuditSink() });
    const base = `http://127.0.0.1:${metricsPort}`;
    const raw = await RawComponent.open(listen!, 'a.example.org');
    raw.write(`<message from='a.example.org' to='x@example.org' id='m'/><message from='evil@example.org' to='x@example.org' id='spoof'/>`);
    await raw.closed;

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const name of METRIC_NAMES) expect(text, name).toContain(`# TYPE ${name} `);
    expect(text).toMatch(/privguard_stanzas_total\{direction="to_server",kind="message"\} 1/);
    expect(text).toMatch(/privguard_decisions_total\{mode="enforce",action="reject",verdict="denied",reason="invalid_from"\} 1/);
    expect(text).toMatch(/privguard_components_connected 0/);

    // The status page on the same listener: the component came and went, its spoofed stanza is the last denial.
    const status = (await (await fetch(`${base}/status.json`)).json()) as ReturnType<Sidecar['status']>;
    expect(status.components[0]).toMatchObject({ name: 'a.example.org', connected: false, reconnects: 0 });
    expect(status.components[0]!.since).not.toBeNull();
    expect(status.denials[0]).toMatchObject({ component: 'a.example.org', verdict: 'denied', action: 'stanza.message', reason: 'invalid_from' });
    expect(await (await fetch(`${base}/`)).text()).toContain('invalid_from');

    await fake.stop();
    fake = undefined;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it('documents every metric in the README', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync('README.md', 'utf8');
    for (const name of METRIC_NAMES) expect(readme, name).toContain(`\`${name}\``);
  });
});
