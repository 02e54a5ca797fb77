/**
 * Property tests of the XEP-0356 engine against an oracle written
 * independently of it (from the parameters that generated each stanza, not
 * from the stanza): for random policies, random server grants and random
 * privileged stanzas,
 *  1. nothing that needs a right outside (server grant ∩ policy) is passed;
 *  2. every IQ get/set from the component gets exactly one answer: relayed to
 *     the server (which answers it) or one error with its id, to the component.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideOutbound } from '../../src/policy/outbound.js';
import { context } from '../unit/policy/helpers.js';
import { stanza } from '../unit/policy/helpers.js';

const NAMESPACES = ['urn:a', 'urn:b', 'jabber:iq:private'] as const;
const USERS = ['alice', 'bob', 'admin', 'bot-1'] as const;
type Rw = { get: boolean; set: boolean };
// Biased towards granted and well-formed, so that single faults are common cases.
const often = fc.constantFrom(true, true, false);
const rwArb = fc.record({ get: often, set: often });
const accessOf = (rw: Rw) => (rw.get ? (rw.set ? 'both' : 'get') : rw.set ? 'set' : 'none');

const grantArb = fc.record({
  roster: rwArb,
  message: fc.boolean(),
  presence: fc.constantFrom('none', 'managed_entity', 'roster'),
  iq: fc.record({ 'urn:a': rwArb, 'urn:b': rwArb, 'jabber:iq:private': rwArb }),
});
type Grant = typeof grantArb extends fc.Arbitrary<infer T> ? T : never;

const scopeArb = fc.record({
  users: fc.constantFrom(['*'], ['*'], ['alice'], ['alice', 'bob'], ['b*'], ['*', 'admin']),
  except: fc.constantFrom([], [], ['admin'], ['bot-*'], ['ALICE']),
});

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(s);
}
function inScope(scope: { users: readonly string[]; except: readonly string[] }, local: string): boolean {
  return scope.users.some((p) => globMatch(p, local)) && !scope.except.some((p) => globMatch(p, local));
}

function policyYaml(p: Grant, scope: { users: readonly string[]; except: readonly string[] }, withIq: boolean): string {
  const iq = NAMESPACES.filter((ns) => withIq && (p.iq[ns].get || p.iq[ns].set)).map((ns) => `"${ns}": ${accessOf(p.iq[ns])}`);
  const presence = p.presence === 'roster' && !p.roster.get ? 'managed_entity' : p.presence;
  return `example.test:
  roster: ${accessOf(p.roster)}
  message: ${p.message ? 'outgoing' : 'none'}
  presence: ${presence}
  iq: { ${iq.join(', ')} }
  users: ${JSON.stringify(scope.users)}
  except_users: ${JSON.stringify(scope.except)}`;
}

function advertisement(s: Grant, version: 1 | 2): string {
  const iq = NAMESPACES.map((ns) => `<namespace ns='${ns}' type='${accessOf(s.iq[ns])}'/>`).join('');
  return `<message from='example.test' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:${version}'><perm access='roster' type='${accessOf(s.roster)}'/><perm access='message' type='${s.message ? 'outgoing' : 'none'}'/><perm access='presence' type='${s.presence}'/><perm access='iq'>${iq}</perm></privilege></message>`;
}

/** Capitals now and then: such a JID is refused (not in prepared form), so most targets are prepared. */
const rareCaps = fc.constantFrom(false, false, false, true);

const targetArb = fc.record({
  local: fc.constantFrom(...USERS, ...USERS, ''),
  caps: rareCaps,
  domain: fc.constantFrom('example.test', 'example.test', 'example.test', 'other.test'),
  resource: fc.constantFrom('', '', '', 'r'),
});
type Target = typeof targetArb extends fc.Arbitrary<infer T> ? T : never;
/** Mostly the server domain itself, sometimes anything. */
const domainTargetArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ local: fc.constant(''), caps: rareCaps, domain: fc.constant('example.test'), resource: fc.constant('') }) },
  { weight: 1, arbitrary: targetArb },
);
/** Mostly a managed bare JID. */
const userTargetArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ local: fc.constantFrom(...USERS), caps: rareCaps, domain: fc.constant('example.test'), resource: fc.constant('') }) },
  { weight: 1, arbitrary: targetArb },
);
const jid = (t: Target) => {
  const bare = t.local ? `${t.caps ? t.local.toUpperCase() : t.local}@${t.domain}` : t.domain;
  return t.resource ? `${bare}/${t.resource}` : bare;
};

const stanzaArb = fc.oneof(
  fc.record({ kind: fc.constant('roster' as const), type: fc.constantFrom('get', 'set', 'result'), to: userTargetArb }),
  fc.record({
    kind: fc.constant('message' as const),
    to: domainTargetArb,
    innerFrom: userTargetArb,
    wrapperVersion: fc.constantFrom(1, 2, 2),
    forwardedCount: fc.constantFrom(0, 1, 1, 1, 2),
    innerNs: fc.constantFrom('jabber:client', 'jabber:client', 'jabber:server'),
  }),
  fc.record({
    kind: fc.constant('piq' as const),
    type: fc.constantFrom('get', 'set'),
    innerType: fc.constantFrom('get', 'set'),
    to: userTargetArb,
    ns: fc.constantFrom(...NAMESPACES, 'urn:xmpp:delegation:2'),
    innerFrom: fc.option(targetArb, { nil: undefined, freq: 2 }),
    innerNs: fc.constantFrom('jabber:client', 'jabber:client', 'jabber:client', 'jabber:server'),
    innerId: often,
  }),
);
type Gen = typeof stanzaArb extends fc.Arbitrary<infer T> ? T : never;

