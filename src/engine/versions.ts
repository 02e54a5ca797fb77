/**
 * Namespace versions on both legs of a link. The server's are learned from
 * what it sends (per server domain); the component's are what the policy says
 * it speaks (`auto`: as the server there). Stanzas are translated into the
 * server's versions before any decision, and back on the way to the component:
 * decisions never see a version.
 */
import type { Element } from '@xmpp/xml';
import type { Speaks } from '../policy/compile.js';
import { parseJid } from '../protocol/jid.js';
import { detectVersions, translate, type Versions } from '../protocol/translate.js';

const NONE: Versions = Object.freeze({});

/** The server domain of a JID attribute (user@D/r → D). */
export function domainOf(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const j = parseJid(raw);
  return j.ok ? j.jid.domain : undefined;
}

export class LinkVersions {
  readonly #server = new Map<string, Versions>();
  #speaks: { privilege: Speaks; delegation: Speaks };
  /** The component speaks as the server on both namespaces: nothing is ever translated (the common case). */
  #asServer: boolean;

  constructor(speaks: { privilege: Speaks; delegation: Speaks }) {
    this.#speaks = speaks;
    this.#asServer = speaks.privilege === 'auto' && speaks.delegation === 'auto';
  }

  /** A new policy may say the component speaks otherwise. */
  setSpeaks(speaks: { privilege: Speaks; delegation: Speaks }): void {
    this.#speaks = speaks;
    this.#asServer = speaks.privilege === 'auto' && speaks.delegation === 'auto';
  }

  /** Whether a component stanza may be translated on its way to the server (then it is never sent as it arrived). */
  get translates(): boolean {
    return !this.#asServer;
  }

  /** Learn from a server stanza; returns the domain whose versions it showed. */
  learn(el: Element): { domain: string; versions: Versions } | undefined {
    const seen = detectVersions(el);
    if (!seen) return undefined;
    const known = this.#server.get(seen.domain);
    const next: Versions = { ...known };
    if (seen.versions.privilege !== undefined) next.privilege = seen.versions.privilege;
    if (seen.versions.delegation !== undefined) next.delegation = seen.versions.delegation;
    this.#server.set(seen.domain, next);
    return seen;
  }

  server(domain: string): Versions {
    return this.#server.get(domain) ?? NONE;
  }

  /** The versions the component speaks towards `domain`. */
  component(domain: string): Versions {
    const server = this.server(domain);
    const { privilege, delegation } = this.#speaks;
    return {
      privilege: privilege === 'auto' ? server.privilege : privilege,
      delegation: delegation === 'auto' ? server.delegation : delegation,
    };
  }

  /** A component stanza into the server's versions (in place); false when it was surely left as it was. */
  toServer(el: Element): boolean {
    if (this.#asServer) return false;
    const domain = domainOf(el.attrs.to);
    if (domain !== undefined) translate(el, this.component(domain), this.server(domain));
    return true;
  }

  /** A server stanza (or privguard's rewrite of one) into the component's versions (in place). */
  toComponent(el: Element): void {
    if (this.#asServer) return;
    const domain = domainOf(el.attrs.from);
    if (domain !== undefined) translate(el, this.server(domain), this.component(domain));
  }

  /** Domains whose versions are known. */
  domains(): IterableIterator<string> {
    return this.#server.keys();
  }
}
