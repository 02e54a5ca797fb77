/**
 * The views policy/ gets of a link's tables. Each is built once per link, and
 * its functions read the live tables, so deciding a stanza allocates neither a
 * context nor a closure. The link replaces `component` on reload.
 */
import type { CompiledComponent } from '../policy/compile.js';
import type { EffectiveGrant } from '../policy/grants.js';
import type { InboundContext } from '../policy/inbound.js';
import type { OutboundContext } from '../policy/outbound.js';
import type { SubscriptionLedger } from '../policy/subscriptions.js';
import type { DelegatedIqTrack } from '../policy/verdict.js';
import type { PendingPrivileged } from './answers.js';
import type { PendingTable } from './pending.js';

export interface LinkTables {
  compiled: CompiledComponent;
  grants: ReadonlyMap<string, EffectiveGrant>;
  privileged: PendingTable<PendingPrivileged>;
  delegated: PendingTable<DelegatedIqTrack>;
  /** What the server delegated on this link: domain → namespace → attributes. */
  delegations: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  subscriptions: SubscriptionLedger;
}

/** What decisions on the component's stanzas read. */
export function outboundContext(t: LinkTables): OutboundContext {
  const { privileged, delegated } = t;
  return {
    component: t.compiled,
    grants: t.grants,
    isPending: (id) => privileged.has(id),
    get pendingFull() {
      return privileged.full;
    },
    delegationPending: (id) => delegated.get(id),
    delegationClosed: (id) => delegated.closed(id),
  };
}

/** What decisions on the server's stanzas read. */
export function inboundContext(t: LinkTables): InboundContext {
  const { privileged, delegated } = t;
  return {
    component: t.compiled,
    grants: t.grants,
    pendingUser: (id) => privileged.get(id)?.user,
    expiredUser: (id) => privileged.expired(id)?.user,
    delegations: t.delegations,
    isDelegationPending: (id) => delegated.has(id),
    get delegationPendingFull() {
      return delegated.full;
    },
    subscriptions: t.subscriptions,
  };
}
