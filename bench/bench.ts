/**
 * `npm run bench`: privguard's cost, side by side, in one run (not a test).
 * Prints a table and writes bench/results.json. Loopback only, bounded loops.
 *  - throughput of a component flooding plain / privileged messages to a user,
 *    measured at the user: straight to Prosody vs through privguard;
 *  - IQ round trip component → user → component: direct, raw TCP relay and
 *    privguard, one ping per path in turn;
 *  - privguard alone (null upstream) vs a raw TCP relay, in bytes/s, and
 *    privguard's CPU per stanza (its own process, from /proc);
 *  - decision cost with 10, 1,000 and 10,000 user patterns and namespaces;
 *  - RSS with 200 components connected, idle and under load;
 *  - the longest event-loop block for a stanza with a 256 KB text node;
 *  - the JavaScript work per stanza alone, without I/O (bench/pipeline.ts),
 *    beside Prosody's CPU per stanza in the flood: the CPU ratios cannot go
 *    below their quotient.
 * Prosody runs without MAM (an archive slows it to ~51 msgs/s). Each
 * comparison has a warm-up pass, then runs in turns five times; medians count.
 * `npm run bench -- --only alone,rss` runs some parts (prosody, alone, rss,
 * decision, pipeline) and writes no results.json. `--baseline REV` builds git revision
 * REV in a temporary directory and measures it in the same turns (rows
 * `baseline_*`). cpu_ratio_vs_server_* is privguard's CPU divided by Prosody's
 * in the same flood, both from /proc: a figure that holds on a slower or
 * busier machine, where absolute microseconds do not.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/component';
import { loadPolicyText } from '../src/config/load.js';
import { compilePolicy } from '../src/policy/compile.js';
import { effectiveGrant, assumedAdvertisement } from '../src/policy/grants.js';
import { decideOutbound } from '../src/policy/outbound.js';
import { StreamParser } from '../src/protocol/parser.js';
import { FakeServer } from '../test/support/fake-server.js';
import { freePort, freePorts } from '../test/support/ports.js';
import { startProsody, type ProsodyInstance } from '../test/e2e/harness/prosody.js';
import { connectUser, RawComponent, type Stack } from '../test/e2e/harness/stack.js';
import { stanza } from '../test/unit/policy/helpers.js';
import { waitFor } from '../test/support/wait.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (s: string) => process.stdout.write(`${s}\n`);
const CLK_TCK = 100;

/**
 * CPU seconds a process has used, from /proc: the nanosecond run time of each
 * of its threads (schedstat; node's GC helper threads count too). /proc/PID/stat
 * counts in 10 ms ticks, which is a quarter of privguard's whole CPU in a
 * 20,000-message plain flood; it is the fallback where schedstat is missing.
 */
function cpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns) && ns > 0) return ns / 1e9;
  } catch {
    // a thread that ended between readdir and read, or no schedstat: ticks below
  }
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The executable under test; `--baseline REV` adds a build of REV, measured in the same turns. */
const CLI = join(root, 'dist/src/cli.js');
let baselineCli: string | undefined;
let baselineRev = '';

/** Build git revision `rev` in a temporary directory (sharing node_modules); returns its executable. */
function buildBaseline(rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'privguard-baseline-'));
  const sh = (cmd: string, cwd: string) => {
    const r = spawnSync('sh', ['-c', cmd], { cwd, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`baseline build failed: ${cmd}`);
  };
  sh(`git archive --format=tar ${JSON.stringify(rev)} | tar -x -C ${JSON.stringify(dir)}`, root);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  sh(`${JSON.stringify(join(root, 'node_modules/.bin/tsc'))} -p tsconfig.build.json && chmod 755 dist/src/cli.js`, dir);
  return join(dir, 'dist/src/cli.js');
}

