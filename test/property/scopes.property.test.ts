/**
 * Property tests of the content scopes (issue 14), against an oracle written
 * from the scope entries' meaning (not from the matcher), on a small universe
 * of JIDs that holds every kind of case — the component's domain, the server,
 * a subdomain, a remote domain, the user herself, case variants:
 *  1. nothing outside a scope reaches the server: a privileged message, a
 *     privileged IQ (to, pubsub nodes) or a roster set that passes has its
 *     target, nodes and items in scope;
 *  2. a roster result or push never carries an out-of-scope item to the
 *     component (what it gets: the stanza passed, or the filtered copy), nor
 *     does a contact's presence (presence: roster) come from outside roster_items;
 *  3. short forms behave exactly as before: a policy without the new keys
 *     decides every stanza exactly as the same policy with the new keys
 *     spelled out at their defaults ([any], { type, to: [any] }), so the
 *     keys this issue adds change nothing until they are narrowed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Element } from '@xmpp/xml';
import { decideInbound } from '../../src/policy/inbound.js';
import { decideOutbound } from '../../src/policy/outbound.js';
import type { Verdict } from '../../src/policy/verdict.js';
import { serialize } from '../../src/protocol/serialize.js';
import { C, context, stanza } from '../unit/policy/helpers.js';

const D = 'example.test';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const GRANT = `<message from='${D}' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/><perm access='presence' type='roster'/><perm access='iq'><namespace ns='vcard-temp' type='both'/><namespace ns='${PUBSUB}' type='both'/><namespace ns='jabber:iq:roster' type='both'/></perm></privilege></message>`;

/** [written form, normalised local, normalised domain] */
const JIDS: readonly (readonly [string, string, string])[] = [
  ['alice@example.test', 'alice', D],
  ['Alice@Example.TEST', 'alice', D],
  ['bob@example.test', 'bob', D],
  ['example.test', '', D],
  [`x@${C}`, 'x', C],
  [`+3361234@PUBSUB.example.test`, '+3361234', C],
  [C, '', C],
  [`y@sub.${C}`, 'y', `sub.${C}`],
  ['room@conference.example.test', 'room', 'conference.example.test'],
  ['conference.example.test', '', 'conference.example.test'],
  ['carol@remote.test', 'carol', 'remote.test'],
  ['remote.test/res', '', 'remote.test'],
];
const ENTRIES = ['any', 'self', 'component', 'server', 'remote.test', '*@conference.example.test', 'bob@example.test', '*.example.test'] as const;
type Entry = (typeof ENTRIES)[number];

/** The oracle: what each entry means, for a JID of the universe, acting for `self` (bare). */
function oracle(entries: readonly Entry[], local: string, domain: string, self: string): boolean {
  const bare = local ? `${local}@${domain}` : domain;
  return entries.some((e) => {
    switch (e) {
      case 'any':
        return true;
      case 'self':
        return bare === self;
      case 'component':
        return domain === C;
      case 'server':
        return local === '' && domain === D;
      case 'remote.test':
        return domain === 'remote.test';
      case '*@conference.example.test':
        return local !== '' && domain === 'conference.example.test';
      case 'bob@example.test':
        return bare === 'bob@example.test';
      case '*.example.test':
        return domain.endsWith('.example.test');
    }
  });
}

/** Written exactly as the server prepares it (bare form, or a resource after it). */
const canonical = ([written, local, domain]: readonly [string, string, string]) => written.split('/')[0] === (local ? `${local}@${domain}` : domain);

const scopeArb = fc.uniqueArray(fc.constantFrom(...ENTRIES), { minLength: 0, maxLength: 3 });
const jidArb = fc.constantFrom(...JIDS);
const NODES = ['urn:xmpp:bookmarks:1', 'urn:xmpp:avatar:data', 'urn:xmpp:avatar:metadata', 'urn:xmpp:omemo:2:devices', 'eu.siacs.conversations.axolotl.devicelist'] as const;
const nodeScopeArb = fc.constantFrom(['*'], ['urn:xmpp:bookmarks:1'], ['urn:xmpp:bookmarks:1', 'urn:xmpp:avatar:*'], ['urn:xmpp:omemo:*']);
function nodeOracle(patterns: readonly string[], node: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? node.startsWith(p.slice(0, -1)) : p === node));
}

const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

