/**
 * `npm run profile [-- --privileged]`: 300,000 plain (or privileged) messages
 * through an in-process privguard to a null upstream, under node --cpu-prof
 * (the profile lands in bench/profiles/).
 * For finding the hot path; the figures that count come from npm run bench.
 */
import { loadPolicyText } from '../src/config/load.js';
import { startSidecar } from '../src/index.js';
import { createMemoryAuditSink } from '../src/observe/audit.js';
import { silentLogger } from '../src/observe/log.js';
import { FakeServer } from '../test/support/fake-server.js';
import { freePort } from '../test/support/ports.js';
import { RawComponent } from '../test/support/component.js';
import { waitFor } from '../test/support/wait.js';
const privileged = process.argv.includes('--privileged');
const sink = await FakeServer.start({
  afterHandshake: "<message from='example.org' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/></privilege></message>",
});
const port = await freePort();
const sc = await startSidecar({ policy: loadPolicyText(`listen: { port: ${port} }\nupstream: { port: ${sink.port} }\ncomponents:\n  pubsub.example.test: { secret: s, upstream_secret: s3cr3t, privileges: { example.org: { message: outgoing } } }\n`, 'p.yaml'), log: silentLogger, audit: createMemoryAuditSink() });
const comp = await RawComponent.open(port, 'pubsub.example.test', 's');
const conn = await waitFor('c', () => sink.connections[0]);
let bytes = 0; conn.socket.removeAllListeners('data'); conn.socket.on('data', (d: Buffer | string) => void (bytes += d.length));
const msg = (i: number) =>
  privileged
    ? `<message from='pubsub.example.test' to='example.org' id='p${i}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org' to='bob@example.org' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message></forwarded></privilege></message>`
    : `<message from='bot@pubsub.example.test' to='u@example.org' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message>`;
const N = 300000; let total = 0; const t0 = performance.now();
for (let i = 0; i < N; i += 200) { const piece = Array.from({ length: 200 }, (_, k) => msg(i + k)).join(''); total += piece.length; if (!comp.socket.write(piece)) await new Promise((r) => comp.socket.once('drain', r)); }
await waitFor('all', () => (bytes >= total * 0.98 ? true : undefined), 120000, 5);
const s = (performance.now() - t0) / 1000; console.log(`${N} msgs in ${s.toFixed(2)} s = ${Math.round(N / s)}/s, ${(total / s / 1e6).toFixed(1)} MB/s`);
await sc.close(); await sink.stop(); comp.socket.destroy(); process.exit(0);
