/**
 * Short forms behave exactly as before content scopes (issue 14): a
 * differential test of today's policy engine against the engine as it was
 * at the last commit before the scopes landed, taken from git history (not
 * a copy in the repository). `git archive` writes that revision's src/ into
 * .history/<rev>/ (gitignored, inside the repository so that its imports find
 * node_modules); a clone without that commit (a shallow clone) fails here with
 * a message saying so, never skips.
 *
 * Generated: policies with short forms only (roster, roster_push, message,
 * presence, iq "ns": get|set|both, users, except_users, delegations), the
 * new keys absent or spelled out at their defaults (roster_items [any],
 * message_to [any], iq { type, to: [any] } and, for pubsub, nodes ["*"]);
 * server advertisements; stanzas both ways: roster get/set, privileged
 * messages and IQs, their answers, roster results and pushes, presence,
 * delegated IQs and the component's replies to them. Both engines must give
 * the same verdict, reason, rule, texts, audit fields, replies and forwarded
 * stanza.
 *
 * Changes made on purpose since that revision, by other issues, are kept out
 * of the generated inputs (each named with the commit that made it), so any
 * other difference fails:
 *  - JIDs not in prepared form are refused (fbbf78e): every JID generated is prepared;
 *  - a roster set may give a subscription only to items in roster_subscription
 *    (aa93072): the policies say roster_subscription: [any], which the old schema
 *    already accepted and ignored;
 *  - presence the server sends without a presence privilege is subscription
 *    presence and passes (aa93072): presence to the component's bare domain is
 *    compared only where the server grants a presence privilege;
 *  - delegation replies are rebuilt from their judged parts (bd9b3ad): the old
 *    engine's pass and the new rewrite are the same verdict when the forwarded
 *    stanza is the same (replies are generated in the shape both accept).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Element } from '@xmpp/xml';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** The last commit of the policy engine before content scopes (1f37046 branched from it, cd19b07 landed on it). */
const REV = 'b644c006b878186462b0d17f66d6125b467f17f1';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HISTORY = join(ROOT, '.history');
const OLD = join(HISTORY, REV.slice(0, 12));

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Writes the old revision's src/ into .history/<rev>/ once (atomically: parallel workers may race). */
function extractOldEngine(): void {
  if (existsSync(join(OLD, '.complete'))) return;
  try {
    git('cat-file', '-e', `${REV}^{commit}`);
  } catch {
    let shallow: string;
    try {
      shallow = git('rev-parse', '--is-shallow-repository') === 'true' ? ' This is a shallow clone: run `git fetch --unshallow`.' : '';
    } catch {
      shallow = ' (no git repository here)';
    }
    throw new Error(`the differential test needs the engine before content scopes from git history: commit ${REV} is not in this clone.${shallow}`);
  }
  mkdirSync(HISTORY, { recursive: true });
  const tmp = mkdtempSync(join(HISTORY, 'tmp-'));
  try {
    const tar = join(tmp, 'src.tar');
    git('archive', '--format=tar', '-o', tar, REV, 'src');
    execFileSync('tar', ['-xf', tar, '-C', tmp]);
    rmSync(tar);
    writeFileSync(join(tmp, '.complete'), `${REV}\n`);
    renameSync(tmp, OLD);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // Another worker got there first.
    if (!existsSync(join(OLD, '.complete'))) throw e;
  }
}

// ── the two engines behind one small interface ───────────────────────────