async function startPrivguard(policyText: string, cli = CLI): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'privguard-bench-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, policyText);
  // Started as users start it: the executable (its first line gives node its flags).
  const child = spawn(cli, ['run', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PRIVGUARD_LOG_LEVEL: 'warn' } });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const port = Number(/listen: \{ host: 127\.0\.0\.1, port: (\d+)/.exec(policyText)![1]);
  await waitFor('privguard listening', () => new Promise<true | undefined>((r) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(undefined));
  }), 15_000);
  return {
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        if (err.includes('error')) process.stderr.write(err);
      }),
  };
}

/** A raw TCP relay in its own process (the floor of any proxy hop). */
async function startRawRelay(listen: number, upstream: number): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const code = `const net=require('net');net.createServer(c=>{c.setNoDelay(true);const u=net.connect(${upstream},'127.0.0.1');u.setNoDelay(true);c.pipe(u);u.pipe(c);c.on('error',()=>u.destroy());u.on('error',()=>c.destroy());}).listen(${listen},'127.0.0.1',()=>process.stdout.write('ready\\n'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => child.stdout.once('data', () => r()));
  return { child, stop: () => new Promise((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))) };
}

const policyFor = (listen: number, upstream: number, components = ['pubsub.example.test']) =>
  `listen: { host: 127.0.0.1, port: ${listen} }\nupstream: { host: 127.0.0.1, port: ${upstream} }\naudit: { file: /dev/null }\nlimits: { max_stanza_bytes: 1048576 }\ncomponents:\n${components
    .map((c) => `  ${c}:\n    secret: s\n    upstream_secret: s3cr3t\n    privileges:\n      example.test: { message: outgoing, roster: get }\n      example.org: { message: outgoing }`)
    .join('\n')}\n`;

/** Write `data` in pieces as fast as the socket takes it. */
/** Runs of each comparison, taken in turns; the median counts. */
const REPS = 5;
interface Rtt {
  p50: number;
  p99: number;
}
interface Alone {
  mbps: number;
  cpuUsPerStanza?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function flood(sock: Socket, pieces: string[]): Promise<void> {
  for (const p of pieces) if (!sock.write(p)) await new Promise((r) => sock.once('drain', r));
}

const plainMsg = (i: number, to: string) => `<message from='bot@pubsub.example.test' to='${to}' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message>`;
const privMsg = (i: number, to: string, domain = 'example.test') =>
  `<message from='pubsub.example.test' to='${domain}' id='p${i}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@${domain}' to='${to}' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message></forwarded></privilege></message>`;

interface Flood {
  rate: number;
  /** Prosody's CPU per stanza in this flood (µs, from /proc). */
  serverUs: number;
  /** privguard's CPU / Prosody's CPU in the same flood (both from /proc), when privguard's pid is given. */
  cpuRatio?: number;
  /** privguard's CPU per stanza in this flood (µs), when its pid is given. */
  pgUs?: number;
}

async function throughput(prosody: ProsodyInstance, port: number, secret: string, kind: 'plain' | 'privileged', n: number, pgPid?: number): Promise<Flood> {
  const stack = { prosody, sidecar: undefined, policy: undefined, port, log: { lines: [] }, audit: [], entities: [], sockets: [] } as unknown as Stack;
  const bob = await connectUser(stack, 'bob', `b${Date.now()}`);
  await bob.entity.send(xml('presence'));
  await waitFor('bob available', () => bob.stanzas.find((s) => s.is('presence') && String(s.attrs.from).startsWith('bob@')));
  let got = 0;
  let last = 0;
  bob.entity.on('stanza', (el) => {
    if (el.is('message') && String(el.attrs.id).startsWith('f')) {
      got++;
      last = performance.now();
    }
  });
  const comp = await RawComponent.open(port, 'pubsub.example.test', secret);
  if (kind === 'privileged') await comp.waitFor((s) => s.name === 'message' && s.attrs.from === 'example.test', 'advertisement');
  const to = 'bob@example.test';
  const pieces: string[] = [];
  for (let i = 0; i < n; i += 50) pieces.push(Array.from({ length: Math.min(50, n - i) }, (_, k) => (kind === 'plain' ? plainMsg(i + k, to) : privMsg(i + k, to))).join(''));
  const pg0 = pgPid ? cpuSeconds(pgPid) : 0;
  const server0 = cpuSeconds(prosody.pid);
  const t0 = performance.now();
  await flood(comp.socket, pieces);
  await waitFor('all messages at bob', () => (got >= n ? true : undefined), 120_000, 20);
  const rate = n / ((last - t0) / 1000);
  const serverCpu = cpuSeconds(prosody.pid) - server0;
  const pgCpu = pgPid ? cpuSeconds(pgPid) - pg0 : undefined;
  comp.socket.destroy();
  bob.entity.reconnect.stop();
  await bob.entity.stop();
  return { rate, serverUs: (serverCpu / n) * 1e6, ...(pgCpu !== undefined ? { cpuRatio: pgCpu / serverCpu, pgUs: (pgCpu / n) * 1e6 } : {}) };
}

/**
 * IQ ping round trips component → user → component over several paths at once,
 * one ping per path in turn, so that every path sees the same moment of a
 * noisy machine (three components of the same Prosody, one per path).
 */
async function rtt(prosody: ProsodyInstance, paths: { port: number; name: string; secret: string }[], n: number): Promise<Rtt[]> {
  const stack = { prosody, log: { lines: [] }, audit: [], entities: [], sockets: [] } as unknown as Stack;
  const bob = await connectUser(stack, 'bob', `r${Date.now()}`);
  bob.entity.iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));
  const comps = await Promise.all(paths.map((p) => RawComponent.open(p.port, p.name, p.secret)));
  const jid = await waitFor('bob bound', () => (bob.entity as unknown as { jid?: { toString(): string } }).jid?.toString());
  const samples: number[][] = paths.map(() => []);
  const warmUp = 200;
  for (let i = 0; i < n + warmUp; i++) {
    for (let k = 0; k < comps.length; k++) {
      // A different path goes first each time.
      const c = (i + k) % comps.length;
      const comp = comps[c]!;
      const id = `ping${i}`;
      const before = comp.stanzas.length;
      const t0 = performance.now();
      comp.write(`<iq type='get' id='${id}' from='${paths[c]!.name}' to='${jid}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      // woken by the socket, not by a timer: timers would add their own millisecond
      while (!comp.stanzas.some((s, j) => j >= before && s.attrs.id === id)) {
        await new Promise((r) => comp.socket.once('data', r));
      }
      if (i >= warmUp) samples[c]!.push((performance.now() - t0) * 1000);
      if (comp.stanzas.length > 1000) comp.stanzas.splice(0, comp.stanzas.length);
    }
  }
  for (const c of comps) c.socket.destroy();
  bob.entity.reconnect.stop();
  await bob.entity.stop();
  return samples.map((xs) => {
    xs.sort((a, b) => a - b);
    return { p50: xs[Math.floor(xs.length / 2)]!, p99: xs[Math.floor(xs.length * 0.99)]! };
  });
}