function toXml(g: Gen): string {
  if (g.kind === 'roster') return `<iq type='${g.type}' id='x1' from='pubsub.example.test' to='${jid(g.to)}'><query xmlns='jabber:iq:roster'/></iq>`;
  if (g.kind === 'message') {
    const inner = `<message xmlns='${g.innerNs}' from='${jid(g.innerFrom)}' to='carol@example.test'/>`;
    return `<message from='pubsub.example.test' to='${jid(g.to)}' id='x1'><privilege xmlns='urn:xmpp:privilege:${g.wrapperVersion}'><forwarded xmlns='urn:xmpp:forward:0'>${inner.repeat(g.forwardedCount)}</forwarded></privilege></message>`;
  }
  const from = g.innerFrom ? ` from='${jid(g.innerFrom)}'` : '';
  const id = g.innerId ? ` id='in'` : '';
  return `<iq type='${g.type}' id='x1' from='pubsub.example.test' to='${jid(g.to)}'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='${g.innerNs}' type='${g.innerType}'${id}${from}><q xmlns='${g.ns}'/></iq></privileged_iq></iq>`;
}

/** The oracle: may this stanza pass, given the server grant and the policy? */
function allowed(g: Gen, server: Grant, policy: Grant, scope: { users: readonly string[]; except: readonly string[] }, version: 1 | 2): boolean {
  // A localpart in capitals is not the form the server prepares it to: refused in every position (non_canonical_jid).
  const canonical = (t: Target) => !(t.caps && t.local !== '');
  const managedBare = (t: Target) => t.local !== '' && t.resource === '' && t.domain === 'example.test' && canonical(t);
  if (g.kind === 'roster') {
    if (g.type === 'result') return canonical(g.to); // an answer, not a request
    return managedBare(g.to) && server.roster[g.type] && policy.roster[g.type] && inScope(scope, g.to.local);
  }
  if (g.kind === 'message') {
    const toDomain = g.to.local === '' && g.to.resource === '' && g.to.domain === 'example.test';
    const innerOk = canonical(g.innerFrom) && canonical(g.to) && g.innerFrom.resource === '' && g.innerFrom.domain === 'example.test' && (g.innerFrom.local === '' || inScope(scope, g.innerFrom.local));
    return toDomain && server.message && policy.message && g.wrapperVersion === version && g.forwardedCount === 1 && g.innerNs === 'jabber:client' && innerOk;
  }
  const ns = g.ns as (typeof NAMESPACES)[number];
  if (!NAMESPACES.includes(ns)) return false;
  const fromOk = g.innerFrom === undefined || (managedBare(g.innerFrom) && g.innerFrom.local === g.to.local);
  return (
    version === 2 &&
    managedBare(g.to) &&
    g.type === g.innerType &&
    g.innerNs === 'jabber:client' &&
    g.innerId &&
    fromOk &&
    server.iq[ns][g.type] &&
    policy.iq[ns][g.type] &&
    inScope(scope, g.to.local)
  );
}

let passedPrivileged = 0;

describe('XEP-0356 engine properties', () => {
  it('passes nothing outside server ∩ policy, and answers every IQ get/set exactly once', () => {
    fc.assert(
      fc.property(grantArb, grantArb, scopeArb, fc.constantFrom<1 | 2>(1, 2, 2), often, stanzaArb, (server, policy, scope, version, withIq, g) => {
        const pol = { ...policy, iq: withIq ? policy.iq : { 'urn:a': { get: false, set: false }, 'urn:b': { get: false, set: false }, 'jabber:iq:private': { get: false, set: false } } };
        const c = context(policyYaml(pol, scope, withIq), advertisement(server, version));
        const el = stanza(toXml(g));
        const v = decideOutbound(c.out, el);
        if (v.action === 'pass' && g.kind !== 'roster') passedPrivileged++;
        // 1. nothing passes that the oracle refuses
        if (v.action === 'pass') expect(allowed(g, server, pol, scope, version)).toBe(true);
        // and what the oracle allows is not refused (the engine is not stricter than the rules)
        if (allowed(g, server, pol, scope, version)) expect(v.action).toBe('pass');
        // 2. every IQ get/set: relayed, or exactly one error with its id back to the component
        const type = el.attrs.type as string;
        if (el.name === 'iq' && (type === 'get' || type === 'set')) {
          if (v.action === 'pass') return;
          expect(v.action).toBe('reject');
          if (v.action !== 'reject') return;
          expect(v.replies).toHaveLength(1);
          expect(v.replies[0]!.to).toBe('component');
          expect(v.replies[0]!.stanza.attrs).toMatchObject({ type: 'error', id: 'x1', to: 'pubsub.example.test' });
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 10_000) },
    );
    // The run must exercise the allowed side too, not only refusals.
    expect(passedPrivileged).toBeGreaterThan(60);
  });
});
