/**
 * Compiles the validated policy once into lookup structures the decisions
 * read: per component, per server domain, the granted rights as flags, the
 * user scope as a matcher, and the YAML path of every rule so that texts and
 * audit lines can name what decided. Nothing here runs per stanza.
 */
import type { ComponentConfig, LoadedPolicy } from '../config/load.js';
import type { Mode } from '../config/schema.js';
import { normaliseDomain } from '../protocol/jid.js';
import { nodeprep } from '../protocol/stringprep.js';
import { compileNodeScope, type NodeScope } from './nodes.js';
import { compileJidScope, type JidScope } from './scope.js';
import { readWrite, type IqAccess, type MessageAccess, type PresenceAccess, type ReadWrite, type RosterAccess } from '../protocol/privilege.js';

/** The YAML path of a rule and the value found there. */
export interface Rule {
  path: string;
  value: string;
}

export type ScopeResult = { ok: true } | { ok: false; rule: Rule };

/** Decides whether a (prepared) localpart is in scope; except_users always wins. */
export interface UserScope {
  check(local: string): ScopeResult;
}

/** A JID scope with the rule that names it (texts, audit, `explain`). */
export interface ScopeRule {
  scope: JidScope;
  rule: Rule;
}

/** One granted iq namespace: short form, or long form with its scopes. */
export interface CompiledIq {
  rw: ReadWrite;
  value: IqAccess;
  /** e.g. components.x.privileges.example.org.iq.vcard-temp */
  path: string;
  /** Inner "to" scope (absent "to" = the user's own account = self); [any] for the short form. */
  to: ScopeRule;
  /** Pubsub node scope; undefined = every node (short form, or no nodes key). */
  nodes: (NodeScope & { rule: Rule }) | undefined;
}

export interface CompiledPrivileges {
  domain: string;
  /** e.g. components.pubsub.example.org.privileges.example.org */
  path: string;
  roster: ReadWrite;
  rosterValue: RosterAccess;
  /** roster_push as configured, or its XEP-0356 §4.1 default (true with get/both). */
  push: boolean;
  /** Roster items a roster set may subscribe (roster_subscription). */
  rosterSubscription: JidScope;
  message: MessageAccess;
  /** Whom a privileged message may be addressed to (message_to). */
  messageTo: ScopeRule;
  presence: PresenceAccess;
  iq: ReadonlyMap<string, CompiledIq>;
  users: UserScope;
}

/** One namespace the policy delegates from one server domain. */
export interface CompiledDelegation {
  namespace: string;
  /** Attributes that must all be present on the IQ's first child. */
  attributes: readonly string[];
  /** e.g. components.pubsub.example.org.delegations.example.org.urn:xmpp:mam:2 */
  path: string;
}

export type Speaks = 'auto' | 1 | 2;

export interface CompiledComponent {
  name: string;
  path: string;
  /** Namespace versions towards the component (`auto`: as the server). */
  speaks: { privilege: Speaks; delegation: Speaks };
  /** Keyed by normalised server domain. */
  privileges: ReadonlyMap<string, CompiledPrivileges>;
  /** Server domain → namespace → delegation. */
  delegations: ReadonlyMap<string, ReadonlyMap<string, CompiledDelegation>>;
}

export interface CompiledPolicy {
  mode: Mode;
  pendingTimeoutMs: number;
  maxPending: number;
  components: ReadonlyMap<string, CompiledComponent>;
}

/** A pattern prepared like the localparts it is matched against (nodeprep; `*` and `?` pass through it unchanged). */
function prepPattern(s: string): string {
  const p = nodeprep(s);
  return p.ok ? p.value : s; // the schema refuses patterns nodeprep refuses
}

