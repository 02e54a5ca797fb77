/**
 * The real Libervia PubSub 0.5 (Debian 13) as the PEP service of Prosody 13,
 * in three runs: (a) straight to the server, (b) through privguard with the
 * rights the server grants, (c) through privguard with the least-privilege
 * example policy (examples/libervia-pubsub.yaml on the test domain). Each run
 * plays the same script as real users (alice, bob, carol with @xmpp/client)
 * and records what they and the component received; the tests assert what
 * users see, and that (a) and (b) differ in nothing but what the policy changes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/component';
import { client as xmppClient } from '@xmpp/client';
import { loadPolicyText } from '../../src/config/load.js';
import { startSidecar, type Sidecar } from '../../src/index.js';
import { createMemoryAuditSink, type AuditRecord } from '../../src/observe/audit.js';
import { COMPONENT_SECRET, recordingLogger, waitStanza, type Peer } from './harness/stack.js';
import { DOMAIN, startProsody, USERS, type ProsodyInstance, type ProsodyOptions } from './harness/prosody.js';
import { liberviaMissing, startLibervia, startPostgres, type Libervia, type Postgres } from './harness/libervia.js';
import { startTap, type Tap } from './harness/tap.js';
import { compareTranscripts, formatDifferences, unexpectedDifferences, type ExpectedDifference, type Transcript } from './harness/compare.js';
import { prosodyVersions } from './harness/servers.js';
import { freePort } from '../support/ports.js';

const C = 'pubsub.example.test';
const UPSTREAM_SECRET = 's3cr3t';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const OWNER = 'http://jabber.org/protocol/pubsub#owner';
const EVENT = 'http://jabber.org/protocol/pubsub#event';
const MAM = 'urn:xmpp:mam:2';
const RSM = 'http://jabber.org/protocol/rsm';
const CAPS = 'http://jabber.org/protocol/caps';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const FORM = 'jabber:x:data';
const TUNE = 'http://jabber.org/protocol/tune';
const BLOG = 'urn:xmpp:microblog:0';

/** What Prosody grants Libervia in every run: its installation guide's configuration. */
const PROSODY: ProsodyOptions = {
  version: '13',
  privileges: { [C]: { roster: 'get', message: 'outgoing', presence: 'roster', iq: { [PUBSUB]: 'set' } } },
  delegations: {
    [PUBSUB]: { jid: C },
    [OWNER]: { jid: C },
    [MAM]: { jid: C, filtering: ['node'] },
  },
};

/** Run (b): privguard grants exactly what the server grants. */
const samePolicy = (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
components:
  ${C}:
    secret: ${COMPONENT_SECRET}
    upstream_secret: ${UPSTREAM_SECRET}
    privileges:
      ${DOMAIN}:
        roster: get
        message: outgoing
        presence: roster
        iq: { "${PUBSUB}": set }
    delegations:
      ${DOMAIN}:
        "${PUBSUB}": {}
        "${OWNER}": {}
        "${MAM}": { attributes: [node] }
`;

/** Run (c): the shipped example, moved to the test domain and ports (secrets from its env names). */
const EXAMPLE_ENV = { LIBERVIA_PUBSUB_SECRET: COMPONENT_SECRET, LIBERVIA_PUBSUB_UPSTREAM_SECRET: UPSTREAM_SECRET };
const examplePolicy = (listen: number, upstream: number) =>
  readFileSync('examples/libervia-pubsub.yaml', 'utf8')
    .replaceAll('example.org', DOMAIN)
    .replace(/^listen: .*$/m, `listen: { host: 127.0.0.1, port: ${listen} }`)
    .replace(/^upstream: .*$/m, `upstream: { host: 127.0.0.1, port: ${upstream} }`);

type RunName = 'direct' | 'same' | 'narrow';

/** What the policy changes between run (a) and run (b), stanza by stanza (see the comparison test). */
const SAME_RUN_DIFFERENCES: ExpectedDifference[] = [];

/** What the example policy changes between run (a) and run (c): it does not delegate pubsub#owner. */
const OWNER_RE = OWNER.replaceAll('.', '\\.');
const NARROW_RUN_DIFFERENCES: ExpectedDifference[] = [
  {
    party: 'component',
    only: 'a',
    match: new RegExp(`^<message from="example\\.test" to="${C.replaceAll('.', '\\.')}"><delegation xmlns="urn:xmpp:delegation:2">.*<delegated namespace="${OWNER_RE}"/>`),
    why: 'the server\'s delegation advertisement lists pubsub#owner',
  },
  {
    party: 'component',
    only: 'b',
    match: /^<message from="example\.test" to="pubsub\.example\.test"><delegation xmlns="urn:xmpp:delegation:2"><delegated namespace="http:\/\/jabber\.org\/protocol\/pubsub"\/><delegated namespace="urn:xmpp:mam:2"><attribute name="node"\/><\/delegated><\/delegation><\/message>$/,
    why: 'privguard\'s lists pubsub and MAM on node only',
  },
  {
    party: 'component',
    only: 'a',
    match: new RegExp(`disco#info" node="urn:xmpp:delegation:2:(:|bare:)${OWNER_RE}"/>`),
    why: 'the server\'s disco nesting queries for pubsub#owner: privguard answers them itself',
  },
  {
    party: 'component',
    only: 'a',
    match: new RegExp(`<delegation xmlns="urn:xmpp:delegation:2"><forwarded xmlns="urn:xmpp:forward:0"><iq .*<pubsub xmlns="${OWNER_RE}"><configure `),
    why: 'alice\'s delegated pubsub#owner request never reaches the component',
  },
  {
    party: 'alice',
    only: 'a',
    match: `<pubsub xmlns="${OWNER}"><configure node="${TUNE}"><x xmlns="jabber:x:data" type="form">`,
    why: 'directly, alice gets her node configuration',
  },
  {
    party: 'alice',
    only: 'b',
    // privguard's refusal echoes the request's (absent) to as from, as the component's answer would; Prosody relays it.
    match: '<iq id="*" to="alice@example.test/phone" type="error"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>',
    why: 'through the example policy, service-unavailable',
  },
];