function policyYaml(s: { items: readonly Entry[]; to: readonly Entry[]; msg: readonly Entry[]; iqTo: readonly Entry[]; nodes: readonly string[] }): string {
  return `${D}:
  roster: both
  presence: roster
  roster_items: ${list(s.items)}
  message: outgoing
  message_to: ${list(s.msg)}
  iq:
    "vcard-temp": { type: both, to: ${list(s.iqTo)} }
    "${PUBSUB}": { type: both, to: ${list(s.to)}, nodes: ${list(s.nodes)} }
    "jabber:iq:roster": both`;
}

const policyArb = fc.record({ items: scopeArb, to: scopeArb, msg: scopeArb, iqTo: scopeArb, nodes: nodeScopeArb });
const userArb = fc.constantFrom('alice', 'bob');

const privMsg = (user: string, to: string) =>
  `<message from='${C}' to='${D}' id='m'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='${user}@${D}' to='${to}' id='i'/></forwarded></privilege></message>`;
const privIq = (user: string, type: string, payload: string, to: string | undefined) =>
  `<iq from='${C}' to='${user}@${D}' type='${type}' id='p'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='${type}' id='i'${to === undefined ? '' : ` to='${to}'`}>${payload}</iq></privileged_iq></iq>`;
const items = (jids: readonly (readonly [string, string, string])[], extra = '') => jids.map(([j]) => `<item jid='${j}'${extra}/>`).join('');

/** What the component would get of a server stanza after the verdict. */
function delivered(v: Verdict, el: Element): Element | undefined {
  if (v.action === 'pass') return el;
  if (v.action === 'filter') return v.stanza;
  return undefined;
}
function itemJids(el: Element | undefined): string[] {
  if (!el) return [];
  return [...serialize(el).matchAll(/<item jid="([^"]+)"/g)].map((m) => m[1]!);
}
const byWritten = new Map(JIDS.map((j) => [j[0], j]));