interface LooseRule {
  path: string;
  value: string;
}
interface LooseVerdict {
  action: string;
  reason: string;
  rule: LooseRule | null;
  subject: string;
  detail?: string;
  audit?: Record<string, unknown>;
  replies?: { to: string; stanza: Element }[];
  stanza?: Element;
  track?: Record<string, unknown>;
  streamError?: unknown;
  enforced?: boolean;
  learn?: unknown;
  settle?: unknown;
  hidden?: number;
}
interface OpaqueComponent {
  privileges: Map<string, unknown>;
}
/** What the test uses of an engine's modules; today's and the old one both have this shape. */
interface EngineModules {
  load: { loadPolicyText(text: string, file: string, env: NodeJS.ProcessEnv): unknown };
  compile: { compilePolicy(policy: never): { components: Map<string, OpaqueComponent> } };
  grants: { effectiveGrant(domain: string, adv: never, policy: never): { grant: unknown } };
  privilege: { parseAdvertisement(el: Element): unknown };
  parser: {
    StreamParser: new (
      handlers: { onHeader: () => void; onStanza: (e: Element) => void; onEnd: () => void },
      limits: { maxStanzaBytes: number; maxDepth: number },
    ) => { write(chunk: string): { text: string } | undefined };
  };
  outbound: { decideOutbound(ctx: never, el: Element): LooseVerdict };
  inbound: { decideInbound(ctx: never, el: Element): LooseVerdict };
}

async function modules(src: string): Promise<EngineModules> {
  const m = (p: string) => import(join(src, p)) as Promise<unknown>;
  const [load, compile, grants, privilege, parser, outbound, inbound] = await Promise.all([
    m('config/load.ts'),
    m('policy/compile.ts'),
    m('policy/grants.ts'),
    m('protocol/privilege.ts'),
    m('protocol/parser.ts'),
    m('policy/outbound.ts'),
    m('policy/inbound.ts'),
  ]);
  return { load, compile, grants, privilege, parser, outbound, inbound } as EngineModules;
}

const HEADER = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>";

/** One engine with its own parser, a policy, the server's advertisements and the state a session keeps. */
class Engine {
  private readonly pending = new Map<string, string>();
  private readonly delegPending = new Map<string, unknown>();
  private readonly out: unknown;
  private readonly in: unknown;

  constructor(
    private readonly m: EngineModules,
    policyText: string,
    advertisements: readonly string[],
    delegations: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>,
  ) {
    const loaded = m.load.loadPolicyText(policyText, 'differential.yaml', {});
    const component = m.compile.compilePolicy(loaded as never).components.get(C);
    if (!component) throw new Error('the generated policy has no component');
    const grants = new Map<string, unknown>();
    for (const adv of advertisements) {
      const el = this.parse(adv);
      const domain = String(el.attrs.from);
      grants.set(domain, m.grants.effectiveGrant(domain, m.privilege.parseAdvertisement(el) as never, component.privileges.get(domain) as never).grant);
    }
    const { pending, delegPending } = this;
    this.out = { component, grants, isPending: (id: string) => pending.has(id), pendingFull: false, delegationPending: (id: string) => delegPending.get(id), delegationClosed: () => false };
    this.in = {
      component,
      grants,
      pendingUser: (id: string) => pending.get(id),
      expiredUser: () => undefined,
      delegations,
      isDelegationPending: (id: string) => delegPending.has(id),
      delegationPendingFull: false,
    };
  }

  parse(xml: string): Element {
    const out: Element[] = [];
    const p = new this.m.parser.StreamParser({ onHeader: () => {}, onStanza: (e) => void out.push(e), onEnd: () => {} }, { maxStanzaBytes: 1 << 20, maxDepth: 64 });
    const failed = p.write(HEADER + xml);
    if (failed || out.length !== 1) throw new Error(`generated stanza did not parse: ${failed?.text ?? 'no stanza'}: ${xml}`);
    return out[0]!;
  }

  /** Judges one stanza and keeps what a session would keep of the verdict (tracks). */
  decide(dir: 'out' | 'in', xml: string): { verdict: LooseVerdict; input: Element } {
    const input = this.parse(xml);
    const verdict = dir === 'out' ? this.m.outbound.decideOutbound(this.out as never, input) : this.m.inbound.decideInbound(this.in as never, input);
    const track = verdict.track;
    if (verdict.action === 'pass' && track?.kind === 'privileged_iq') this.pending.set(String(track.id), String(track.user));
    if (verdict.action === 'pass' && track?.kind === 'delegated_iq') this.delegPending.set(String(track.id), track);
    return { verdict, input };
  }
}

