/**
 * A Link with nothing attached: a fake clock and effects that are recorded,
 * not sent. `privguard explain` (and `privguard test`) drive the production
 * path through it — advertisements, pending requests, then the stanzas in
 * question — and the tests drive it to check the link's properties.
 */
import type { Element } from '@xmpp/xml';
import type { Mode } from '../config/schema.js';
import type { CompiledComponent } from '../policy/compile.js';
import { assumedAdvertisement } from '../policy/grants.js';
import type { Verdict } from '../policy/verdict.js';
import { buildDelegationAdvertisement } from '../protocol/delegation.js';
import type { StreamErrorCondition } from '../protocol/ns.js';
import { buildAdvertisement } from '../protocol/privilege.js';
import type { DecisionEvent } from './decision.js';
import { Link } from './link.js';

export interface Sent {
  to: 'component' | 'server';
  xml: string;
}

export interface OfflineLink {
  link: Link;
  /** Everything the link sent, in order. */
  sent: Sent[];
  decisions: DecisionEvent[];
  /** Verdicts with the stanza each was taken on, in order. */
  verdicts: { verdict: Verdict; stanza: Element }[];
  /** Set once the link closed its streams. */
  closed: { condition: StreamErrorCondition | undefined; text: string | undefined } | undefined;
  /** The fake clock: now, and moving it on (the link's deadlines are checked). */
  now(): number;
  advance(ms: number): void;
}

export interface OfflineOptions {
  compiled: CompiledComponent;
  mode?: Mode;
  pendingTimeoutMs?: number;
  maxPending?: number;
}

export function offlineLink(opts: OfflineOptions): OfflineLink {
  let clock = 0;
  const out: OfflineLink = {
    link: undefined as unknown as Link,
    sent: [],
    decisions: [],
    verdicts: [],
    closed: undefined,
    now: () => clock,
    advance(ms) {
      clock += ms;
      out.link.tick(clock);
    },
  };
  out.link = new Link({
    name: opts.compiled.name,
    compiled: opts.compiled,
    mode: opts.mode ?? 'enforce',
    pendingTimeoutMs: opts.pendingTimeoutMs ?? 30_000,
    maxPending: opts.maxPending ?? 1000,
    now: () => clock,
    effects: {
      toComponent: (xml) => void out.sent.push({ to: 'component', xml }),
      toServer: (xml) => void out.sent.push({ to: 'server', xml }),
      closeStreams: (condition, text) => {
        out.closed = { condition, text };
      },
      decision: (e) => void out.decisions.push(e),
      log: () => {},
      verdict: (verdict, stanza) => void out.verdicts.push({ verdict, stanza }),
    },
  });
  return out;
}

/**
 * The advertisements a server would send if it granted exactly what the
 * policy asks (what `explain` assumes when it is given none): privileges in
 * `privilegeVersion`, delegations in `delegationVersion`.
 */
export function assumedAdvertisements(compiled: CompiledComponent, privilegeVersion: 1 | 2 = 2, delegationVersion: 1 | 2 = 2): Element[] {
  const out: Element[] = [];
  for (const [domain, p] of compiled.privileges) {
    const adv = assumedAdvertisement(p, privilegeVersion);
    const g = adv.grant;
    out.push(buildAdvertisement(domain, compiled.name, { roster: g.roster, push: g.push ?? false, message: g.message, presence: g.presence, iq: g.iq }, adv.version));
  }
  for (const [domain, byNs] of compiled.delegations) {
    out.push(buildDelegationAdvertisement(domain, compiled.name, new Map([...byNs].map(([ns, d]) => [ns, d.attributes])), delegationVersion));
  }
  return out;
}
