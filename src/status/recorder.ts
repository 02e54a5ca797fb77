/**
 * What the status page remembers between requests, in memory and bounded:
 * the last denials (a ring), counters of decisions per component and action,
 * when each component came and went, and the policy's load and reload
 * history. It is fed decision records (the audit's fields) and connection
 * events; it never sees stanzas.
 */
import type { PolicyIssue } from '../errors.js';
import { DENIAL_RING_SIZE, type Counter, type Denial, type PolicyStatus } from './model.js';

/** What the recorder reads of a decision: the audit record's fields (`action` is the event's `subject`). */
export interface Decided {
  component: string;
  action: string;
  verdict: 'allowed' | 'denied' | 'would_deny' | 'filtered' | 'would_filter';
  reason: string;
  domain?: string | undefined;
  user?: string | undefined;
  namespace?: string | undefined;
  rule?: string | undefined;
}

interface Presence {
  connected: boolean;
  since: number;
  connects: number;
}

export class StatusRecorder {
  readonly startedAt: number;
  #now: () => number;
  /** A fixed-size ring: #next is where the next denial goes. */
  #ring: (Denial | undefined)[] = new Array<Denial | undefined>(DENIAL_RING_SIZE);
  #next = 0;
  #counters = new Map<string, Map<string, Counter>>();
  #presence = new Map<string, Presence>();
  #policy: Omit<PolicyStatus, 'mode'> = { file: '', revision: '', loaded_at: '', last_reload: null };

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.startedAt = now();
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }

  /** One decision (the fields of its audit record; the decision event carries the same). */
  decision(r: Decided): void {
    let byAction = this.#counters.get(r.component);
    if (!byAction) this.#counters.set(r.component, (byAction = new Map<string, Counter>()));
    let c = byAction.get(r.action);
    if (!c) byAction.set(r.action, (c = { action: r.action, allowed: 0, denied: 0, would_deny: 0, filtered: 0 }));
    // A filtered stanza is delivered (reduced): counted apart, not a denial.
    if (r.verdict === 'filtered' || r.verdict === 'would_filter') {
      c.filtered++;
      return;
    }
    c[r.verdict]++;
    if (r.verdict === 'allowed') return;
    this.#ring[this.#next] = {
      time: this.#iso(),
      component: r.component,
      verdict: r.verdict,
      action: r.action,
      domain: r.domain ?? null,
      user: r.user ?? null,
      namespace: r.namespace ?? null,
      reason: r.reason,
      rule: r.rule ?? null,
    };
    this.#next = (this.#next + 1) % DENIAL_RING_SIZE;
  }

  /** The denials held, newest first. */
  denials(): Denial[] {
    const out: Denial[] = [];
    for (let i = 1; i <= DENIAL_RING_SIZE; i++) {
      const d = this.#ring[(this.#next - i + DENIAL_RING_SIZE) % DENIAL_RING_SIZE];
      if (d) out.push(d);
    }
    return out;
  }

  counters(component: string): Counter[] {
    return [...(this.#counters.get(component)?.values() ?? [])].sort((a, b) => (a.action < b.action ? -1 : a.action > b.action ? 1 : 0)).map((c) => ({ ...c }));
  }

  online(component: string): void {
    const p = this.#presence.get(component);
    this.#presence.set(component, { connected: true, since: this.#now(), connects: (p?.connects ?? 0) + 1 });
  }

  offline(component: string): void {
    const p = this.#presence.get(component);
    if (p) this.#presence.set(component, { connected: false, since: this.#now(), connects: p.connects });
  }

  presence(component: string): { connected: boolean; since: string | null; reconnects: number } {
    const p = this.#presence.get(component);
    if (!p) return { connected: false, since: null, reconnects: 0 };
    return { connected: p.connected, since: new Date(p.since).toISOString(), reconnects: Math.max(0, p.connects - 1) };
  }

  policyLoaded(file: string, revision: string): void {
    this.#policy = { ...this.#policy, file, revision, loaded_at: this.#iso() };
  }

  reloaded(result: { ok: true; file: string; revision: string } | { ok: false; errors: PolicyIssue[] }): void {
    if (result.ok) this.policyLoaded(result.file, result.revision);
    this.#policy = { ...this.#policy, last_reload: { at: this.#iso(), ok: result.ok, errors: result.ok ? [] : result.errors } };
  }

  policy(): Omit<PolicyStatus, 'mode'> {
    return this.#policy;
  }
}
