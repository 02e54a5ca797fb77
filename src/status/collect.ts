/**
 * Assembles the status page's data at request time from the policy in force,
 * the live links and the recorder's memory. Components the policy names but
 * that are not connected are shown too, with the policy's column only.
 */
import type { LoadedPolicy } from '../config/load.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { domainStatuses, type LinkView } from './build.js';
import type { ComponentStatus, Status } from './model.js';
import type { StatusRecorder } from './recorder.js';

/** A live link as the status page reads it. */
export interface LiveLink {
  view: LinkView;
  /** Reading from the component is paused by its rate limit right now. */
  heldBack: boolean;
  pending: { privileged: { count: number; oldestAt: number | undefined }; delegated: { count: number; oldestAt: number | undefined } };
}

export interface StatusSources {
  recorder: StatusRecorder;
  policy: LoadedPolicy;
  compiled: CompiledPolicy;
  /** Live links by component name. */
  links: ReadonlyMap<string, LiveLink>;
  now?: number;
}

const EMPTY = new Map();

export function collectStatus(src: StatusSources): Status {
  const now = src.now ?? Date.now();
  const age = (at: number | undefined) => (at === undefined ? null : Math.max(0, now - at));
  const components: ComponentStatus[] = [];
  for (const [name, config] of src.policy.components) {
    const compiled = src.compiled.components.get(name);
    if (!compiled) continue;
    const link = src.links.get(name);
    const view: LinkView = link?.view ?? {
      compiled,
      policy: config.policy,
      advertised: EMPTY,
      grants: EMPTY,
      delegations: EMPTY,
      serverVersions: () => ({}),
      componentVersions: () => ({}),
    };
    const presence = src.recorder.presence(name);
    const rate = config.policy.rate;
    components.push({
      name,
      connected: link !== undefined,
      since: presence.since,
      reconnects: presence.reconnects,
      rate: rate ? { per_second: rate.per_second, burst: rate.burst, held_back: link?.heldBack ?? false } : null,
      pending: {
        privileged: { count: link?.pending.privileged.count ?? 0, oldest_age_ms: age(link?.pending.privileged.oldestAt) },
        delegated: { count: link?.pending.delegated.count ?? 0, oldest_age_ms: age(link?.pending.delegated.oldestAt) },
      },
      domains: domainStatuses(view),
      counters: src.recorder.counters(name),
    });
  }
  return {
    generated_at: new Date(now).toISOString(),
    started_at: new Date(src.recorder.startedAt).toISOString(),
    policy: { ...src.recorder.policy(), mode: src.policy.policy.mode },
    components,
    denials: src.recorder.denials(),
  };
}