// ── comparing verdicts ───────────────────────────────────────────────────

type Canon = string | { name: string; attrs: [string, string][]; children: Canon[] };

/** An element as data: name, attributes in order of name, children (no parent links, no classes). */
function canon(el: Element | string | undefined): Canon | null {
  if (el === undefined) return null;
  if (typeof el === 'string') return el;
  const attrs = Object.entries(el.attrs as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]): [string, string] => [k, String(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { name: el.name, attrs, children: el.children.map((c) => canon(c)!) };
}

/** What a verdict does: the stanza that goes on (if any), the answers, and what is said and audited. */
function effect(v: LooseVerdict, input: Element, delegationReply: boolean) {
  const forwarded = v.action === 'pass' ? input : v.action === 'rewrite' || v.action === 'filter' ? v.stanza : undefined;
  const track = v.track && { ...v.track, request: canon(v.track.request as Element | undefined), inner: canon(v.track.inner as Element | undefined) };
  return {
    // bd9b3ad: a delegation reply is always forwarded rebuilt (a rewrite) where the old engine passed it as it came.
    action: delegationReply && v.action === 'rewrite' ? 'pass' : v.action,
    reason: v.reason,
    rule: v.rule,
    subject: v.subject,
    detail: v.detail,
    audit: v.audit,
    forwarded: canon(forwarded),
    replies: (v.replies ?? []).map((r) => ({ to: r.to, stanza: canon(r.stanza) })),
    streamError: v.streamError,
    track,
    learn: v.learn,
    settle: v.settle,
  };
}

// ── the generated world ──────────────────────────────────────────────────

const C = 'pubsub.example.test';
const D = 'example.test';
const D2 = 'other.test';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const NAMESPACES = ['vcard-temp', PUBSUB, `${PUBSUB}#owner`, 'jabber:iq:private', 'jabber:iq:roster'] as const;
const DELEGATED = 'urn:example:delegated';
type Rw = 'get' | 'set' | 'both';

/** Prepared JIDs only (fbbf78e refuses the others before any rule). */
const USERS = ['alice', 'bob', 'bot-1', 'carol'] as const;
const USER_DOMAINS = [D, D, D2, 'remote.test'] as const;
const TARGETS = ['alice@example.test', 'bob@example.test', `x@${C}`, C, D, 'carol@remote.test', 'carol@remote.test/res', 'room@conference.example.test', `alice@${D2}`] as const;

const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

interface DomainPolicy {
  roster: 'none' | 'get' | 'set' | 'both';
  push: boolean | undefined;
  message: boolean;
  presence: 'none' | 'managed_entity' | 'roster';
  iq: [string, Rw, boolean][];
  users: readonly string[];
  except: readonly string[];
  /** Spell the new keys out at their defaults (only today's engine reads them). */
  defaults: boolean;
}

/** Mostly the widest value, so that most stanzas get past the grants to the rules after them. */
const mostly = <T,>(wide: T, ...others: T[]): fc.Arbitrary<T> => fc.oneof({ arbitrary: fc.constant(wide), weight: 3 }, { arbitrary: fc.constantFrom(wide, ...others), weight: 1 });

const domainPolicyArb: fc.Arbitrary<DomainPolicy> = fc
  .record({
    roster: mostly<DomainPolicy['roster']>('both', 'none', 'get', 'set'),
    push: fc.constantFrom(undefined, true, false),
    message: mostly(true, false),
    presence: mostly<DomainPolicy['presence']>('roster', 'none', 'managed_entity'),
    iq: mostly([...NAMESPACES], []).chain((all) =>
      (all.length ? fc.constant(all) : fc.subarray([...NAMESPACES])).chain((nss) => fc.tuple(...nss.map((ns) => fc.tuple(fc.constant<string>(ns), mostly<Rw>('both', 'get', 'set'), fc.boolean())))),
    ),
    users: fc.oneof({ arbitrary: fc.constant<readonly string[]>(['*']), weight: 2 }, { arbitrary: fc.uniqueArray(fc.constantFrom('*', 'alice', 'b*', 'bot-?', 'carol'), { minLength: 1, maxLength: 2 }), weight: 1 }),
    except: fc.uniqueArray(fc.constantFrom('bob', 'bot-*'), { maxLength: 1 }),
    defaults: fc.boolean(),
  })
  .map((p) => {
    // Keep to policies both schemas accept (presence roster and roster_push true need roster read).
    const reads = p.roster === 'get' || p.roster === 'both';
    return { ...p, presence: !reads && p.presence === 'roster' ? 'managed_entity' : p.presence, push: !reads && p.push === true ? undefined : p.push };
  });

function domainYaml(name: string, p: DomainPolicy, today: boolean): string {
  const lines = [`      ${name}:`, `        roster: ${p.roster}`, `        message: ${p.message ? 'outgoing' : 'none'}`, `        presence: ${p.presence}`];
  if (p.push !== undefined) lines.push(`        roster_push: ${p.push}`);
  // Neutralises aa93072 (roster sets giving subscriptions); the old schema accepted and ignored the key.
  lines.push('        roster_subscription: [any]');
  lines.push(`        users: ${list(p.users)}`, `        except_users: ${list(p.except)}`);
  if (today && p.defaults) lines.push('        roster_items: [any]', '        message_to: [any]');
  if (p.iq.length === 0) lines.push('        iq: {}');
  else {
    lines.push('        iq:');
    for (const [ns, rw, long] of p.iq) {
      if (today && p.defaults && long) lines.push(`          ${JSON.stringify(ns)}: { type: ${rw}, to: [any]${ns.startsWith(PUBSUB) ? ', nodes: ["*"]' : ''} }`);
      else lines.push(`          ${JSON.stringify(ns)}: ${rw}`);
    }
  }
  return lines.join('\n');
}

interface World {
  domains: { name: string; policy: DomainPolicy }[];
  delegation: false | string[];
  adverts: { domain: string; version: 1 | 2; roster: string; message: boolean; presence: string; iq: [string, string][] }[];
}

function policyYaml(w: World, today: boolean): string {
  const head = ['components:', `  ${C}:`, '    secret: s', '    upstream_secret: u', '    privileges:'];
  const privileges = w.domains.map((d) => domainYaml(d.name, d.policy, today));
  const delegations = w.delegation === false ? [] : ['    delegations:', `      ${D}:`, `        ${JSON.stringify(DELEGATED)}: { attributes: ${list(w.delegation)} }`];
  return [...head, ...privileges, ...delegations, ''].join('\n');
}

function advertisement(a: World['adverts'][number]): string {
  const ns = `urn:xmpp:privilege:${a.version}`;
  const perms = [`<perm access='roster' type='${a.roster}'/>`, `<perm access='message' type='${a.message ? 'outgoing' : 'none'}'/>`, `<perm access='presence' type='${a.presence}'/>`];
  if (a.version === 2 && a.iq.length > 0) perms.push(`<perm access='iq'>${a.iq.map(([n, t]) => `<namespace ns='${n}' type='${t}'/>`).join('')}</perm>`);
  return `<message from='${a.domain}' to='${C}' id='adv'><privilege xmlns='${ns}'>${perms.join('')}</privilege></message>`;
}

const worldArb: fc.Arbitrary<World> = fc.record({
  domains: fc
    .tuple(domainPolicyArb, fc.option(domainPolicyArb, { nil: undefined }))
    .map(([a, b]) => [{ name: D, policy: a }, ...(b ? [{ name: D2, policy: b }] : [])]),
  delegation: fc.oneof(fc.constant(false as const), fc.uniqueArray(fc.constantFrom('node', 'var'), { maxLength: 1 })),
  adverts: fc
    .tuple(
      ...[D, D2].map((domain) =>
        fc.option(
          fc.record({
            domain: fc.constant(domain),
            version: mostly<1 | 2>(2, 1),
            roster: mostly('both', 'none', 'get', 'set'),
            message: mostly(true, false),
            presence: mostly('roster', 'none', 'managed_entity'),
            iq: fc.subarray([...NAMESPACES]).chain((nss) => fc.tuple(...nss.map((ns) => fc.tuple(fc.constant<string>(ns), mostly('both', 'none', 'get', 'set'))))),
          }),
          { nil: undefined, freq: 6 },
        ),
      ),
    )
    .map((xs) => xs.filter((x) => x !== undefined)),
});

/** One step of a conversation: a stanza, its direction, and whether it is a component's delegation reply. */
interface Step {
  dir: 'out' | 'in';
  xml: string;
  delegationReply?: true;
  /** The presence is judged where aa93072 changed the rules on purpose (see the header). */
  presence?: { to: string; from: string };
}

const userArb = fc.tuple(fc.constantFrom(...USERS), fc.constantFrom(...USER_DOMAINS)).map(([l, d]) => `${l}@${d}`);
const targetArb = fc.constantFrom(...TARGETS);
const itemArb = fc.tuple(
  fc.constantFrom(...TARGETS.filter((t) => !t.includes('/'))),
  fc.constantFrom('', " subscription='none'", " subscription='remove'", " subscription='to'", " subscription='both'", " ask='subscribe'"),
);
const itemsXml = (items: readonly [string, string][]) => items.map(([j, extra]) => `<item jid='${j}'${extra}/>`).join('');

const PAYLOADS = [
  `<vCard xmlns='vcard-temp'/>`,
  `<pubsub xmlns='${PUBSUB}'><publish node='urn:xmpp:bookmarks:1'><item id='x'/></publish></pubsub>`,
  `<pubsub xmlns='${PUBSUB}'><publish node='urn:xmpp:omemo:2:devices'><item/></publish><publish-options/></pubsub>`,
  `<pubsub xmlns='${PUBSUB}'><items node='eu.siacs.conversations.axolotl.devicelist' max_items='1'/></pubsub>`,
  `<pubsub xmlns='${PUBSUB}'><subscriptions/></pubsub>`,
  `<pubsub xmlns='${PUBSUB}#owner'><delete node='urn:xmpp:bookmarks:1'/></pubsub>`,
  `<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>`,
  `<query xmlns='jabber:iq:roster'><item jid='carol@remote.test' subscription='remove'/></query>`,
  `<query xmlns='jabber:iq:roster'/>`,
  `<query xmlns='urn:xmpp:privilege:2'/>`,
  `<vCard xmlns='vcard-temp'/><query xmlns='jabber:iq:private'/>`,
] as const;

const privilegeNsArb = mostly('urn:xmpp:privilege:2', 'urn:xmpp:privilege:1');

const stepArb: fc.Arbitrary<Step[]> = fc.oneof(
  // Roster get and set by the component.
  fc.tuple(userArb, fc.constantFrom('get', 'set'), fc.array(itemArb, { maxLength: 3 }), fc.nat(99)).map(([user, type, items, n]) => [
    { dir: 'out' as const, xml: `<iq type='${type}' id='r${n}' from='${C}' to='${user}'><query xmlns='jabber:iq:roster'>${type === 'set' ? itemsXml(items) : ''}</query></iq>` },
  ]),
  // A privileged message (XEP-0356 §5).
  fc.tuple(userArb, targetArb, privilegeNsArb, fc.constantFrom(D, D2), fc.boolean()).map(([user, to, ns, outerTo, server]) => [
    {
      dir: 'out' as const,
      xml: `<message from='${C}' to='${outerTo}' id='m'><privilege xmlns='${ns}'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='${server ? outerTo : user}' to='${to}' type='chat' id='i'><body>hi</body></message></forwarded></privilege></message>`,
    },
  ]),
  // A privileged IQ (XEP-0356 §6), then the server's answer to it.
  fc.tuple(userArb, fc.constantFrom('get', 'set'), fc.constantFrom(...PAYLOADS), fc.option(targetArb, { nil: undefined }), privilegeNsArb, fc.constantFrom('result', 'error')).map(
    ([user, type, payload, to, ns, answer]) => {
      const innerTo = to === undefined ? '' : ` to='${to}'`;
      const response =
        answer === 'result'
          ? `<iq type='result' id='pq' from='${user}' to='${C}'><privilege xmlns='${ns}'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='i' to='${user}'><query xmlns='jabber:iq:roster'>${itemsXml([['bob@example.test', " subscription='both'"]])}</query></iq></forwarded></privilege></iq>`
          : `<iq type='error' id='pq' from='${user}' to='${C}'><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`;
      return [
        { dir: 'out' as const, xml: `<iq from='${C}' to='${user}' type='${type}' id='pq'><privileged_iq xmlns='${ns}'><iq xmlns='jabber:client' type='${type}' id='i'${innerTo}>${payload}</iq></privileged_iq></iq>` },
        { dir: 'in' as const, xml: response },
      ];
    },
  ),
  // The server: a roster result and a roster push.
  fc.tuple(userArb, fc.array(itemArb, { maxLength: 3 }), fc.boolean()).map(([user, items, push]) => [
    {
      dir: 'in' as const,
      xml: push
        ? `<iq type='set' id='push' from='${user}' to='${C}'><query xmlns='jabber:iq:roster' ver='2'>${itemsXml(items.slice(0, 1))}</query></iq>`
        : `<iq type='result' id='g' from='${user}' to='${C}'><query xmlns='jabber:iq:roster' ver='1'>${itemsXml(items)}</query></iq>`,
    },
  ]),
  // Presence from a user or contact, to the component's domain or a JID at it.
  fc.tuple(fc.oneof(userArb, targetArb), fc.constantFrom(C, `x@${C}`), fc.constantFrom('', " type='unavailable'")).map(([from, to, type]) => [
    { dir: 'in' as const, xml: `<presence from='${from.includes('/') ? from : `${from}/r`}' to='${to}'${type}/>`, presence: { to, from } },
  ]),
  // A delegated IQ (XEP-0355), then the component's answer in the shape both engines accept.
  fc.tuple(userArb, fc.boolean(), fc.constantFrom('get', 'set'), fc.boolean(), fc.constantFrom('result', 'error')).map(([user, attr, type, mine, answer]) => {
    const payload = `<query xmlns='${mine ? DELEGATED : 'urn:example:other'}'${attr ? " node='n'" : ''}/>`;
    const inner = answer === 'result' ? `<query xmlns='${DELEGATED}'/>` : `<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`;
    return [
      {
        dir: 'in' as const,
        xml: `<iq from='${D}' to='${C}' type='set' id='dq'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='${user}/res' to='${D}' type='${type}' id='u1'>${payload}</iq></forwarded></delegation></iq>`,
      },
      {
        dir: 'out' as const,
        delegationReply: true as const,
        xml: `<iq from='${C}' to='${D}' type='result' id='dq'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='${D}' to='${user}/res' type='${answer}' id='u1'>${inner}</iq></forwarded></delegation></iq>`,
      },
    ];
  }),
  // Stanzas nobody judges.
  fc.constantFrom<Step[]>([{ dir: 'out', xml: `<message from='x@${C}' to='alice@example.test' type='chat'><body>plain</body></message>` }], [{ dir: 'out', xml: `<presence from='x@${C}' to='alice@example.test'/>` }]),
);

/** aa93072: presence to the bare component domain where no server grants the matching presence privilege. */
function presenceChangedOnPurpose(w: World, p: NonNullable<Step['presence']>): boolean {
  if (p.to !== C) return false;
  const fromDomain = p.from.split('/')[0]!.split('@').pop()!;
  const managed = w.domains.some((d) => d.name === fromDomain);
  const adv = (d: string) => w.adverts.find((a) => a.domain === d);
  if (managed) {
    const a = adv(fromDomain);
    return a === undefined || a.presence === 'none';
  }
  // The server sends contacts' presence only with presence roster, which needs roster read (XEP-0356 §7.4).
  return !w.adverts.some((a) => a.presence === 'roster' && (a.roster === 'get' || a.roster === 'both'));
}

// ── the test ─────────────────────────────────────────────────────────────

/** Both engines, loaded once; a missing history fails each test that needs it (never a skip). */
let loading: Promise<{ today: EngineModules; before: EngineModules }> | undefined;
function engines(): Promise<{ today: EngineModules; before: EngineModules }> {
  loading ??= (async () => {
    extractOldEngine();
    const [today, before] = await Promise.all([modules(join(ROOT, 'src')), modules(join(OLD, 'src'))]);
    return { today, before };
  })();
  return loading;
}

describe(`short forms: today's engine against the engine before content scopes (${REV.slice(0, 12)}, from git history)`, () => {
  it('the old engine is the one from history, and it knows nothing of scopes', async () => {
    const { before } = await engines();
    expect(existsSync(join(OLD, 'src/policy/outbound.ts'))).toBe(true);
    expect(existsSync(join(OLD, 'src/policy/nodes.ts'))).toBe(false);
    const text = `components:\n  ${C}:\n    secret: s\n    privileges:\n      ${D}:\n        message: outgoing\n        message_to: [component]\n`;
    expect(() => before.load.loadPolicyText(text, 'old.yaml', {})).toThrow(/message_to/);
  });

  it('decide every generated stanza the same: verdict, reason, rule, audit, replies and forwarded stanza', async () => {
    const { today, before } = await engines();
    let compared = 0;
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(worldArb, fc.array(stepArb, { minLength: 1, maxLength: 6 }), (w, conversation) => {
        const delegated = new Map(w.delegation === false ? [] : [[D, new Map([[DELEGATED, [] as readonly string[]]])]]);
        const adverts = w.adverts.map(advertisement);
        const a = new Engine(today, policyYaml(w, true), adverts, delegated);
        const b = new Engine(before, policyYaml(w, false), adverts, delegated);
        for (const step of conversation.flat()) {
          const x = a.decide(step.dir, step.xml);
          const y = b.decide(step.dir, step.xml);
          if (step.presence && presenceChangedOnPurpose(w, step.presence)) continue;
          const reply = step.delegationReply === true;
          expect(effect(x.verdict, x.input, reply), step.xml).toEqual(effect(y.verdict, y.input, reply));
          // Short forms never make a scope decision.
          expect(x.verdict.reason).not.toBe('out_of_scope');
          compared++;
          const key = `${step.dir} ${x.verdict.subject} ${x.verdict.action} ${x.verdict.reason}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500) },
    );
    expect(compared).toBeGreaterThan(1500);
    // The comparison reaches past the grants: every kind of judged stanza was allowed somewhere.
    const passed = (subject: string) => [...seen].filter(([k]) => k.includes(` ${subject} pass `) || k.includes(` ${subject} rewrite `)).reduce((n, [, c]) => n + c, 0);
    for (const subject of ['roster get', 'roster set', 'privileged message', 'privileged iq get', 'privileged iq set', 'privileged iq response', 'roster push', 'presence', 'delegated iq', 'delegation reply']) {
      expect(passed(subject), subject).toBeGreaterThan(5);
    }
    if (process.env.DIFF_STATS) console.log([...seen].sort().map(([k, n]) => `${n}\t${k}`).join('\n'));
  }, 180_000);
});