/** Bytes/s from a component through `port` into a sink that only reads; optionally privguard's CPU per stanza. */
async function alone(port: number, sink: FakeServer, kind: 'plain' | 'privileged', n: number, secret: string, pid?: number): Promise<{ mbps: number; cpuUsPerStanza?: number }> {
  const before = sink.connections.length;
  const comp = await RawComponent.open(port, 'pubsub.example.test', secret);
  const conn = await waitFor('sink connection', () => sink.connections[before]);
  let bytes = 0;
  conn.socket.removeAllListeners('data');
  conn.socket.on('data', (d: Buffer | string) => void (bytes += typeof d === 'string' ? Buffer.byteLength(d) : d.length));
  const pieces: string[] = [];
  for (let i = 0; i < n; i += 200) pieces.push(Array.from({ length: Math.min(200, n - i) }, (_, k) => (kind === 'plain' ? plainMsg(i + k, 'u@example.org') : privMsg(i + k, 'bob@example.org', 'example.org'))).join(''));
  const total = pieces.reduce((a, p) => a + Buffer.byteLength(p), 0);
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const t0 = performance.now();
  await flood(comp.socket, pieces);
  // privguard re-serialises (double quotes, same length for this shape): wait for ~all bytes
  await waitFor('sink got everything', () => (bytes >= total * 0.98 ? true : undefined), 120_000, 5);
  const secs = (performance.now() - t0) / 1000;
  const cpu = pid ? cpuSeconds(pid) - cpu0 : undefined;
  comp.socket.destroy();
  return { mbps: total / secs / 1e6, ...(cpu !== undefined ? { cpuUsPerStanza: (cpu / n) * 1e6 } : {}) };
}

