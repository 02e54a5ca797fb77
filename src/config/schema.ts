/**
 * The policy file's shape: the single source of truth for its keys, defaults
 * and allowed values (DESIGN.md "The policy file"). Unknown keys are errors
 * everywhere. Cross-field rules of XEP-0356/0355 are refinements here, so that
 * `check`, `run` and reload all reject the same files.
 */
import { z } from 'zod';
import { isReservedNamespace } from '../protocol/ns.js';
import { normaliseDomain } from '../protocol/jid.js';
import { nodeprep } from '../protocol/stringprep.js';
import { IQ_ACCESS, MESSAGE_ACCESS, PRESENCE_ACCESS, ROSTER_ACCESS } from '../protocol/privilege.js';
import { parseScopeEntry } from '../policy/scope.js';

export const MODES = ['enforce', 'report'] as const;
export type Mode = (typeof MODES)[number];

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1);

const endpoint = (defaultPort: number) =>
  z.strictObject({ host: host.default('127.0.0.1'), port: port.default(defaultPort) });

export const SecretSource = z.union(
  [z.string().min(1), z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })],
  { error: 'expected a secret: a non-empty string, { env: NAME } or { file: PATH }' },
);
export type SecretSource = z.infer<typeof SecretSource>;

/** Namespace version spoken towards the component (`auto` = as the server). */
const Version = z.union([z.literal('auto'), z.literal(1), z.literal(2), z.literal('1'), z.literal('2')], {
  error: 'expected auto, 1 or 2',
});

/** Localpart globs: `*` and `?` wildcards, no '@', '/' or white space. */
const UserGlob = z
  .string()
  .min(1)
  .regex(/^[^@/\s]+$/, { error: 'a user pattern is a localpart glob ("*", "alice", "bot-*"), without "@" or "/"' })
  // Patterns are matched against localparts as the server prepares them (nodeprep).
  .refine((p) => /[@/\s]/.test(p) || nodeprep(p).ok, { error: 'a user pattern must be a valid localpart (nodeprep refuses it)' });

/**
 * A list of JID scopes (policy/scope.ts): any, self, component, server, a
 * domain, a bare JID or a glob. Each entry is checked with the same parser the
 * compiler uses, so `check` refuses exactly what could not be compiled.
 */
export const JidScopeList = z.array(
  z.string().superRefine((entry, ctx) => {
    const r = parseScopeEntry(entry);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
  }),
);

/**
 * Refinements run even when a sibling key already failed, so a broken file
 * reports all of its problems at once; they therefore guard every value.
 */
const always = { when: () => true } as const;

const isReservedNs = isReservedNamespace;
/** XEP-0355 §7.2.4/§7.2.5: the two special namespaces that may be delegated. */
const SPECIAL_DELEGATION = /^urn:xmpp:delegation:[12]:bare:disco#(info|items):\*$/;

/** Pubsub node globs: node names with `*` for any run of characters. */
const NodeGlob = z.string().min(1, { error: 'a node pattern is a node name, "*" wildcards allowed' });

/** XEP-0060 namespaces whose payload children name nodes (the `nodes` key judges them). */
export const PUBSUB_NAMESPACES = ['http://jabber.org/protocol/pubsub', 'http://jabber.org/protocol/pubsub#owner'] as const;

/**
 * An iq namespace grant: the short form (get | set | both) or the long form
 * { type, to, nodes } (issue "content scopes"); `to` defaults to [any] and
 * `nodes` to ["*"], so a long form without them means the short form.
 */
const IqLongForm = z.strictObject({
  type: z.enum(IQ_ACCESS),
  to: JidScopeList.default(['any']),
  nodes: z.array(NodeGlob).min(1, { error: 'nodes needs at least one pattern ("*" for every node)' }).optional(),
});
const IqGrant = z.union([z.enum(IQ_ACCESS), IqLongForm], {
  error: 'expected get, set or both, or { type: get|set|both, to: [JID scopes], nodes: [node patterns] }',
});
export type IqGrant = z.infer<typeof IqGrant>;

