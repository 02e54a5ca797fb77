/**
 * Presence subscriptions as privguard has seen them, to tell the presence a
 * server routes because of a subscription from the presence it forwards
 * because of the XEP-0356 presence privilege (both arrive at the component
 * looking the same).
 *
 * The ledger holds pairs (user, contact): "user has let contact see her
 * presence" (the user's roster item for contact has subscription `from` or
 * `both`). Evidence, all of it seen on privguard's two legs:
 *  - roster sets privguard let through (an item's new subscription);
 *  - roster results and pushes the server sends (the server's own state);
 *  - subscription exchanges it relayed: `subscribed`/`unsubscribed` from the
 *    user to the contact, `unsubscribe` from the contact to the user.
 * It is bounded; what falls out (or was never seen) is judged by the presence
 * right, so a gap costs a presence, never a leak. Pure functions compute the
 * changes; the session applies them to its ledger.
 */
import type { Element } from '@xmpp/xml';
import { parseJid, type Jid } from '../protocol/jid.js';
import { NS } from '../protocol/ns.js';
import type { JidScope, ScopeContext } from './scope.js';

export type SubscriptionChange =
  | { op: 'add' | 'remove'; user: string; contact: string }
  /** A full roster arrived for this user: forget what was known about her. */
  | { op: 'reset'; user: string };

export interface SubscriptionView {
  /** Whether `user` (bare) is known to let `contact` (bare) see her presence. */
  approved(user: string, contact: string): boolean;
}

const DEFAULT_MAX_PAIRS = 100_000;
/** No change: one shared empty list, as most stanzas (every message) change nothing. */
const NONE: readonly SubscriptionChange[] = Object.freeze([]);

export class SubscriptionLedger implements SubscriptionView {
  readonly #byUser = new Map<string, Set<string>>();
  #pairs = 0;
  readonly #max: number;

  constructor(maxPairs = DEFAULT_MAX_PAIRS) {
    this.#max = maxPairs;
  }

  get size(): number {
    return this.#pairs;
  }

  approved(user: string, contact: string): boolean {
    return this.#byUser.get(user)?.has(contact) ?? false;
  }

  apply(changes: readonly SubscriptionChange[]): void {
    for (const c of changes) {
      const set = this.#byUser.get(c.user);
      if (c.op === 'reset') {
        if (set) this.#pairs -= set.size;
        this.#byUser.delete(c.user);
      } else if (c.op === 'remove') {
        if (set?.delete(c.contact)) {
          this.#pairs--;
          if (set.size === 0) this.#byUser.delete(c.user);
        }
      } else if (!set?.has(c.contact) && this.#makeRoom(c.user)) {
        const s = this.#byUser.get(c.user) ?? new Set<string>();
        s.add(c.contact);
        this.#byUser.set(c.user, s);
        this.#pairs++;
      }
    }
  }

  /** Full: forget the users first seen longest ago (their presence is then judged by the right). */
  #makeRoom(keep: string): boolean {
    for (const [user, set] of this.#byUser) {
      if (this.#pairs < this.#max) return true;
      if (user === keep) continue;
      this.#pairs -= set.size;
      this.#byUser.delete(user);
    }
    return this.#pairs < this.#max;
  }
}

/** Subscription values that let presence flow from the roster's owner to the item. */
const SHARES = new Set(['from', 'both']);
/** Values a roster set may not give without roster_subscription (RFC 6121 §2.1.2.5: only the server sets these). */
const RAISES = new Set(['from', 'to', 'both']);

export interface RosterItem {
  el: Element;
  /** The item's JID, prepared (undefined: missing or invalid). */
  jid: Jid | undefined;
  raw: string | undefined;
  subscription: string | undefined;
}

/**
 * Every child of every roster query of an IQ. The server reads only `<item/>`
 * children of the first child; taking all of them judges a superset.
 */
export function rosterItems(iq: Element): RosterItem[] {
  const out: RosterItem[] = [];
  for (const q of iq.children) {
    if (typeof q === 'string' || q.name !== 'query' || q.getNS() !== NS.roster) continue;
    for (const item of q.children) {
      if (typeof item === 'string') continue;
      const raw = item.attrs.jid as string | undefined;
      const parsed = raw === undefined ? undefined : parseJid(raw);
      out.push({ el: item, jid: parsed?.ok ? parsed.jid : undefined, raw, subscription: item.attrs.subscription as string | undefined });
    }
  }
  return out;
}

