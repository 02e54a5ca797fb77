/** privguard in front of a FakeServer, for proxy behaviour tests. */
import { loadPolicyText } from '../../src/config/load.js';
import { startSidecar, type Sidecar } from '../../src/index.js';
import { createMemoryAuditSink, type AuditRecord } from '../../src/observe/audit.js';
import { FakeServer, type FakeServerOptions } from './fake-server.js';
import { freePort } from './ports.js';
import { COMPONENT_SECRET, RawComponent, recordingLogger } from './component.js';
import { waitFor } from './wait.js';

export interface FakeStack {
  fake: FakeServer;
  sidecar: Sidecar;
  port: number;
  log: ReturnType<typeof recordingLogger>;
  audit: AuditRecord[];
  stop(): Promise<void>;
}

export async function startFakeStack(
  opts: {
    fake?: FakeServerOptions;
    upstreamPort?: number;
    maxStanzaBytes?: number;
    upstreamSecret?: string;
    timeoutMs?: number;
    handshakeTimeoutMs?: number;
    /** Extra YAML under a.example.org (e.g. privileges). */
    componentA?: string;
    /** Extra top-level YAML (e.g. mode). */
    top?: string;
    limits?: string;
  } = {},
): Promise<FakeStack> {
  const fake = await FakeServer.start(opts.fake);
  const port = await freePort();
  const policy = loadPolicyText(
    `listen: { host: 127.0.0.1, port: ${port} }
upstream: { host: 127.0.0.1, port: ${opts.upstreamPort ?? fake.port} }
limits: { max_stanza_bytes: ${opts.maxStanzaBytes ?? 16384}${opts.limits ? `, ${opts.limits}` : ''} }
${opts.top ?? ''}
components:
  a.example.org:
    secret: ${COMPONENT_SECRET}
    upstream_secret: ${opts.upstreamSecret ?? 's3cr3t'}
${(opts.componentA ?? '').split('\n').map((l) => `    ${l}`).join('\n')}
  b.example.org: { secret: ${COMPONENT_SECRET}, upstream_secret: ${opts.upstreamSecret ?? 's3cr3t'} }
`,
    'fake-policy.yaml',
  );
  const log = recordingLogger();
  const audit = createMemoryAuditSink();
  const sidecar = await startSidecar({
    policy,
    log,
    audit,
    upstream: { retryDelaysMs: [20, 40], timeoutMs: opts.timeoutMs ?? 2000 },
    ...(opts.handshakeTimeoutMs ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
  });
  return {
    fake,
    sidecar,
    port,
    log,
    audit: audit.records,
    async stop() {
      await sidecar.close();
      await fake.stop();
    },
  };
}

/**
 * Connects a.example.org to a running stack and waits until it holds the
 * server's advertisement (rights are learned from it, so act only after).
 */
export async function openAdvertised(stack: FakeStack): Promise<{ raw: RawComponent; conn: FakeStack['fake']['connections'][number] }> {
  const raw = await RawComponent.open(stack.port, 'a.example.org');
  await raw.waitFor((s) => s.name === 'message' && s.attrs.from === 'example.org', 'advertisement');
  const conn = await waitFor('upstream', () => stack.fake.connections[0]);
  return { raw, conn };
}
