/**
 * The status page's data (GET /status.json, rendered as GET /): a zod schema
 * is the single source of its shape, so the JSON an admin scripts against and
 * the HTML cannot drift apart. Nothing secret goes in: no secrets, no stanza
 * bodies, only names, rights, counts and the audit fields of denials.
 */
import { z } from 'zod';

export const RIGHT_KINDS = ['roster', 'roster_push', 'message', 'presence', 'iq', 'delegation'] as const;

/** How the effective right compares with what the server granted and what the policy asks. */
export const RIGHT_MARKS = ['same', 'narrowed', 'capped', 'none'] as const;

export const RightRowSchema = z.strictObject({
  kind: z.enum(RIGHT_KINDS),
  /** e.g. `roster`, `iq http://jabber.org/protocol/pubsub`, `delegation urn:xmpp:mam:2`. */
  name: z.string(),
  /** The server's advertisement; null before the server advertised anything from this domain. */
  server: z.string().nullable(),
  policy: z.string(),
  /** What the component was told (and what is enforced). */
  effective: z.string(),
  /** The policy's content scope on this right (e.g. `to: self; nodes: urn:xmpp:avatar:*`); null: none beyond the defaults. */
  scope: z.string().nullable(),
  /**
   * narrowed: the effective right is narrower than the server's grant (the policy cut it);
   * capped: the policy asks for more than the server grants; same: nothing cut; none: granted nowhere.
   */
  mark: z.enum(RIGHT_MARKS),
});
export type RightRow = z.infer<typeof RightRowSchema>;

const VersionsSchema = z.strictObject({ privilege: z.number().int().nullable(), delegation: z.number().int().nullable() });

export const DomainStatusSchema = z.strictObject({
  domain: z.string(),
  /** The server's privilege advertisement from this domain arrived on this connection. */
  advertised: z.boolean(),
  /** On whose behalf (users / except_users globs). */
  users: z.array(z.string()),
  except_users: z.array(z.string()),
  /** Namespace versions on each leg (null: not seen yet). */
  versions: z.strictObject({ server: VersionsSchema, component: VersionsSchema }),
  rights: z.array(RightRowSchema),
});
export type DomainStatus = z.infer<typeof DomainStatusSchema>;

const PendingSchema = z.strictObject({ count: z.number().int().min(0), oldest_age_ms: z.number().min(0).nullable() });

export const CounterSchema = z.strictObject({
  action: z.string(),
  allowed: z.number().int().min(0),
  denied: z.number().int().min(0),
  would_deny: z.number().int().min(0),
});
export type Counter = z.infer<typeof CounterSchema>;

export const ComponentStatusSchema = z.strictObject({
  name: z.string(),
  connected: z.boolean(),
  /** Since when it is connected (or, when not, since when it is gone); null: never connected. */
  since: z.string().nullable(),
  /** Connections after the first one since privguard started. */
  reconnects: z.number().int().min(0),
  rate: z.strictObject({ per_second: z.number(), burst: z.number(), held_back: z.boolean() }).nullable(),
  pending: z.strictObject({ privileged: PendingSchema, delegated: PendingSchema }),
  domains: z.array(DomainStatusSchema),
  counters: z.array(CounterSchema),
});
export type ComponentStatus = z.infer<typeof ComponentStatusSchema>;

export const DenialSchema = z.strictObject({
  time: z.string(),
  component: z.string(),
  /** denied, or would_deny in report mode. */
  verdict: z.enum(['denied', 'would_deny']),
  action: z.string(),
  domain: z.string().nullable(),
  user: z.string().nullable(),
  namespace: z.string().nullable(),
  reason: z.string(),
  /** The YAML path of the rule that decided; null when the protocol or the server grant did. */
  rule: z.string().nullable(),
});
export type Denial = z.infer<typeof DenialSchema>;

export const PolicyIssueSchema = z.strictObject({ path: z.string(), line: z.number().int(), column: z.number().int(), message: z.string() });

export const PolicyStatusSchema = z.strictObject({
  file: z.string(),
  /** The SHA-256 (hex) of the file's text in force (the page shows its first 12 digits). */
  revision: z.string(),
  loaded_at: z.string(),
  mode: z.enum(['enforce', 'report']),
  /** The last reload (SIGHUP or a change of the file); null: none since start. */
  last_reload: z
    .strictObject({
      at: z.string(),
      ok: z.boolean(),
      /** Why it failed, each with line:column when the file was invalid. */
      errors: z.array(PolicyIssueSchema),
    })
    .nullable(),
});
export type PolicyStatus = z.infer<typeof PolicyStatusSchema>;

export const StatusSchema = z.strictObject({
  generated_at: z.string(),
  started_at: z.string(),
  policy: PolicyStatusSchema,
  components: z.array(ComponentStatusSchema),
  /** The last denials, newest first (at most DENIAL_RING_SIZE). */
  denials: z.array(DenialSchema),
});
export type Status = z.infer<typeof StatusSchema>;

export const DENIAL_RING_SIZE = 50;