/**
 * µs per decision on the judged path, with `size` users, iq namespaces and
 * (with `scopes`) `size` entries in every content scope: message_to,
 * roster_items, iq to and pubsub nodes (literal JIDs and domains, JID and
 * domain globs, node names and node prefixes), so that the ratio shows the
 * cost does not grow with the lists.
 */
function decisionCost(size: number, scopes = true): number {
  const users = Array.from({ length: size }, (_, i) => `user${i}`);
  const nss = Array.from({ length: size }, (_, i) => `urn:bench:${i}`);
  const jids = JSON.stringify([
    'self',
    'component',
    'bob@example.test',
    '*@conference.example.test',
    '*.gateway.example.test',
    // Literal JIDs and domains, and as many globs of both kinds.
    ...Array.from({ length: size }, (_, i) => [`contact${i}@example.test`, `svc${i}.example.test`, `*@room${i}.conference.example.test`, `*.gw${i}.example.test`][i % 4]!),
  ]);
  const nodes = JSON.stringify(['urn:xmpp:bookmarks:1', 'urn:xmpp:avatar:*', ...Array.from({ length: size }, (_, i) => (i % 2 ? `urn:bench:node:${i}` : `urn:bench:tree:${i}:*`))]);
  const pubsub = scopes ? `{ type: set, to: ${jids}, nodes: ${nodes} }` : 'set';
  const iq = [...nss.map((n) => `"${n}": get`), `"jabber:iq:private": ${scopes ? `{ type: get, to: ${jids} }` : 'get'}`, `"http://jabber.org/protocol/pubsub": ${pubsub}`];
  const scopeKeys = scopes ? `        message_to: ${jids}
        roster_items: ${jids}
` : '';
  const text = `components:
  pubsub.example.test:
    secret: s
    upstream_secret: u
    privileges:
      example.test:
        roster: both
        message: outgoing
${scopeKeys}        iq: { ${iq.join(', ')} }
        users: ${JSON.stringify([...users, 'alice', 'bot-*'])}
        except_users: ["admin", "ops-*"]
`;
  const component = compilePolicy(loadPolicyText(text, 'bench.yaml', {})).components.get('pubsub.example.test')!;
  const p = component.privileges.get('example.test')!;
  const grants = new Map([['example.test', effectiveGrant('example.test', assumedAdvertisement(p), p).grant]]);
  const ctx = { component, grants, isPending: () => false, pendingFull: false, delegationPending: () => undefined, delegationClosed: () => false };
  const stanzas = [
    // Reached only through a glob of the list: a domain glob (message), a JID glob (roster item).
    stanza(privMsg(1, 'x@a.gw7.example.test').replace('alice@', 'user7@')),
    stanza(`<iq type='get' id='q' from='pubsub.example.test' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='get' id='i'><query xmlns='jabber:iq:private'/></iq></privileged_iq></iq>`),
    stanza(`<iq type='set' id='b' from='pubsub.example.test' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='set' id='i'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='current'/></publish></pubsub></iq></privileged_iq></iq>`),
    stanza(`<iq type='set' id='r' from='pubsub.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'><item jid='y@room6.conference.example.test'/></query></iq>`),
  ];
  for (const st of stanzas) if (decideOutbound(ctx, st).action !== 'pass') throw new Error(`bench stanza refused: ${st.toString()}`);
  const N = 50_000;
  const k = stanzas.length;
  for (let i = 0; i < 20_000; i++) decideOutbound(ctx, stanzas[i % k]!);
  // The best of five passes: a pause the machine takes during one pass is not the decision's cost.
  let best = Infinity;
  for (let pass = 0; pass < 5; pass++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) decideOutbound(ctx, stanzas[i % k]!);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / N / 1000); // µs per decision
  }
  return best;
}