/** Whether a roster set's item creates or raises a subscription: subscription from/to/both, or any `ask`. */
export function raisesSubscription(item: RosterItem): boolean {
  return (item.subscription !== undefined && RAISES.has(item.subscription)) || item.el.attrs.ask !== undefined;
}

/**
 * A roster set may create or raise a subscription only for items in the
 * roster_subscription scope: mod_privilege (Prosody) applies the item's
 * `subscription` as given, so without this a roster set buys the user's
 * presence. Lowering (`none`, `remove`) is always allowed. Returns what is
 * out of scope, in words, or undefined when the set may go.
 */
export function subscriptionOutOfScope(scope: JidScope, iq: Element, ctx: ScopeContext): string | undefined {
  if (scope.any) return undefined;
  for (const item of rosterItems(iq)) {
    if (!raisesSubscription(item)) continue;
    const what = item.el.attrs.ask !== undefined ? `ask ${String(item.el.attrs.ask)}` : `subscription ${String(item.subscription)}`;
    if (!item.jid) return `item ${JSON.stringify(item.raw ?? '')} with ${what}: not a valid JID`;
    if (!scope.matches(item.jid, ctx)) return `item ${item.jid.bare} with ${what}`;
  }
  return undefined;
}

/** What an item says about `user` → item (its subscription, when it states one the server acts on). */
function itemChange(user: string, item: RosterItem): SubscriptionChange | undefined {
  if (!item.jid || item.jid.resource !== '') return undefined;
  const s = item.subscription;
  if (s === undefined) return undefined;
  if (SHARES.has(s)) return { op: 'add', user, contact: item.jid.bare };
  if (s === 'to' || s === 'none' || s === 'remove') return { op: 'remove', user, contact: item.jid.bare };
  return undefined;
}

function bareUser(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const r = parseJid(raw);
  return r.ok && r.jid.local !== '' ? r.jid.bare : undefined;
}

function bareOf(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const r = parseJid(raw);
  return r.ok ? r.jid.bare : undefined;
}

/** A roster set privguard forwards to the server (towards the bare JID of the roster's owner). */
export function changesFromRosterSet(iq: Element): readonly SubscriptionChange[] {
  if (iq.name !== 'iq' || iq.attrs.type !== 'set') return NONE;
  const user = bareUser(iq.attrs.to);
  if (user === undefined) return NONE;
  return rosterItems(iq).flatMap((item) => itemChange(user, item) ?? []);
}

/** A stanza the component sends: `unsubscribe` to a user ends what the user shared with the sender. */
export function changesToServer(el: Element): readonly SubscriptionChange[] {
  if (el.name === 'iq') return changesFromRosterSet(el);
  if (el.name !== 'presence' || el.attrs.type !== 'unsubscribe') return NONE;
  const user = bareUser(el.attrs.to);
  const contact = bareOf(el.attrs.from);
  return user !== undefined && contact !== undefined ? [{ op: 'remove', user, contact }] : [];
}

/**
 * A stanza from the server: an entity's `subscribed`/`unsubscribed` to a JID
 * of the component, or a roster result/push from the bare JID of a user of a
 * domain the policy manages (only that user's server sends those).
 */
export function changesFromServer(el: Element, managed: (domain: string) => boolean): readonly SubscriptionChange[] {
  const type = el.attrs.type as string | undefined;
  if (el.name === 'presence') {
    if (type !== 'subscribed' && type !== 'unsubscribed') return NONE;
    const user = bareUser(el.attrs.from);
    const contact = bareOf(el.attrs.to);
    if (user === undefined || contact === undefined) return NONE;
    return [{ op: type === 'subscribed' ? 'add' : 'remove', user, contact }];
  }
  if (el.name !== 'iq' || (type !== 'result' && type !== 'set')) return NONE;
  const from = typeof el.attrs.from === 'string' ? parseJid(el.attrs.from) : undefined;
  if (!from?.ok || from.jid.local === '' || from.jid.resource !== '' || !managed(from.jid.domain)) return NONE;
  const user = from.jid.bare;
  const items = rosterItems(el);
  if (type === 'set') return items.flatMap((item) => itemChange(user, item) ?? []);
  // A roster result is the whole roster: items without a subscription share nothing.
  if (!el.children.some((c) => typeof c !== 'string' && c.name === 'query' && c.getNS() === NS.roster)) return NONE;
  const changes: SubscriptionChange[] = [{ op: 'reset', user }];
  for (const item of items) {
    if (item.jid && item.jid.resource === '' && item.subscription !== undefined && SHARES.has(item.subscription)) {
      changes.push({ op: 'add', user, contact: item.jid.bare });
    }
  }
  return changes;
}