/** The outcome of one IQ a user sent: the result, or the error condition. */
interface IqOutcome {
  result?: Element;
  error?: string;
}

/** Everything a run recorded, for the assertions and the comparison. */
interface RunRecord {
  name: RunName;
  ms: { total: number; prosody: number; postgres: number; libervia: number; script: number };
  /** What each user received until the script's last answer (teardown's unavailable presences are left out). */
  users: Record<'alice' | 'bob' | 'carol', Element[]>;
  /** What the component received and sent, likewise. */
  component: Pick<Tap, 'received' | 'sent'>;
  audit: AuditRecord[];
  outcomes: Record<string, IqOutcome>;
  liberviaLog: string;
}

interface User extends Peer {
  name: keyof typeof USERS;
}

async function connect(prosody: ProsodyInstance, name: keyof typeof USERS, resource: string, started: User[]): Promise<User> {
  const entity = xmppClient({ service: `xmpp://127.0.0.1:${prosody.c2sPort}`, domain: DOMAIN, username: name, password: USERS[name], resource });
  const user: User = { name, entity, stanzas: [], errors: [] };
  entity.on('stanza', (el) => void user.stanzas.push(el));
  entity.on('error', (e) => void user.errors.push(e.condition ?? e.message));
  started.push(user);
  await entity.start();
  return user;
}

async function ask(user: User, iq: Element, timeoutMs = 10_000): Promise<IqOutcome> {
  try {
    return { result: await user.entity.iqCaller.request(iq, timeoutMs) };
  } catch (e) {
    const err = e as { condition?: string; message?: string };
    return { error: err.condition ?? err.message ?? 'error' };
  }
}

/** bob's client: entity capabilities naming the node it wants notifications for (XEP-0115/0163). */
const BOB_CAPS = { hash: 'sha-1', node: 'https://privguard.test/client', ver: 'cHJpdmd1YXJkLXRlc3Q=' };

function answerDisco(user: User, features: string[]): void {
  user.entity.iqCallee.get(DISCO_INFO, 'query', () =>
    xml('query', { xmlns: DISCO_INFO }, xml('identity', { category: 'client', type: 'pc', name: 'test' }), ...features.map((f) => xml('feature', { var: f }))),
  );
}

const publishIq = (node: string, id: string, payload: Element) =>
  xml('iq', { type: 'set', to: `alice@${DOMAIN}` }, xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node }, xml('item', { id }, payload))));