describe('content scopes: properties', () => {
  it('nothing outside a scope reaches the server', () => {
    fc.assert(
      fc.property(policyArb, userArb, jidArb, fc.option(jidArb, { nil: undefined }), fc.constantFrom(...NODES), fc.uniqueArray(jidArb, { minLength: 1, maxLength: 3 }), (p, user, target, iqTo, node, rosterItems) => {
        const ctx = context(policyYaml(p), GRANT);
        const self = `${user}@${D}`;
        // A privileged message.
        // Only prepared JIDs are judged at all (a non-canonical one is refused before any scope).
        const v = decideOutbound(ctx.out, stanza(privMsg(user, target[0])));
        expect(v.action === 'pass').toBe(canonical(target) && oracle(p.msg, target[1], target[2], self));
        // A privileged vcard IQ: to in scope (absent = self).
        const tv = decideOutbound(ctx.out, stanza(privIq(user, 'get', `<vCard xmlns='vcard-temp'/>`, iqTo?.[0])));
        expect(tv.action === 'pass').toBe(iqTo === undefined ? oracle(p.iqTo, user, D, self) : canonical(iqTo) && oracle(p.iqTo, iqTo[1], iqTo[2], self));
        // A privileged publish to the user's PEP.
        const pv = decideOutbound(ctx.out, stanza(privIq(user, 'set', `<pubsub xmlns='${PUBSUB}'><publish node='${node}'><item/></publish></pubsub>`, undefined)));
        expect(pv.action === 'pass').toBe(oracle(p.to, user, D, self) && nodeOracle(p.nodes, node));
        // Node-less operations pass only with every node in scope.
        const sv = decideOutbound(ctx.out, stanza(privIq(user, 'get', `<pubsub xmlns='${PUBSUB}'><subscriptions/></pubsub>`, undefined)));
        if (sv.action === 'pass') expect(p.nodes).toEqual(['*']);
        // A roster set, directly and through the iq right: all items in scope or refused.
        const allIn = rosterItems.every((j) => canonical(j) && oracle(p.items, j[1], j[2], self));
        const rv = decideOutbound(ctx.out, stanza(`<iq type='set' id='r' from='${C}' to='${self}'><query xmlns='jabber:iq:roster'>${items(rosterItems)}</query></iq>`));
        expect(rv.action === 'pass').toBe(allIn);
        // Through the iq right: judged on the prepared form of each item (what the server acts on).
        const qv = decideOutbound(ctx.out, stanza(privIq(user, 'set', `<query xmlns='jabber:iq:roster'>${items(rosterItems, " subscription='remove'")}</query>`, undefined)));
        const allInPrepared = rosterItems.every(([, l, d]) => oracle(p.items, l, d, self));
        if (qv.action === 'pass') expect(allInPrepared).toBe(true);
        if (allIn) expect(qv.action).toBe('pass');
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500) },
    );
  }, 120_000);

  it('a roster result or push never carries an out-of-scope item to the component', () => {
    fc.assert(
      fc.property(policyArb, userArb, fc.uniqueArray(jidArb, { minLength: 0, maxLength: 6 }), (p, user, roster) => {
        const ctx = context(policyYaml(p), GRANT);
        const self = `${user}@${D}`;
        const expected = roster.filter(([, l, d]) => oracle(p.items, l, d, self)).map(([j]) => j);
        const result = stanza(`<iq type='result' id='g' from='${self}' to='${C}'><query xmlns='jabber:iq:roster' ver='1'>${items(roster)}</query></iq>`);
        const rv = decideInbound(ctx.in, result);
        expect(itemJids(delivered(rv, result))).toEqual(expected);
        if (rv.action === 'filter') expect(rv.hidden).toBe(roster.length - expected.length);
        else expect(expected).toHaveLength(roster.length);
        ctx.pending.set('pq', self);
        const wrapped = stanza(`<iq type='result' id='pq' from='${self}' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='i' to='${self}'><query xmlns='jabber:iq:roster'>${items(roster)}</query></iq></forwarded></privilege></iq>`);
        expect(itemJids(delivered(decideInbound(ctx.in, wrapped), wrapped))).toEqual(expected);
        for (const one of roster) {
          const push = stanza(`<iq type='set' id='push' from='${self}' to='${C}'><query xmlns='jabber:iq:roster'>${items([one])}</query></iq>`);
          const v = decideInbound(ctx.in, push);
          const got = itemJids(delivered(v, push));
          expect(got).toEqual(oracle(p.items, one[1], one[2], self) ? [one[0]] : []);
          // Every push is answered exactly once: by the component (delivered) or by privguard.
          if (got.length === 0) expect(v.action === 'filter' && v.replies.map((r) => r.to)).toEqual(['server']);
        }
        expect(byWritten.size).toBe(JIDS.length);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500) },
    );
  }, 120_000);

  it('a pubsub payload of several children passes only with every node it names in scope', () => {
    const OPS = ['publish', 'retract', 'items', 'subscribe', 'unsubscribe', 'options', 'publish-options', 'configure', 'create', 'delete', 'purge', 'subscriptions', 'affiliations', 'default'] as const;
    const COMPANION = new Set(['publish-options', 'configure', 'options']);
    const childArb = fc.tuple(fc.constantFrom(...OPS), fc.option(fc.constantFrom(...NODES), { nil: undefined }), fc.boolean());
    fc.assert(
      fc.property(policyArb, fc.array(childArb, { minLength: 1, maxLength: 3 }), fc.constantFrom(PUBSUB, `${PUBSUB}#owner`), (p, children, ns) => {
        const text = policyYaml(p).replace(`"jabber:iq:roster": both`, `"jabber:iq:roster": both
    "${PUBSUB}#owner": { type: both, nodes: ${list(p.nodes)} }`);
        const grant = GRANT.replace(`<namespace ns='${PUBSUB}' type='both'/>`, `<namespace ns='${PUBSUB}' type='both'/><namespace ns='${PUBSUB}#owner' type='both'/>`);
        const ctx = context(text, grant);
        const payload = children.map(([op, node, foreign]) => `<${op}${foreign ? " xmlns='urn:example:other'" : ''}${node === undefined ? '' : ` node='${node}'`}/>`).join('');
        const v = decideOutbound(ctx.out, stanza(privIq('alice', 'set', `<pubsub xmlns='${ns}'>${payload}</pubsub>`, undefined)));
        const self = `alice@${D}`;
        const toOk = oracle(p.to, 'alice', D, self);
        const noded = children.some(([, node]) => node !== undefined);
        const nodesOk = (p.nodes as readonly string[]).includes('*') || children.every(([op, node]) => (node === undefined ? COMPANION.has(op) && noded : nodeOracle(p.nodes, node)));
        // The owner namespace's entry has no to scope (any); the plain one has p.to.
        expect(v.action === 'pass').toBe(nodesOk && (ns === PUBSUB ? toOk : true));
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500) },
    );
  }, 120_000);

  it('presence roster: a contact\'s presence reaches the component only when the contact is in roster_items', () => {
    fc.assert(
      fc.property(policyArb, jidArb, fc.constantFrom('', " type='unavailable'"), (p, contact, type) => {
        const ctx = context(policyYaml(p), GRANT);
        const [written, local, domain] = contact;
        const el = stanza(`<presence from='${written.split('/')[0]}/r' to='${C}'${type}/>`);
        const v = decideInbound(ctx.in, el);
        const got = delivered(v, el) !== undefined;
        // Presence of the server's own users is the managed-entity right (users), not a contact's;
        // a contact has no "self" (it is nobody's own account).
        if (local === '' || domain === D) return;
        expect(got).toBe(oracle(p.items, local, domain, ''));
        if (!got) expect(v).toMatchObject({ action: 'filter', hidden: 1, audit: { action: 'presence', hidden: 1 } });
        // The audit line of a hidden presence never names the contact.
        if (!got) expect(JSON.stringify(v.audit)).not.toContain(local);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500) },
    );
  }, 120_000);

  it('short forms decide exactly as the keys spelled out at their defaults', () => {
    const GRANTS = ['none', 'get', 'set', 'both'] as const;
    const shortArb = fc.record({ roster: fc.constantFrom(...GRANTS), vcard: fc.constantFrom('get', 'set', 'both'), pubsub: fc.constantFrom('get', 'set', 'both'), message: fc.boolean() });
    const stanzaArb = fc.tuple(userArb, jidArb, fc.option(jidArb, { nil: undefined }), fc.constantFrom(...NODES), fc.uniqueArray(jidArb, { maxLength: 3 }), fc.constantFrom('get', 'set'));
    fc.assert(
      fc.property(shortArb, stanzaArb, (s, [user, target, iqTo, node, rosterItems, type]) => {
        const head = `${D}:\n  roster: ${s.roster}\n  presence: ${s.roster === 'get' || s.roster === 'both' ? 'roster' : 'managed_entity'}\n  message: ${s.message ? 'outgoing' : 'none'}\n`;
        const short = `${head}  iq: { "vcard-temp": ${s.vcard}, "${PUBSUB}": ${s.pubsub}, "jabber:iq:roster": both }`;
        const long = `${head}  roster_items: [any]\n  message_to: [any]\n  iq:\n    "vcard-temp": { type: ${s.vcard}, to: [any] }\n    "${PUBSUB}": { type: ${s.pubsub}, to: [any], nodes: ["*"] }\n    "jabber:iq:roster": { type: both }`;
        const a = context(short, GRANT);
        const b = context(long, GRANT);
        const self = `${user}@${D}`;
        const outbound = [
          privMsg(user, target[0]),
          privIq(user, type, `<vCard xmlns='vcard-temp'/>`, iqTo?.[0]),
          privIq(user, type, `<pubsub xmlns='${PUBSUB}'><publish node='${node}'/><subscriptions/></pubsub>`, iqTo?.[0]),
          `<iq type='${type}' id='r' from='${C}' to='${self}'><query xmlns='jabber:iq:roster'>${items(rosterItems)}</query></iq>`,
        ];
        const inbound = [
          `<iq type='result' id='g' from='${self}' to='${C}'><query xmlns='jabber:iq:roster'>${items(rosterItems)}</query></iq>`,
          `<iq type='set' id='push' from='${self}' to='${C}'><query xmlns='jabber:iq:roster'>${items(rosterItems.slice(0, 1))}</query></iq>`,
          `<presence from='${target[0]}' to='${C}'/>`,
        ];
        const same = (x: Verdict, y: Verdict) => {
          expect({ ...x, rule: null }).toEqual({ ...y, rule: null });
          expect(x.rule?.value).toEqual(y.rule?.value);
        };
        for (const xml of outbound) same(decideOutbound(a.out, stanza(xml)), decideOutbound(b.out, stanza(xml)));
        for (const xml of inbound) same(decideInbound(a.in, stanza(xml)), decideInbound(b.in, stanza(xml)));
        // Nothing the short form decides is a scope decision.
        for (const xml of outbound) expect(decideOutbound(a.out, stanza(xml)).reason).not.toBe('out_of_scope');
        for (const xml of inbound) expect(decideInbound(a.in, stanza(xml)).action).not.toBe('filter');
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1000) },
    );
  }, 120_000);
});
