import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeServer } from '../test/e2e/harness/fake-server.js';
import { freePort } from '../test/e2e/harness/ports.js';
import { RawComponent } from '../test/e2e/harness/stack.js';
import { waitFor } from '../test/e2e/harness/wait.js';
const sink = await FakeServer.start({});
const port = await freePort(); const rport = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'pg-'));
writeFileSync(join(dir, 'p.yaml'), `listen: { host: 127.0.0.1, port: ${port} }\nupstream: { host: 127.0.0.1, port: ${sink.port} }\naudit: { file: /dev/null }\ncomponents:\n  pubsub.example.test:\n    secret: s\n    upstream_secret: s3cr3t\n`);
const child = spawn('dist/src/cli.js', ['run', '-c', join(dir, 'p.yaml')], { stdio: 'inherit' });
const relay = spawn(process.execPath, ['-e', `const net=require('net');net.createServer(c=>{c.setNoDelay(true);const u=net.connect(${sink.port},'127.0.0.1');u.setNoDelay(true);c.pipe(u);u.pipe(c);}).listen(${rport},'127.0.0.1')`]);
async function measure(p: number, secret: string, n: number) {
  const before = sink.connections.length;
  const comp = await waitFor('up', async () => { try { return await RawComponent.open(p, 'pubsub.example.test', secret); } catch { return undefined; } }, 10000, 50);
  const conn = await waitFor('c', () => sink.connections[before]);
  conn.socket.removeAllListeners('data');
  // echo server: answer each iq immediately (raw)
  conn.socket.on('data', (d: Buffer) => { const m = /id='(ping\d+)'|id="(ping\d+)"/.exec(d.toString()); if (m) conn.socket.write(`<iq type='result' id='${m[1] ?? m[2]}' from='u@example.org/r' to='pubsub.example.test'/>`); });
  const samples: number[] = [];
  for (let i = 0; i < n + 500; i++) {
    const id = `ping${i}`; const t0 = performance.now();
    comp.write(`<iq type='get' id='${id}' from='pubsub.example.test' to='u@example.org/r'><ping xmlns='urn:xmpp:ping'/></iq>`);
    while (!comp.received.includes(`'${id}'`) && !comp.received.includes(`"${id}"`)) await new Promise((r) => comp.socket.once('data', r));
    comp.received = '';
    if (i >= 500) samples.push((performance.now() - t0) * 1000);
  }
  comp.socket.destroy(); samples.sort((a, b) => a - b);
  return `p50 ${samples[n / 2]!.toFixed(0)} p99 ${samples[Math.floor(n * 0.99)]!.toFixed(0)}`;
}
for (let r = 0; r < 3; r++) console.log('raw', await measure(rport, 's3cr3t', 3000), ' pg', await measure(port, 's', 3000));
child.kill(); relay.kill(); await sink.stop(); process.exit(0);
