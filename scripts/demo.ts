/**
 * `npm run demo`: a throwaway Prosody that grants a component every privilege,
 * privguard in front of it with a policy that narrows them, a scripted
 * component and scripted users. It walks through what privguard allows and
 * denies and prints a table of expected vs observed outcomes; it exits
 * non-zero if any outcome differs.
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
import { freePort } from '../test/support/ports.js';
import { connectComponent, connectUser, RawComponent, serveDelegation, waitStanza, type Peer, type Stack } from '../test/e2e/harness/stack.js';
import { waitFor } from '../test/support/wait.js';

const PRIV = 'urn:xmpp:privilege:2';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const SECRET = 'demo-component-secret';
const MAM = 'urn:xmpp:mam:2';
const PUBSUB = 'http://jabber.org/protocol/pubsub';

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

/** "answered" for a result; "denied: <condition>" for an error. */
async function iqOutcome(peer: Peer, iq: Element): Promise<string> {
  try {
    const res = await peer.entity.iqCaller.request(iq, 5000);
    return res.attrs.type === 'result' ? 'answered' : `got ${String(res.attrs.type)}`;
  } catch (e) {
    const err = e as { condition?: string; element?: Element };
    const text = err.element?.getChildText('text', STANZAS);
    if (text) say(`      ${text}`);
    return `denied: ${err.condition ?? String(e)}`;
  }
}

function privilegedMessage(from: string, to: string, id: string): Element {
  return xml(
    'message',
    { from: 'pubsub.example.test', to: 'example.test', id },
    xml('privilege', { xmlns: PRIV }, xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, xml('message', { xmlns: 'jabber:client', from, to, id: `${id}-inner`, type: 'chat' }, xml('body', {}, `sent as ${from}`)))),
  );
}

