/**
 * `npm run demo`: a throwaway Prosody, privguard in front of it with a demo
 * policy, a scripted component and a scripted user. It walks through what
 * privguard does today and prints a table of expected vs observed outcomes;
 * it exits non-zero if any outcome differs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { loadPolicyFile } from '../src/config/load.js';
import { startSidecar } from '../src/index.js';
import { createAuditSink } from '../src/observe/audit.js';
import { createLogger } from '../src/observe/log.js';
import { startProsody } from '../test/e2e/harness/prosody.js';
import { freePort } from '../test/e2e/harness/ports.js';
import { connectComponent, connectUser, RawComponent, type Stack } from '../test/e2e/harness/stack.js';
import { waitFor } from '../test/e2e/harness/wait.js';

interface Row {
  action: string;
  expected: string;
  observed: string;
}

const rows: Row[] = [];
const say = (s: string) => process.stdout.write(`${s}\n`);

async function outcome(action: string, expected: string, attempt: () => Promise<string>): Promise<void> {
  let observed: string;
  try {
    observed = await attempt();
  } catch (e) {
    observed = `error: ${e instanceof Error ? e.message : String(e)}`;
  }
  rows.push({ action, expected, observed });
  say(`  ${observed === expected ? '✓' : '✗'} ${action}: ${observed}`);
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'privguard-demo-'));
  say('privguard demo\n');
  const prosody = await startProsody();
  say(`• Prosody 0.12 (throwaway, ${prosody.dir}) ready in ${prosody.readyAfterMs} ms: c2s 127.0.0.1:${prosody.c2sPort}, components 127.0.0.1:${prosody.componentPort}`);

  const port = await freePort();
  const policyFile = join(dir, 'policy.yaml');
  const auditFile = join(dir, 'audit.jsonl');
  writeFileSync(
    policyFile,
    `# demo policy: two components behind privguard
listen: { host: 127.0.0.1, port: ${port} }
upstream: { host: 127.0.0.1, port: ${prosody.componentPort} }
audit: { file: ${JSON.stringify(auditFile)} }
components:
  pubsub.example.test:
    secret: demo-component-secret      # what the component knows
    upstream_secret: s3cr3t            # what only privguard and Prosody know
  plain.example.test:
    secret: demo-component-secret
    upstream_secret: s3cr3t
`,
  );
  const policy = loadPolicyFile(policyFile);
  const logFile = join(dir, 'privguard.log');
  const log = createLogger({ file: logFile });
  const audit = createAuditSink({ file: auditFile });
  const sidecar = await startSidecar({ policy, log, audit });
  say(`• privguard on 127.0.0.1:${port} (policy ${policyFile}, log ${logFile})`);

  // The stack helpers want this shape; the demo owns the lifecycle itself.
  const stack = { prosody, sidecar, policy, port, log: { lines: [] }, audit: [], entities: [], sockets: [] } as unknown as Stack;
  try {
    const comp = await connectComponent(stack, 'pubsub.example.test', 'demo-component-secret');
    comp.entity.iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));
    say('• component pubsub.example.test connected through privguard (its secret is not the server\'s)');
    const alice = await connectUser(stack, 'alice', 'demo');
    alice.entity.iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));
    say('• alice@example.test logged in to Prosody\n');

    await outcome('component → alice: message', 'delivered', async () => {
      await comp.entity.send(xml('message', { from: 'news@pubsub.example.test', to: 'alice@example.test/demo', id: 'd1' }, xml('body', {}, 'Hello from the component')));
      const got = await waitFor('message at alice', () => alice.stanzas.find((s: Element) => s.attrs.id === 'd1'));
      return got.getChildText('body') === 'Hello from the component' ? 'delivered' : 'corrupted';
    });

    await outcome('alice → component: message', 'delivered', async () => {
      await alice.entity.send(xml('message', { to: 'news@pubsub.example.test', id: 'd2' }, xml('body', {}, 'Thanks!')));
      await waitFor('message at component', () => comp.stanzas.find((s: Element) => s.attrs.id === 'd2'));
      return 'delivered';
    });

    await outcome('component → alice: IQ ping', 'answered', async () => {
      const res = await comp.entity.iqCaller.request(xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test/demo' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
      return res.attrs.type === 'result' ? 'answered' : `got ${String(res.attrs.type)}`;
    });

    await outcome('alice → component: IQ ping', 'answered', async () => {
      const res = await alice.entity.iqCaller.request(xml('iq', { type: 'get', to: 'pubsub.example.test' }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
      return res.attrs.type === 'result' ? 'answered' : `got ${String(res.attrs.type)}`;
    });

    await outcome('plain.example.test sends a message "from" bob@example.test', 'denied: invalid-from', async () => {
      const raw = await RawComponent.open(port, 'plain.example.test', 'demo-component-secret');
      raw.write("<message from='bob@example.test' to='alice@example.test/demo' id='spoof'><body>I am bob</body></message>");
      const condition = await raw.streamError();
      await comp.entity.send(xml('message', { from: 'pubsub.example.test', to: 'alice@example.test/demo', id: 'after' }));
      await waitFor('next message at alice', () => alice.stanzas.find((s: Element) => s.attrs.id === 'after'));
      const leaked = alice.stanzas.some((s: Element) => s.attrs.id === 'spoof');
      return leaked ? 'delivered (!)' : `denied: ${condition}`;
    });

    await outcome('a component with a DOCTYPE in its stream', 'denied: restricted-xml', async () => {
      const raw = await RawComponent.open(port, 'plain.example.test', 'demo-component-secret');
      raw.write("<!DOCTYPE x [<!ENTITY e 'v'>]>");
      return `denied: ${await raw.streamError()}`;
    });

    await outcome('a component with the wrong secret', 'denied: not-authorized', async () => {
      const raw = new RawComponent(port);
      await waitFor('connect', () => (raw.socket.readyState === 'open' ? true : undefined));
      raw.write("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='pubsub.example.test'>");
      await waitFor('header', () => raw.header);
      raw.write(`<handshake>${'0'.repeat(40)}</handshake>`);
      return `denied: ${await raw.streamError()}`;
    });
  } finally {
    await Promise.allSettled(stack.entities.map(async (e) => (e.reconnect.stop(), await e.stop())));
    await sidecar.close();
    await prosody.stop();
  }

  const w = [6, 8, 8].map((_, i) => Math.max(...rows.map((r) => [r.action, r.expected, r.observed][i]!.length), ['action', 'expected', 'observed'][i]!.length));
  const line = (a: string, b: string, c: string, ok: string) => `${a.padEnd(w[0]!)}  ${b.padEnd(w[1]!)}  ${c.padEnd(w[2]!)}  ${ok}`;
  say('');
  say(line('action', 'expected', 'observed', ''));
  say(line('-'.repeat(w[0]!), '-'.repeat(w[1]!), '-'.repeat(w[2]!), ''));
  for (const r of rows) say(line(r.action, r.expected, r.observed, r.expected === r.observed ? 'ok' : 'MISMATCH'));
  const audited = readFileSync(auditFile, 'utf8').trim().split('\n').filter(Boolean);
  say(`\naudit log (${audited.length} record${audited.length === 1 ? '' : 's'}): ${auditFile}`);
  for (const a of audited) say(`  ${a}`);
  say(`privguard's log: ${logFile}\npolicy: ${policyFile}`);
  const bad = rows.filter((r) => r.expected !== r.observed).length;
  say(bad === 0 ? '\nall outcomes as expected' : `\n${bad} outcome(s) differ from what was expected`);
  return bad === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