function bigTextBlockMs(): number {
  const header = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>";
  const body = 'QUJD'.repeat(65536); // 256 KB of base64, as an avatar
  const stanzaText = `<iq type='set' id='v' from='pubsub.example.test' to='alice@example.test'><vCard xmlns='vcard-temp'><PHOTO><BINVAL>${body}</BINVAL></PHOTO></vCard></iq>`;
  let max = 0;
  for (let round = 0; round < 5; round++) {
    const p = new StreamParser({ onHeader: () => {}, onStanza: () => {}, onEnd: () => {} }, { maxStanzaBytes: 1 << 20, maxDepth: 64 });
    p.write(header);
    for (let i = 0; i < stanzaText.length; i += 65536) {
      const t0 = performance.now();
      p.write(stanzaText.slice(i, i + 65536));
      max = Math.max(max, performance.now() - t0);
    }
  }
  return max;
}

type Row = (name: string, value: number, unit: string, target?: string) => void;

/** Through real Prosody: throughput and round trips, direct vs privguard (and a raw relay for round trips). */
async function viaProsody(row: Row): Promise<void> {
  // Prosody without MAM, granting message outgoing.
  const prosody = await startProsody({
    modules: ['roster', 'saslauth', 'disco', 'ping', 'privilege', 'delegation'],
    privileges: { 'pubsub.example.test': { message: 'outgoing', roster: 'get' } },
  });
  const [pgPort, relayPort, basePort] = await freePorts(3);
  const pg = await startPrivguard(policyFor(pgPort!, prosody.componentPort));
  const base = baselineCli ? await startPrivguard(policyFor(basePort!, prosody.componentPort), baselineCli) : undefined;
  const relay = await startRawRelay(relayPort!, prosody.componentPort);
  try {
    // A warm-up pass each way first (a fresh process has not compiled its hot
    // path yet), then direct, privguard (and the baseline) in turns, REPS times: medians.
    const N = 20_000;
    for (const port of base ? [pgPort!, basePort!] : [pgPort!]) {
      await throughput(prosody, port, 's', 'plain', N / 4);
      await throughput(prosody, port, 's', 'privileged', N / 4);
    }
    const runs = { directPlain: [] as Flood[], pgPlain: [] as Flood[], basePlain: [] as Flood[], directPriv: [] as Flood[], pgPriv: [] as Flood[], basePriv: [] as Flood[] };
    for (let r = 0; r < REPS; r++) {
      runs.directPlain.push(await throughput(prosody, prosody.componentPort, 's3cr3t', 'plain', N));
      runs.pgPlain.push(await throughput(prosody, pgPort!, 's', 'plain', N, pg.child.pid));
      if (base) runs.basePlain.push(await throughput(prosody, basePort!, 's', 'plain', N, base.child.pid));
      runs.directPriv.push(await throughput(prosody, prosody.componentPort, 's3cr3t', 'privileged', N));
      runs.pgPriv.push(await throughput(prosody, pgPort!, 's', 'privileged', N, pg.child.pid));
      if (base) runs.basePriv.push(await throughput(prosody, basePort!, 's', 'privileged', N, base.child.pid));
    }
    const rate = (xs: Flood[]) => median(xs.map((x) => x.rate));
    const ratio = (xs: Flood[], direct: Flood[]) => median(xs.map((x, i) => x.rate / direct[i]!.rate));
    const cpuRatio = (xs: Flood[]) => median(xs.map((x) => x.cpuRatio ?? NaN));
    row('throughput_direct_plain', rate(runs.directPlain), 'msgs/s');
    row('throughput_privguard_plain', rate(runs.pgPlain), 'msgs/s');
    row('throughput_ratio_plain', ratio(runs.pgPlain, runs.directPlain), '', 'target ≥ 0.95');
    row('throughput_direct_privileged', rate(runs.directPriv), 'msgs/s');
    row('throughput_privguard_privileged', rate(runs.pgPriv), 'msgs/s');
    row('throughput_ratio_privileged', ratio(runs.pgPriv, runs.directPriv), '', 'target ≥ 0.95');
    row('cpu_ratio_vs_server_plain', cpuRatio(runs.pgPlain), '', 'target ≤ 0.05');
    row('cpu_ratio_vs_server_privileged', cpuRatio(runs.pgPriv), '', 'target ≤ 0.05');
    // What the ratios are made of: Prosody's CPU per stanza (0.05 of it is privguard's budget) and privguard's in the flood.
    const us = (xs: Flood[], f: (x: Flood) => number | undefined) => median(xs.map((x) => f(x) ?? NaN));
    for (const [kind, direct, pg] of [['plain', runs.directPlain, runs.pgPlain], ['privileged', runs.directPriv, runs.pgPriv]] as const) {
      const server = us(direct, (x) => x.serverUs);
      row(`prosody_cpu_us_per_stanza_${kind}`, server, 'µs', `privguard's budget at 0.05: ${(server * 0.05).toFixed(1)} µs`);
      row(`flood_cpu_us_per_stanza_${kind}`, us(pg, (x) => x.pgUs), 'µs', 'privguard in the flood');
    }
    if (base) {
      row('baseline_throughput_ratio_plain', ratio(runs.basePlain, runs.directPlain), '', `baseline ${baselineRev}`);
      row('baseline_throughput_ratio_privileged', ratio(runs.basePriv, runs.directPriv), '', `baseline ${baselineRev}`);
      row('baseline_cpu_ratio_vs_server_plain', cpuRatio(runs.basePlain), '', `baseline ${baselineRev}`);
      row('baseline_cpu_ratio_vs_server_privileged', cpuRatio(runs.basePriv), '', `baseline ${baselineRev}`);
    }

    // Round trips: direct, through the raw relay and through privguard, one ping each in turn.
    const [rDirect, rRaw, rPg] = await rtt(
      prosody,
      [
        { port: prosody.componentPort, name: 'plain.example.test', secret: 's3cr3t' },
        { port: relayPort!, name: 'limited.example.test', secret: 's3cr3t' },
        { port: pgPort!, name: 'pubsub.example.test', secret: 's' },
      ],
      3000,
    ) as [Rtt, Rtt, Rtt];
    row('rtt_direct_p50_us', rDirect.p50, 'µs');
    row('rtt_raw_relay_p50_us', rRaw.p50, 'µs');
    row('rtt_privguard_p50_us', rPg.p50, 'µs');
    row('rtt_direct_p99_us', rDirect.p99, 'µs');
    row('rtt_privguard_p99_us', rPg.p99, 'µs');
    row('rtt_p50_ratio_vs_raw_relay', rPg.p50 / rRaw.p50, '', 'target ≤ 1.1');
    row('rtt_p99_added_ms', (rPg.p99 - rDirect.p99) / 1000, 'ms', 'target ≤ 1');
  } finally {
    await pg.stop();
    await base?.stop();
    await relay.stop();
    await prosody.stop();
  }
}

