/** Building decision contexts from a policy text and stanzas written as XML. */
import { loadPolicyText } from '../../../src/config/load.js';
import { compilePolicy, type CompiledComponent } from '../../../src/policy/compile.js';
import { effectiveGrant, type EffectiveGrant } from '../../../src/policy/grants.js';
import type { InboundContext } from '../../../src/policy/inbound.js';
import type { OutboundContext } from '../../../src/policy/outbound.js';
import type { DelegatedIqTrack } from '../../../src/policy/verdict.js';
import { parseAdvertisement } from '../../../src/protocol/privilege.js';

/** Parses stanzas exactly as privguard's stream layer does (test/support/stanzas.ts). */
import { parseStanza, parseStanzas } from '../../support/stanzas.js';

export const stanzas = parseStanzas;
export const stanza = parseStanza;

export const C = 'pubsub.example.test';
export const D = 'example.test';

export const FULL_GRANT = `<message from='example.test' to='pubsub.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/><perm access='presence' type='roster'/><perm access='iq'><namespace ns='jabber:iq:private' type='both'/><namespace ns='vcard-temp' type='both'/><namespace ns='http://jabber.org/protocol/pubsub' type='both'/></perm></privilege></message>`;

export function compiled(privileges: string): CompiledComponent {
  const text = `components:\n  ${C}:\n    secret: s\n    upstream_secret: u\n    privileges:\n${privileges
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n')}\n`;
  return compilePolicy(loadPolicyText(text, 'unit.yaml', {})).components.get(C)!;
}

export interface Ctx {
  component: CompiledComponent;
  grants: Map<string, EffectiveGrant>;
  pending: Map<string, string>;
  expired: Map<string, string>;
  /** What the server delegated: domain → namespace → attributes. */
  delegations: Map<string, Map<string, readonly string[]>>;
  delegPending: Map<string, DelegatedIqTrack>;
  out: OutboundContext;
  in: InboundContext;
}

/** A context as a session has it after the server's advertisement(s) (none: not advertised yet). */
export function context(privileges: string, ...advertisements: string[]): Ctx {
  return contextFor(compiled(privileges), ...advertisements);
}

/** A context for a component compiled from a whole policy text. */
export function contextForPolicy(policyText: string, name = C, ...advertisements: string[]): Ctx {
  return contextFor(compilePolicy(loadPolicyText(policyText, 'unit.yaml', {})).components.get(name)!, ...advertisements);
}

export function contextFor(component: CompiledComponent, ...advertisements: string[]): Ctx {
  const grants = new Map<string, EffectiveGrant>();
  for (const adv of advertisements) {
    const el = stanza(adv);
    const parsed = parseAdvertisement(el)!;
    const domain = String(el.attrs.from);
    grants.set(domain, effectiveGrant(domain, parsed, component.privileges.get(domain)).grant);
  }
  const pending = new Map<string, string>();
  const expired = new Map<string, string>();
  const delegations = new Map<string, Map<string, readonly string[]>>();
  const delegPending = new Map<string, DelegatedIqTrack>();
  const ctx: Ctx = {
    component,
    grants,
    pending,
    expired,
    delegations,
    delegPending,
    out: { component, grants, isPending: (id) => pending.has(id), pendingFull: false, delegationPending: (id) => delegPending.get(id), delegationClosed: () => false },
    in: {
      component,
      grants,
      pendingUser: (id) => pending.get(id),
      expiredUser: (id) => expired.get(id),
      delegations,
      isDelegationPending: (id) => delegPending.has(id),
      delegationPendingFull: false,
    },
  };
  return ctx;
}
