/** What the status page reads of one online session: its link's tables, in the page's terms. */
import type { ComponentPolicy } from '../config/schema.js';
import { parseAdvertisement, type PrivilegeGrant } from '../protocol/privilege.js';
import type { LiveLink } from '../status/collect.js';
import type { Session } from './session.js';

/** A time on the link's clock (performance.now) as ms since the epoch. */
function epochOf(at: number | undefined): number | undefined {
  return at === undefined ? undefined : Date.now() - (performance.now() - at);
}

export function statusView(session: Session, policy: ComponentPolicy): LiveLink {
  const st = session.link.state();
  const advertised = new Map<string, PrivilegeGrant>();
  for (const [domain, el] of st.advertisements) {
    const adv = parseAdvertisement(el);
    if (adv) advertised.set(domain, adv.grant);
  }
  return {
    view: {
      compiled: st.compiled,
      policy,
      advertised,
      grants: st.grants,
      delegations: st.delegations,
      serverVersions: (d) => st.versions.server(d),
      componentVersions: (d) => st.versions.component(d),
    },
    heldBack: session.stats().componentPaused.includes('rate'),
    pending: {
      privileged: { count: st.privileged.size, oldestAt: epochOf(st.privileged.oldestSince()) },
      delegated: { count: st.delegated.size, oldestAt: epochOf(st.delegated.oldestSince()) },
    },
  };
}