/** A null upstream that advertises message=outgoing for example.org (else privileged stanzas are refused). */
function nullUpstream(): Promise<FakeServer> {
  return FakeServer.start({
    afterHandshake: "<message from='example.org' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/></privilege></message>",
  });
}

/** privguard alone against a null upstream, vs a raw relay to the same sink; privguard's CPU per stanza. */
async function aloneVsRaw(row: Row): Promise<void> {
  const sink = await nullUpstream();
  const [alonePort, rawPort, basePort] = await freePorts(3);
  const pgAlone = await startPrivguard(policyFor(alonePort!, sink.port));
  const baseAlone = baselineCli ? await startPrivguard(policyFor(basePort!, sink.port), baselineCli) : undefined;
  const rawAlone = await startRawRelay(rawPort!, sink.port);
  try {
    const M = 100_000;
    for (const port of baseAlone ? [alonePort!, basePort!] : [alonePort!]) {
      await alone(port, sink, 'plain', M / 4, 's');
      await alone(port, sink, 'privileged', M / 4, 's');
    }
    const reps: Record<'rawPlain' | 'pgPlain' | 'basePlain' | 'rawPriv' | 'pgPriv' | 'basePriv', Alone[]> = { rawPlain: [], pgPlain: [], basePlain: [], rawPriv: [], pgPriv: [], basePriv: [] };
    for (let r = 0; r < REPS; r++) {
      reps.rawPlain.push(await alone(rawPort!, sink, 'plain', M, 's3cr3t'));
      reps.pgPlain.push(await alone(alonePort!, sink, 'plain', M, 's', pgAlone.child.pid));
      if (baseAlone) reps.basePlain.push(await alone(basePort!, sink, 'plain', M, 's', baseAlone.child.pid));
      reps.rawPriv.push(await alone(rawPort!, sink, 'privileged', M / 2, 's3cr3t'));
      reps.pgPriv.push(await alone(alonePort!, sink, 'privileged', M / 2, 's', pgAlone.child.pid));
      if (baseAlone) reps.basePriv.push(await alone(basePort!, sink, 'privileged', M / 2, 's', baseAlone.child.pid));
    }
    const mbps = (xs: Alone[]) => median(xs.map((x) => x.mbps));
    const cpu = (xs: Alone[]) => median(xs.map((x) => x.cpuUsPerStanza ?? NaN));
    row('alone_raw_relay_plain_MBps', mbps(reps.rawPlain), 'MB/s');
    row('alone_privguard_plain_MBps', mbps(reps.pgPlain), 'MB/s');
    row('alone_vs_raw_plain', median(reps.pgPlain.map((x, i) => x.mbps / reps.rawPlain[i]!.mbps)), '', 'target ≥ 0.20');
    row('alone_raw_relay_privileged_MBps', mbps(reps.rawPriv), 'MB/s');
    row('alone_privguard_privileged_MBps', mbps(reps.pgPriv), 'MB/s');
    row('alone_vs_raw_privileged', median(reps.pgPriv.map((x, i) => x.mbps / reps.rawPriv[i]!.mbps)), '', 'target ≥ 0.08');
    row('cpu_us_per_stanza_plain', cpu(reps.pgPlain), 'µs', 'target ≤ 6');
    row('cpu_us_per_stanza_privileged', cpu(reps.pgPriv), 'µs', 'target ≤ 9');
    if (baseAlone) {
      row('baseline_alone_vs_raw_plain', median(reps.basePlain.map((x, i) => x.mbps / reps.rawPlain[i]!.mbps)), '', `baseline ${baselineRev}`);
      row('baseline_alone_vs_raw_privileged', median(reps.basePriv.map((x, i) => x.mbps / reps.rawPriv[i]!.mbps)), '', `baseline ${baselineRev}`);
      row('baseline_cpu_us_per_stanza_plain', cpu(reps.basePlain), 'µs', `baseline ${baselineRev}`);
      row('baseline_cpu_us_per_stanza_privileged', cpu(reps.basePriv), 'µs', `baseline ${baselineRev}`);
    }
  } finally {
    await pgAlone.stop();
    await baseAlone?.stop();
    await rawAlone.stop();
    await sink.stop();
  }
}