export function listValue(items: readonly string[]): string {
  const text = JSON.stringify(items);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * Literal patterns go into a Set (one lookup, however many there are);
 * wildcard patterns into one anchored alternation.
 */
function globMatcher(patterns: readonly string[]): (local: string) => boolean {
  const literals = new Set<string>();
  const wild: string[] = [];
  for (const raw of patterns) {
    const p = prepPattern(raw);
    if (p === '*') return () => true;
    if (/[*?]/.test(p)) {
      wild.push(p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.'));
    } else {
      literals.add(p);
    }
  }
  const re = wild.length > 0 ? new RegExp(`^(?:${wild.join('|')})$`, 'su') : undefined;
  return (local) => literals.has(local) || (re !== undefined && re.test(local));
}

function scopeRule(entries: readonly string[], path: string): ScopeRule {
  return { scope: compileJidScope(entries), rule: { path, value: listValue(entries) } };
}

export function compileScope(users: readonly string[], except: readonly string[], path: string): UserScope {
  const inUsers = globMatcher(users);
  const inExcept = globMatcher(except);
  const usersRule: Rule = { path: `${path}.users`, value: listValue(users) };
  const exceptRule: Rule = { path: `${path}.except_users`, value: listValue(except) };
  return {
    check(local) {
      if (inExcept(local)) return { ok: false, rule: exceptRule };
      if (!inUsers(local)) return { ok: false, rule: usersRule };
      return { ok: true };
    },
  };
}

function compileComponent(c: ComponentConfig): CompiledComponent {
  const path = `components.${c.key}`;
  const privileges = new Map<string, CompiledPrivileges>();
  for (const [domainKey, p] of Object.entries(c.policy.privileges)) {
    const domain = normaliseDomain(domainKey)!; // validated by the schema
    const dpath = `${path}.privileges.${domainKey}`;
    const roster = readWrite(p.roster);
    const iq = new Map<string, CompiledIq>();
    for (const [ns, grant] of Object.entries(p.iq)) {
      const ipath = `${dpath}.iq.${ns}`;
      if (typeof grant === 'string') {
        iq.set(ns, { rw: readWrite(grant), value: grant, path: ipath, to: scopeRule(['any'], `${ipath}.to`), nodes: undefined });
        continue;
      }
      const nodes = grant.nodes === undefined ? undefined : { ...compileNodeScope(grant.nodes), rule: { path: `${ipath}.nodes`, value: listValue(grant.nodes) } };
      iq.set(ns, { rw: readWrite(grant.type), value: grant.type, path: ipath, to: scopeRule(grant.to, `${ipath}.to`), nodes });
    }
    privileges.set(domain, {
      domain,
      path: dpath,
      roster,
      rosterValue: p.roster,
      push: p.roster_push ?? roster.get,
      rosterSubscription: compileJidScope(p.roster_subscription),
      message: p.message,
      messageTo: scopeRule(p.message_to, `${dpath}.message_to`),
      presence: p.presence,
      iq,
      users: compileScope(p.users, p.except_users, dpath),
    });
  }
  const delegations = new Map<string, Map<string, CompiledDelegation>>();
  for (const [domainKey, byNs] of Object.entries(c.policy.delegations)) {
    const domain = normaliseDomain(domainKey)!;
    const m = new Map<string, CompiledDelegation>();
    for (const [namespace, d] of Object.entries(byNs)) {
      m.set(namespace, { namespace, attributes: d.attributes, path: `${path}.delegations.${domainKey}.${namespace}` });
    }
    delegations.set(domain, m);
  }
  const speak = (v: 'auto' | 1 | 2 | '1' | '2'): Speaks => (v === 'auto' ? 'auto' : v === 1 || v === '1' ? 1 : 2);
  const speaks = { privilege: speak(c.policy.speaks.privilege), delegation: speak(c.policy.speaks.delegation) };
  return { name: c.name, path, speaks, privileges, delegations };
}

export function compilePolicy(loaded: LoadedPolicy): CompiledPolicy {
  const components = new Map<string, CompiledComponent>();
  for (const [name, c] of loaded.components) components.set(name, compileComponent(c));
  return {
    mode: loaded.policy.mode,
    pendingTimeoutMs: loaded.policy.limits.pending_timeout_ms,
    maxPending: loaded.policy.limits.max_pending,
    components,
  };
}
