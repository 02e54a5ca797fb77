/**
 * `npm run soak -- --minutes N [--components C] [--rate R]`: C components
 * (default 20) send R (default 20) stanzas/s each through an in-process
 * privguard to a scripted upstream for N minutes. Every minute it prints RSS,
 * heap and event-loop delay; at the end it compares the last minutes' RSS
 * with the first's. Flat memory is the pass criterion (exit 1 if RSS grew by
 * more than 20% after warm-up). Loopback only; bounded by N minutes.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadPolicyText } from '../src/config/load.js';
import { startSidecar } from '../src/index.js';
import { createMemoryAuditSink } from '../src/observe/audit.js';
import { silentLogger } from '../src/observe/log.js';
import { FakeServer } from '../test/support/fake-server.js';
import { freePort } from '../test/support/ports.js';
import { RawComponent } from '../test/support/component.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const minutes = arg('minutes', 1);
const components = arg('components', 20);
const rate = arg('rate', 20);

const fake = await FakeServer.start();
// The scripted upstream keeps no stanzas: a soak must not measure its own test harness.
const listen = await freePort();
const names = Array.from({ length: components }, (_, i) => `c${i}.example.org`);
const policy = loadPolicyText(
  `listen: { port: ${listen} }\nupstream: { port: ${fake.port} }\ncomponents:\n${names
    .map((n) => `  ${n}: { secret: s, upstream_secret: s3cr3t, privileges: { example.org: { roster: get, message: outgoing } } }`)
    .join('\n')}\n`,
  'soak.yaml',
);
const audit = createMemoryAuditSink();
const sidecar = await startSidecar({ policy, log: silentLogger, audit });
const raws = await Promise.all(names.map((n) => RawComponent.open(listen, n, 's')));
for (const c of fake.connections) {
  c.socket.removeAllListeners('data');
  c.socket.on('data', () => {});
}
for (const r of raws) {
  r.socket.removeAllListeners('data');
  r.socket.on('data', () => {});
}
audit.records.length = 0;

// Sampled every 1 ms; the figures include that 1 ms sampling interval.
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let sent = 0;
const body = 'x'.repeat(200);
const tick = setInterval(() => {
  for (let i = 0; i < raws.length; i++) {
    const r = raws[i]!;
    const n = names[i]!;
    for (let k = 0; k < rate / 10; k++) {
      sent++;
      r.write(
        sent % 2 === 0
          ? `<message from='bot@${n}' to='u@example.org' id='s${sent}'><body>${body}</body></message>`
          : `<message from='${n}' to='example.org' id='p${sent}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org' to='bob@example.org'><body>${body}</body></message></forwarded></privilege></message>`,
      );
    }
  }
  audit.records.length = 0;
}, 100);

const rows: { minute: number; rssMb: number; heapMb: number; p99Ms: number; maxMs: number; sent: number }[] = [];
process.stdout.write(`soak: ${components} components × ${rate} stanzas/s for ${minutes} min through privguard (in process) to a scripted server\n`);
process.stdout.write('minute  rss MB  heap MB  loop p99 ms  loop max ms  stanzas sent\n');
for (let m = 1; m <= minutes; m++) {
  await new Promise((r) => setTimeout(r, 60_000));
  const mem = process.memoryUsage();
  const row = { minute: m, rssMb: mem.rss / 1e6, heapMb: mem.heapUsed / 1e6, p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6, sent };
  rows.push(row);
  delay.reset();
  process.stdout.write(`${String(m).padStart(6)}  ${row.rssMb.toFixed(1).padStart(6)}  ${row.heapMb.toFixed(1).padStart(7)}  ${row.p99Ms.toFixed(2).padStart(11)}  ${row.maxMs.toFixed(2).padStart(11)}  ${String(sent).padStart(12)}\n`);
}
clearInterval(tick);
await sidecar.close();
await fake.stop();
for (const r of raws) r.socket.destroy();
// Warm-up: the first minute (or the first third) is not judged.
const warm = rows[Math.min(rows.length - 1, Math.max(1, Math.floor(rows.length / 3)))]!;
const last = rows.at(-1)!;
const growth = (last.rssMb - warm.rssMb) / warm.rssMb;
process.stdout.write(`rss after warm-up ${warm.rssMb.toFixed(1)} MB → at the end ${last.rssMb.toFixed(1)} MB (${(growth * 100).toFixed(1)}%)\n`);
process.exit(rows.length >= 2 && growth > 0.2 ? 1 : 0);