const itemsIq = (node: string) => xml('iq', { type: 'get', to: `alice@${DOMAIN}` }, xml('pubsub', { xmlns: PUBSUB }, xml('items', { node })));
const tune = (title: string) => xml('tune', { xmlns: TUNE }, xml('title', {}, title));
const entry = (title: string) => xml('entry', { xmlns: 'http://www.w3.org/2005/Atom' }, xml('title', {}, title));

/** One run: fresh Prosody 13, PostgreSQL and Libervia; privguard in front unless `direct`; the users' script. */
async function run(name: RunName): Promise<RunRecord> {
  const t0 = Date.now();
  const cleanups: (() => Promise<void>)[] = [];
  const users: User[] = [];
  const ms = { total: 0, prosody: 0, postgres: 0, libervia: 0, script: 0 };
  try {
    const prosody = await startProsody(PROSODY);
    cleanups.push(() => prosody.stop());
    ms.prosody = prosody.readyAfterMs;
    const pg: Postgres = await startPostgres();
    cleanups.push(() => pg.stop());
    ms.postgres = pg.readyAfterMs;

    let upstream = prosody.componentPort;
    let secret = UPSTREAM_SECRET;
    const audit = createMemoryAuditSink();
    if (name !== 'direct') {
      const listen = await freePort();
      const text = (name === 'same' ? samePolicy : examplePolicy)(listen, prosody.componentPort);
      const policy = loadPolicyText(text, `libervia-${name}.yaml`, { ...process.env, ...EXAMPLE_ENV });
      const sidecar: Sidecar = await startSidecar({ policy, log: recordingLogger(), audit, upstream: { retryDelaysMs: [50, 100] } });
      cleanups.push(() => sidecar.close());
      upstream = listen;
      secret = COMPONENT_SECRET;
    }
    const tap = await startTap(upstream);
    cleanups.push(() => tap.close());
    const tl = Date.now();
    const libervia: Libervia = startLibervia({ jid: C, secret, port: tap.port, db: pg });
    cleanups.push(() => libervia.stop());
    await libervia.advertised();
    ms.libervia = Date.now() - tl;

    const ts = Date.now();
    const outcomes: Record<string, IqOutcome> = {};
    const alice = await connect(prosody, 'alice', 'phone', users);
    await alice.entity.send(xml('presence'));
    // 1. alice publishes her tune and a blog entry (open access model, Libervia's default).
    outcomes.publishTune1 = await ask(alice, publishIq(TUNE, 't1', tune('first')));
    outcomes.publishBlog = await ask(alice, publishIq(BLOG, 'b1', entry('hello world')));
    // 2. bob, her contact, comes online with capabilities that ask for tune notifications:
    //    Libervia (presence privilege) asks his client what it wants, then sends him her last tune.
    const isTune = (id: string) => (s: Element) =>
      s.is('message') && s.attrs.from === `alice@${DOMAIN}` && s.getChild('event', EVENT)?.getChild('items')?.getChild('item')?.attrs.id === id;
    const bob = await connect(prosody, 'bob', 'laptop', users);
    answerDisco(bob, [DISCO_INFO, TUNE, `${TUNE}+notify`]);
    await bob.entity.send(xml('presence', {}, xml('c', { xmlns: CAPS, ...BOB_CAPS })));
    await waitStanza(bob.stanzas, isTune('t1'), "alice's last tune sent to bob on his presence", 15_000);
    // 3. carol, who is not in alice's roster, comes online with the same capabilities; Libervia
    //    reads her roster (the last step before it would send her anything).
    const carol = await connect(prosody, 'carol', 'desk', users);
    answerDisco(carol, [DISCO_INFO, TUNE, `${TUNE}+notify`]);
    await carol.entity.send(xml('presence', {}, xml('c', { xmlns: CAPS, ...BOB_CAPS })));
    await waitStanza(tap.received, (s) => s.is('iq') && s.attrs.from === `carol@${DOMAIN}` && s.getChild('query', 'jabber:iq:roster') !== undefined, "carol's roster, read by Libervia", 15_000);
    // 4. alice publishes a new tune: bob is notified (contact with +notify); carol is not.
    outcomes.publishTune2 = await ask(alice, publishIq(TUNE, 't2', tune('second')));
    await waitStanza(bob.stanzas, isTune('t2'), "the notification of alice's new tune to bob", 15_000);
    // Retrieval: alice and bob read her blog.
    outcomes.aliceItems = await ask(alice, itemsIq(BLOG));
    outcomes.bobItems = await ask(bob, itemsIq(BLOG));
    // 5. A chat message for the server's archive, then MAM with node (Libervia) and without (Prosody).
    await bob.entity.send(xml('message', { to: `alice@${DOMAIN}/phone`, type: 'chat', id: 'hello-1' }, xml('body', {}, 'hello alice')));
    await waitStanza(alice.stanzas, (s) => s.is('message') && s.getChildText('body') === 'hello alice', 'the chat message');
    // Libervia 0.5 answers a node query without RSM with internal-server-error (its own bug): ask with RSM.
    const rsm = xml('set', { xmlns: RSM }, xml('max', {}, '10'));
    outcomes.mamNode = await ask(alice, xml('iq', { type: 'set', to: `alice@${DOMAIN}` }, xml('query', { xmlns: MAM, queryid: 'q-node', node: TUNE }, rsm)));
    outcomes.mamChat = await ask(alice, xml('iq', { type: 'set' }, xml('query', { xmlns: MAM, queryid: 'q-chat' }, xml('set', { xmlns: RSM }, xml('max', {}, '10')))));
    // 6. pubsub#owner: alice reads her tune node's configuration.
    outcomes.ownerConfigure = await ask(alice, xml('iq', { type: 'get', to: `alice@${DOMAIN}` }, xml('pubsub', { xmlns: OWNER }, xml('configure', { node: TUNE }))));
    ms.script = Date.now() - ts;

    const byName = (n: User['name']) => [...users.find((u) => u.name === n)!.stanzas];
    // PRIVGUARD_LIBERVIA_DUMP=1: every outcome and recorded stanza, and Libervia's log, in a file per run.
    if (process.env.PRIVGUARD_LIBERVIA_DUMP) {
      writeFileSync(join(tmpdir(), `privguard-libervia-${name}.txt`), [
        ...Object.entries(outcomes).map(([k, o]) => `${k}: ${o.error ?? o.result?.toString()}`),
        ...users.flatMap((u) => u.stanzas.map((s) => `${u.name} <= ${s.toString()}`)),
        ...tap.received.map((s) => `C <= ${s.toString()}`),
        ...tap.sent.map((s) => `C => ${s.toString()}`),
        ...audit.records.map((a) => `audit ${JSON.stringify(a)}`),
        libervia.log(),
      ].join('\n'));
    }
    ms.total = Date.now() - t0;
    return { name, ms, users: { alice: byName('alice'), bob: byName('bob'), carol: byName('carol') }, component: { received: [...tap.received], sent: [...tap.sent] }, audit: audit.records, outcomes, liberviaLog: libervia.log() };
  } finally {
    await Promise.allSettled(
      users.map(async (u) => {
        u.entity.reconnect.stop();
        await u.entity.stop();
      }),
    );
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
}

/** MAM results addressed to alice for query `queryid`: the forwarded stanzas. */
function mamResults(stanzas: Element[], queryid: string): Element[] {
  return stanzas.flatMap((s) => {
    const r = s.is('message') ? s.getChild('result', MAM) : undefined;
    return r && r.attrs.queryid === queryid ? [r.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message')!] : [];
  });
}

/** The id of the item a pubsub event message carries. */
const eventItemId = (m: Element): string => String(m.getChild('event', EVENT)?.getChild('items')?.getChild('item')?.attrs.id);

const itemIds = (o: IqOutcome): string[] =>
  (o.result?.getChild('pubsub', PUBSUB)?.getChild('items')?.getChildren('item') ?? []).map((i) => String(i.attrs.id));

const selected = prosodyVersions().includes('13');
const why = liberviaMissing();

(selected ? describe : describe.skip)('Libervia PubSub 0.5 as the PEP service of Prosody 13 [prosody-13]', () => {
  const runs = new Map<RunName, RunRecord>();
  beforeAll(() => {
    // Never a silent skip: with Prosody 13 selected, Libervia must be runnable here.
    if (why) throw new Error(why);
  });
  afterAll(() => {
    const line = [...runs.values()].map((r) => `${r.name} ${r.ms.total} ms (prosody ${r.ms.prosody}, postgres ${r.ms.postgres}, libervia ${r.ms.libervia}, script ${r.ms.script})`).join('; ');
    console.log(`libervia run times: ${line}`);
  });

  describe.each(['direct', 'same', 'narrow'] as const)('run %s', (name) => {
    let r: RunRecord;
    beforeAll(async () => {
      r = await run(name);
      runs.set(name, r);
    }, 120_000);

    it('alice publishes to her PEP and reads her items back', () => {
      expect(r.outcomes.publishTune1?.error).toBeUndefined();
      expect(r.outcomes.publishBlog?.error).toBeUndefined();
      expect(r.outcomes.publishTune2?.error).toBeUndefined();
      expect(itemIds(r.outcomes.aliceItems!)).toEqual(['b1']);
    });

    it('bob, her contact, gets her tune on his presence and when she publishes, and reads her blog; carol gets nothing', () => {
      const tunes = r.users.bob.filter((s) => s.is('message') && s.getChild('event', EVENT)).map(eventItemId);
      expect(tunes).toEqual(['t1', 't2']);
      expect(itemIds(r.outcomes.bobItems!)).toEqual(['b1']);
      expect(r.users.carol.filter((s) => s.getChild('event', EVENT))).toEqual([]);
    });

    it('MAM with node is Libervia\'s (her tunes), without node the server\'s (her chat)', () => {
      expect(r.outcomes.mamNode?.error).toBeUndefined();
      expect(mamResults(r.users.alice, 'q-node').map(eventItemId).sort()).toEqual(['t1', 't2']);
      expect(r.outcomes.mamChat?.error).toBeUndefined();
      expect(mamResults(r.users.alice, 'q-chat').map((m) => m.getChildText('body'))).toEqual(['hello alice']);
    });

    it(name === 'narrow' ? 'pubsub#owner is not delegated by the example policy: refused' : 'pubsub#owner: alice reads her node configuration', () => {
      const denials = r.audit.filter((a) => a.verdict === 'denied');
      if (name === 'narrow') {
        expect(r.outcomes.ownerConfigure?.error).toBe('service-unavailable');
        // Audited refusals, all of pubsub#owner: the server's two disco nesting queries and alice's
        // request; nothing else Libervia or the users did was refused.
        expect(denials.map((a) => [a.action, a.namespace, a.reason, a.user]).sort()).toEqual([
          ['delegation.disco', OWNER, 'not_delegated', undefined],
          ['delegation.disco', OWNER, 'not_delegated', undefined],
          ['delegation.forward', OWNER, 'not_delegated', 'alice'],
        ]);
      } else {
        expect(r.outcomes.ownerConfigure?.result?.getChild('pubsub', OWNER)?.getChild('configure')?.getChild('x', FORM)).toBeDefined();
        expect(denials).toEqual([]);
      }
    });
  });

  describe('stanza by stanza: what the component and the users received, direct vs through privguard', () => {
    const transcript = (r: RunRecord): Transcript => ({ component: r.component.received, ...r.users });
    /** Ids are chosen afresh in every run, by the clients, the server and Libervia. */
    // The delegation advertisement's list has no order (Prosody writes its table's order, which
    // varies from run to run); compare.ts already treats the privilege advertisement and RSM sets so.
    const opts = {
      replace: [[/ id="[^"]*"/g, ' id="*"']] as const,
      unordered: [['urn:xmpp:delegation:2', 'delegation']] as const,
    };
    it('the component and each user received the same stanzas, except what the policy changes', () => {
      const a = runs.get('direct');
      const b = runs.get('same');
      if (!a || !b) throw new Error('the direct and same runs did not complete');
      const diffs = compareTranscripts(transcript(a), transcript(b), opts);
      const { unexpected, unused } = unexpectedDifferences(diffs, SAME_RUN_DIFFERENCES);
      expect(formatDifferences(unexpected)).toBe('(no differences)');
      expect(unused).toEqual([]);
    });

    it('direct vs the example policy: the differences are exactly the ones it makes (pubsub#owner)', () => {
      const a = runs.get('direct');
      const c = runs.get('narrow');
      if (!a || !c) throw new Error('the direct and narrow runs did not complete');
      const diffs = compareTranscripts(transcript(a), transcript(c), opts);
      const { unexpected, unused } = unexpectedDifferences(diffs, NARROW_RUN_DIFFERENCES);
      expect(formatDifferences(unexpected)).toBe('(no differences)');
      expect(unused).toEqual([]);
    });
  });
});