/** RSS with 200 components connected, idle and under load. */
async function manyComponents(row: Row): Promise<void> {
  const sink = await nullUpstream();
  const names = Array.from({ length: 200 }, (_, i) => `c${i}.example.org`);
  const manyPort = await freePort();
  const pgMany = await startPrivguard(policyFor(manyPort, sink.port, names).replaceAll("'pubsub.example.test'", ''));
  try {
    const raws = await Promise.all(names.map((n) => RawComponent.open(manyPort, n, 's')));
    await waitFor('all upstream', () => (sink.connections.length >= 200 ? true : undefined), 30_000);
    row('rss_mb_200_components_idle', rssMb(pgMany.child.pid!), 'MB', 'target ≤ 80');
    for (let s = 0; s < 20; s++) {
      for (const [i, r] of raws.entries()) r.write(plainMsg(s, 'u@example.org').replaceAll('pubsub.example.test', names[i]!));
      await new Promise((res) => setTimeout(res, 50));
    }
    row('rss_mb_200_components', rssMb(pgMany.child.pid!), 'MB', 'target ≤ 80 (under load)');
    for (const r of raws) r.socket.destroy();
  } finally {
    await pgMany.stop();
    await sink.stop();
  }
}

function inProcess(row: Row): void {
  row('decision_us_10_without_scopes', decisionCost(10, false), 'µs', 'the same stanzas, no content scopes');
  const d10 = decisionCost(10);
  const d1k = decisionCost(1000);
  const d10k = decisionCost(10_000);
  row('decision_us_10', d10, 'µs');
  row('decision_us_1000', d1k, 'µs');
  row('decision_us_10000', d10k, 'µs');
  row('decision_cost_ratio_10k_vs_10', d10k / d10, '', 'target ≤ 1.5');
  row('max_loop_block_ms_256k_text', bigTextBlockMs(), 'ms', 'target ≤ 5');
}

