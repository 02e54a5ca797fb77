/**
 * `npm run profile [-- --privileged]`: 300,000 plain (or privileged) messages
 * through privguard to a null upstream, with privguard under node --cpu-prof
 * (the profile lands in bench/profiles/ when it exits).
 * privguard runs as the bench runs it: the built executable in its own process.
 * Not in-process under tsx: tsx's module transform turns every call of an
 * imported function into a getter call, which made the parser look about five
 * times dearer than it is and put most of a profile in the wrong place.
 * For finding the hot path; the figures that count come from npm run bench.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeServer } from '../test/support/fake-server.js';
import { freePort } from '../test/support/ports.js';
import { RawComponent } from '../test/support/component.js';
import { waitFor } from '../test/support/wait.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const privileged = process.argv.includes('--privileged');
const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) throw new Error('build failed');
const sink = await FakeServer.start({
  afterHandshake: "<message from='example.org' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/></privilege></message>",
});
const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'privguard-profile-'));
const policy = join(dir, 'policy.yaml');
writeFileSync(
  policy,
  `listen: { host: 127.0.0.1, port: ${port} }\nupstream: { host: 127.0.0.1, port: ${sink.port} }\naudit: { file: /dev/null }\ncomponents:\n  pubsub.example.test: { secret: s, upstream_secret: s3cr3t, privileges: { example.org: { message: outgoing } } }\n`,
);
const profiles = join(root, 'bench', 'profiles');
mkdirSync(profiles, { recursive: true });
// The executable's own node flags (--max-semi-space-size) plus the profiler's.
const child = spawn(process.execPath, ['--max-semi-space-size=2', '--cpu-prof', `--cpu-prof-dir=${profiles}`, join(root, 'dist/src/cli.js'), 'run', '-c', policy], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, PRIVGUARD_LOG_LEVEL: 'warn' },
});
const exited = new Promise<void>((r) => child.once('exit', () => r()));
await waitFor(
  'privguard listening',
  () =>
    new Promise<true | undefined>((r) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(undefined));
    }),
  15_000,
);
const comp = await RawComponent.open(port, 'pubsub.example.test', 's');
const conn = await waitFor('upstream connection', () => sink.connections[0]);
let bytes = 0;
conn.socket.removeAllListeners('data');
conn.socket.on('data', (d: Buffer | string) => void (bytes += d.length));
if (privileged) await new Promise((r) => setTimeout(r, 200)); // the advertisement reaches privguard
const msg = (i: number) =>
  privileged
    ? `<message from='pubsub.example.test' to='example.org' id='p${i}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org' to='bob@example.org' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message></forwarded></privilege></message>`
    : `<message from='bot@pubsub.example.test' to='u@example.org' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message>`;
const N = 300_000;
let total = 0;
const t0 = performance.now();
for (let i = 0; i < N; i += 200) {
  const piece = Array.from({ length: 200 }, (_, k) => msg(i + k)).join('');
  total += piece.length;
  if (!comp.socket.write(piece)) await new Promise((r) => comp.socket.once('drain', r));
}
await waitFor('all', () => (bytes >= total * 0.98 ? true : undefined), 120_000, 5);
const s = (performance.now() - t0) / 1000;
process.stdout.write(`${N} msgs in ${s.toFixed(2)} s = ${Math.round(N / s)}/s, ${(total / s / 1e6).toFixed(1)} MB/s\n`);
comp.socket.destroy();
child.kill('SIGTERM');
await exited;
await sink.stop();
process.stdout.write(`profile written to ${profiles}\n`);
process.exit(0);