function privilegedIq(ns: string, payload: string, id: string): Element {
  return xml(
    'iq',
    { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test', id },
    xml('privileged_iq', { xmlns: PRIV }, xml('iq', { xmlns: 'jabber:client', type: 'get', id: `${id}-inner` }, xml(payload, { xmlns: ns }, ...(ns === 'jabber:iq:private' ? [xml('storage', { xmlns: 'storage:bookmarks' })] : [])))),
  );
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'privguard-demo-'));
  say('privguard demo\n');
  const prosody = await startProsody({
    privileges: {
      'pubsub.example.test': {
        roster: 'both',
        message: 'outgoing',
        presence: 'roster',
        iq: { 'jabber:iq:private': 'both', 'vcard-temp': 'get' },
      },
    },
    delegations: {
      [MAM]: { jid: 'pubsub.example.test', filtering: ['node'] },
      [PUBSUB]: { jid: 'pubsub.example.test' },
    },
  });
  say(`• Prosody 0.12 (throwaway, ${prosody.dir}) ready in ${prosody.readyAfterMs} ms. It grants pubsub.example.test every privilege`);
  say('  and delegates MAM (with node) and pubsub to it.');

  const port = await freePort();
  const policyFile = join(dir, 'policy.yaml');
  const auditFile = join(dir, 'audit.jsonl');
  const logFile = join(dir, 'privguard.log');
  writeFileSync(
    policyFile,
    `# demo policy: the server grants everything, privguard narrows it
listen: { host: 127.0.0.1, port: ${port} }
upstream: { host: 127.0.0.1, port: ${prosody.componentPort} }
audit: { file: audit.jsonl }
limits: { pending_timeout_ms: 1500 }         # how long privguard waits for the component (short, for the demo)
components:
  pubsub.example.test:
    secret: ${SECRET}          # what the component knows
    upstream_secret: s3cr3t    # what only privguard and Prosody know
    privileges:
      example.test:
        roster: get                              # read rosters, never change them
        message: outgoing
        presence: managed_entity
        iq: { "jabber:iq:private": get }         # private XML storage, read only
        users: ["alice", "bob"]                  # on behalf of alice and bob only
    delegations:
      example.test:
        "${MAM}": { attributes: [node] }         # MAM queries with a node go to the component; pubsub does not
  plain.example.test:
    secret: ${SECRET}
    upstream_secret: s3cr3t
`,
  );
  const policy = loadPolicyFile(policyFile);
  const log = createLogger({ file: logFile });
  const audit = createAuditSink({ file: auditFile });
  const sidecar = await startSidecar({ policy, log, audit });
  say(`• privguard on 127.0.0.1:${port} (policy ${policyFile})`);

  // The stack helpers want this shape; the demo owns the lifecycle itself.
  const stack = { prosody, sidecar, policy, port, log: { lines: [] }, audit: [], entities: [], sockets: [] } as unknown as Stack;
  try {
    const comp = await connectComponent(stack, 'pubsub.example.test', SECRET);
    comp.entity.iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));
    // The component serves delegated MAM queries with an empty, complete result.
    serveDelegation(comp, {
      payload: () => xml('fin', { xmlns: MAM, complete: 'true' }),
      // A query it "forgets" to answer, to show the timeout.
      answer: (inner) => inner.getChild('query', MAM)?.attrs.queryid !== 'never',
    });
    const adv = await waitStanza(comp.stanzas, (s) => s.is('message') && s.getChild('privilege', PRIV) !== undefined, 'advertisement');
    const perms = adv
      .getChild('privilege', PRIV)!
      .getChildren('perm')
      .map((p) => (p.attrs.access === 'iq' ? `iq[${p.getChildren('namespace').map((n) => `${String(n.attrs.ns)}=${String(n.attrs.type)}`).join(' ')}]` : `${String(p.attrs.access)}=${String(p.attrs.type)}`));
    say(`• component pubsub.example.test connected through privguard; it was told: ${perms.join(', ')}`);
    const alice = await connectUser(stack, 'alice', 'demo');
    alice.entity.iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));
    await alice.entity.send(xml('presence'));
    const bob = await connectUser(stack, 'bob', 'demo');
    await bob.entity.send(xml('presence'));
    await waitStanza(bob.stanzas, (s) => s.is('presence') && s.attrs.from === 'bob@example.test/demo', 'bob available');
    say('• alice@example.test and bob@example.test logged in to Prosody\n');

    await outcome('plain message: component → alice', 'delivered', async () => {
      await comp.entity.send(xml('message', { from: 'news@pubsub.example.test', to: 'alice@example.test/demo', id: 'd1' }, xml('body', {}, 'Hello')));
      await waitFor('message at alice', () => alice.stanzas.find((s) => s.attrs.id === 'd1'));
      return 'delivered';
    });

    await outcome('IQ ping: component → alice', 'answered', () =>
      iqOutcome(comp, xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test/demo' }, xml('ping', { xmlns: 'urn:xmpp:ping' }))),
    );

    await outcome('roster get: alice\'s roster', 'answered', () =>
      iqOutcome(comp, xml('iq', { type: 'get', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' }))),
    );

    await outcome('roster set: add mallory to alice\'s roster', 'denied: forbidden', () =>
      iqOutcome(comp, xml('iq', { type: 'set', from: 'pubsub.example.test', to: 'alice@example.test' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'mallory@example.test' })))),
    );

    await outcome('privileged message as alice → bob', 'delivered', async () => {
      await comp.entity.send(privilegedMessage('alice@example.test', 'bob@example.test', 'pm1'));
      const got = await waitFor('message at bob', () => bob.stanzas.find((s) => s.attrs.id === 'pm1-inner'));
      return got.attrs.from === 'alice@example.test' ? 'delivered' : `delivered from ${String(got.attrs.from)}`;
    });

    await outcome('privileged message as carol (not in users) → bob', 'denied: forbidden', async () => {
      await comp.entity.send(privilegedMessage('carol@example.test', 'bob@example.test', 'pm2'));
      const err = await waitFor('error', () => comp.stanzas.find((s) => s.attrs.id === 'pm2' && s.attrs.type === 'error'));
      say(`      ${err.getChild('error')?.getChildText('text', STANZAS) ?? ''}`);
      return `denied: ${err.getChild('error')?.getChildElements()[0]?.name ?? '?'}`;
    });

    await outcome('privileged IQ: read alice\'s private storage', 'answered', () => iqOutcome(comp, privilegedIq('jabber:iq:private', 'query', 'piq1')));

    await outcome('privileged IQ: read alice\'s vCard', 'denied: forbidden', () => iqOutcome(comp, privilegedIq('vcard-temp', 'vCard', 'piq2')));

    await outcome('presence: alice comes online again', 'received', async () => {
      await alice.entity.send(xml('presence', {}, xml('status', {}, 'back')));
      await waitFor('alice presence', () => comp.stanzas.find((s) => s.is('presence') && s.attrs.from === 'alice@example.test/demo' && s.getChildText('status') === 'back'));
      return 'received';
    });

    await outcome('presence: carol (not in users) comes online', 'filtered', async () => {
      const carol = await connectUser(stack, 'carol', 'demo');
      await carol.entity.send(xml('presence'));
      await carol.entity.send(xml('message', { to: 'pubsub.example.test', id: 'carol-marker' }));
      await waitFor('carol marker', () => comp.stanzas.find((s) => s.attrs.id === 'carol-marker'));
      return comp.stanzas.some((s) => s.is('presence') && String(s.attrs.from).startsWith('carol@')) ? 'received' : 'filtered';
    });

    await outcome('alice\'s MAM query with node (delegated)', 'answered', () =>
      iqOutcome(alice, xml('iq', { type: 'set', id: 'mam1' }, xml('query', { xmlns: MAM, queryid: 'q1', node: 'urn:xmpp:microblog:0' }))),
    );

    await outcome('alice\'s MAM query the component never answers (times out after 1.5 s)', 'denied: service-unavailable', () =>
      iqOutcome(alice, xml('iq', { type: 'set', id: 'mam2' }, xml('query', { xmlns: MAM, queryid: 'never', node: 'urn:xmpp:microblog:0' }))),
    );

    await outcome('alice\'s pubsub request (the policy does not delegate pubsub)', 'denied: service-unavailable', () =>
      iqOutcome(alice, xml('iq', { type: 'get', to: 'alice@example.test', id: 'ps1' }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node: 'x' })))),
    );

    await outcome('plain.example.test sends a message "from" bob@example.test', 'denied: invalid-from', async () => {
      const raw = await RawComponent.open(port, 'plain.example.test', SECRET);
      raw.write("<message from='bob@example.test' to='alice@example.test/demo' id='spoof'><body>I am bob</body></message>");
      return `denied: ${await raw.streamError()}`;
    });

    await outcome('a component with a DOCTYPE in its stream', 'denied: restricted-xml', async () => {
      const raw = await RawComponent.open(port, 'plain.example.test', SECRET);
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

  const cols = ['action', 'expected', 'observed'] as const;
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (a: string, b: string, c: string, ok: string) => `${a.padEnd(w[0]!)}  ${b.padEnd(w[1]!)}  ${c.padEnd(w[2]!)}  ${ok}`;
  say('');
  say(line('action', 'expected', 'observed', ''));
  say(line('-'.repeat(w[0]!), '-'.repeat(w[1]!), '-'.repeat(w[2]!), ''));
  for (const r of rows) say(line(r.action, r.expected, r.observed, r.expected === r.observed ? 'ok' : 'MISMATCH'));
  const audited = readFileSync(auditFile, 'utf8').trim().split('\n').filter(Boolean);
  say(`\naudit log: ${auditFile} (${audited.length} records; the denials:)`);
  for (const a of audited.filter((l) => l.includes('"verdict":"denied"'))) say(`  ${a}`);
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