/** The JavaScript work per stanza alone (bench/pipeline.ts, in a process of its own on the built modules). */
function pipeline(row: Row): void {
  const r = spawnSync(process.execPath, ['--max-semi-space-size=2', '--import', 'tsx', join(root, 'bench/pipeline.ts')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/pipeline.ts failed: ${r.stderr}`);
  const ns = JSON.parse(r.stdout) as { plain: number; privileged: number };
  row('pipeline_us_per_stanza_plain', ns.plain / 1000, 'µs', 'decode, frame, decide, audit line; no I/O');
  row('pipeline_us_per_stanza_privileged', ns.privileged / 1000, 'µs', 'decode, frame, decide, audit line; no I/O');
}

const PARTS = { prosody: viaProsody, alone: aloneVsRaw, rss: manyComponents, decision: inProcess, pipeline } as const;

async function main(): Promise<void> {
  spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  // `npm run bench -- --only rss,alone` runs some parts; only a full run writes results.json.
  const at = process.argv.indexOf('--only');
  const only = at === -1 ? undefined : (process.argv[at + 1] ?? '').split(',');
  const b = process.argv.indexOf('--baseline');
  if (b !== -1) {
    baselineRev = process.argv[b + 1] ?? 'HEAD~1';
    const sha = spawnSync('git', ['rev-parse', '--short', baselineRev], { cwd: root, encoding: 'utf8' }).stdout.trim();
    if (!sha) throw new Error(`--baseline: ${baselineRev} is no git revision`);
    baselineRev = sha;
    say(`baseline: building ${baselineRev} in a temporary directory`);
    baselineCli = buildBaseline(baselineRev);
  }
  const unknown = only?.filter((p) => !(p in PARTS)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown part(s) ${unknown.join(', ')}; the parts are ${Object.keys(PARTS).join(', ')}`);
  const results: Record<string, number> = {};
  const row: Row = (name, value, unit, target) => {
    results[name] = Math.round(value * 1000) / 1000;
    say(`${name.padEnd(34)} ${value.toFixed(3).padStart(12)} ${unit.padEnd(12)} ${target ?? ''}`);
  };
  say('privguard bench (loopback, 2 cores shared with the servers; figures are noisy: compare ratios)\n');
  for (const [name, run] of Object.entries(PARTS)) if (!only || only.includes(name)) await run(row);
  if (only) return;
  writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  say('\nwritten: bench/results.json');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
// keep the import used by the type checker when built without the server part
void createServer;
void readFileSync;