const Privileges = z
  .strictObject({
    roster: z.enum(ROSTER_ACCESS).default('none'),
    roster_push: z.boolean().optional(),
    /** Roster items a roster set may give a subscription (from/to/both or ask); none by default. */
    roster_subscription: JidScopeList.default([]),
    message: z.enum(MESSAGE_ACCESS).default('none'),
    /** Whom a privileged message may be addressed to (its inner "to"); anyone by default. */
    message_to: JidScopeList.default(['any']),
    presence: z.enum(PRESENCE_ACCESS).default('none'),
    iq: z.record(z.string().min(1), IqGrant).default({}),
    users: z.array(UserGlob).default(['*']),
    except_users: z.array(UserGlob).default([]),
  })
  .superRefine((p, ctx) => {
    const readsRoster = p.roster === 'get' || p.roster === 'both';
    if (p.presence === 'roster' && !readsRoster) {
      ctx.addIssue({
        code: 'custom',
        path: ['presence'],
        message: `presence "roster" needs roster get or both (XEP-0356 §7.4), but roster is "${p.roster}"`,
      });
    }
    if (p.roster_push === true && !readsRoster) {
      ctx.addIssue({
        code: 'custom',
        path: ['roster_push'],
        message: `roster_push true needs roster get or both (XEP-0356 §4.1), but roster is "${p.roster}"`,
      });
    }
    for (const [ns, grant] of Object.entries(isObject(p.iq) ? p.iq : {})) {
      if (isObject(grant) && grant.nodes !== undefined && !(PUBSUB_NAMESPACES as readonly string[]).includes(ns)) {
        ctx.addIssue({
          code: 'custom',
          path: ['iq', ns, 'nodes'],
          message: `nodes applies only to the pubsub namespaces (${PUBSUB_NAMESPACES.join(', ')}), not to "${ns}"`,
        });
      }
      if (isReservedNs(ns)) {
        ctx.addIssue({
          code: 'custom',
          path: ['iq', ns],
          message: `"${ns}" may not be granted as an iq namespace (urn:xmpp:privilege:* and urn:xmpp:delegation:* are reserved)`,
        });
      }
    }
  }, always);
export type Privileges = z.infer<typeof Privileges>;

const Delegation = z.strictObject({
  attributes: z.array(z.string().regex(/^[^\s:]+$/, { error: 'an attribute name without spaces or prefix' })).default([]),
});

const Delegations = z.record(z.string().min(1), Delegation).superRefine((d, ctx) => {
  for (const ns of Object.keys(isObject(d) ? d : {})) {
    if (isReservedNs(ns) && !SPECIAL_DELEGATION.test(ns)) {
      ctx.addIssue({
        code: 'custom',
        path: [ns],
        message: `"${ns}" may not be delegated (XEP-0355 forbids delegating urn:xmpp:delegation:*; urn:xmpp:privilege:* is reserved)`,
      });
    }
  }
}, always);

/** Record keyed by domain names, refusing keys that are not domains or collide once normalised. */
function domainKeyed<T extends z.ZodType>(value: T, what: string) {
  return z.record(z.string(), value).superRefine((rec, ctx) => {
    const seen = new Map<string, string>();
    for (const key of Object.keys(isObject(rec) ? rec : {})) {
      const norm = normaliseDomain(key);
      if (norm === undefined || key.includes('@') || key.includes('/')) {
        ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is not a valid ${what} (a domain name)` });
        continue;
      }
      const other = seen.get(norm);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is the same domain as "${other}"` });
      }
      seen.set(norm, key);
    }
  }, always);
}

const Component = z.strictObject({
  /** What the component authenticates with towards privguard. */
  secret: SecretSource,
  /**
   * What privguard authenticates with towards the server. Required and, once
   * resolved, different from every component's `secret` (config/load.ts): a
   * component that knew it could connect to the server directly, bypassing privguard.
   */
  upstream_secret: SecretSource,
  /** Accept an upstream_secret equal to a component secret (a `check` warning instead of an error). */
  allow_shared_secret: z.boolean().default(false),
  speaks: z.strictObject({ privilege: Version.default('auto'), delegation: Version.default('auto') }).default({
    privilege: 'auto',
    delegation: 'auto',
  }),
  rate: z.strictObject({ per_second: z.number().positive(), burst: z.number().int().min(1) }).optional(),
  privileges: domainKeyed(Privileges, 'server domain').default({}),
  delegations: domainKeyed(Delegations, 'server domain').default({}),
});
export type ComponentPolicy = z.infer<typeof Component>;

export const PolicySchema = z
  .strictObject({
    listen: endpoint(5347).default({ host: '127.0.0.1', port: 5347 }),
    upstream: endpoint(5348).default({ host: '127.0.0.1', port: 5348 }),
    mode: z.enum(MODES).default('enforce'),
    audit: z.strictObject({ file: z.string().min(1).default('-') }).default({ file: '-' }),
    metrics: endpoint(9464).optional(),
    limits: z
      .strictObject({
        max_stanza_bytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(262144),
        pending_timeout_ms: z.number().int().min(100).max(600_000).default(30_000),
        max_pending: z.number().int().min(1).max(1_000_000).default(1000),
      })
      .default({ max_stanza_bytes: 262144, pending_timeout_ms: 30_000, max_pending: 1000 }),
    components: domainKeyed(Component, 'component name'),
  })
  .superRefine((p, ctx) => {
    if (isObject(p.components) && Object.keys(p.components).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['components'], message: 'at least one component is required' });
    }
    if (p.listen?.host === p.upstream?.host && p.listen?.port === p.upstream?.port) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen', 'port'],
        message: `listen and upstream are both ${p.listen.host}:${p.listen.port}: privguard would connect to itself`,
      });
    }
    if (p.metrics && p.metrics.host === p.listen?.host && p.metrics.port === p.listen?.port) {
      ctx.addIssue({ code: 'custom', path: ['metrics', 'port'], message: 'metrics and listen use the same port' });
    }
  }, always);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type Policy = z.infer<typeof PolicySchema>;
