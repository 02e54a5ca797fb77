/**
 * Notices a server that never activates delegation: the component answered the
 * server's disco nesting queries (XEP-0355 §4.2, what ejabberd waits for before
 * it delegates), yet no delegation advertisement came within a deadline. That
 * is ejabberd #4336 (24.10 to 25.02, e.g. Debian 13's 24.12): with mod_privilege
 * loaded it drops the component's IQ results to a domain, these answers
 * included. privguard cannot repair that; it says so once per domain.
 */
export const DELEGATION_ACTIVATION_DEADLINE_MS = 5000;

export function delegationNeverActivatedText(domain: string, deadlineMs = DELEGATION_ACTIVATION_DEADLINE_MS): string {
  return (
    `${domain} sent no delegation advertisement within ${deadlineMs} ms of the component's answers to its disco nesting queries: ` +
    `delegation is not active. ejabberd 24.10 to 25.02 drop these answers while mod_privilege is loaded (ejabberd bug #4336); ` +
    `fixed in ejabberd 25.03: upgrade ejabberd (or leave mod_privilege out) to use delegation`
  );
}

/** On the link's clock: the driver asks for `nextDeadline()` and calls `due(now)` then. */
export class NestingWatch {
  /** Nesting query id → the server domain that asked. */
  #asked = new Map<string, string>();
  /** Domain → when its advertisement is overdue. */
  #deadlines = new Map<string, number>();
  #advertised = new Set<string>();
  #reported = new Set<string>();

  constructor(private readonly deadlineMs = DELEGATION_ACTIVATION_DEADLINE_MS) {}

  /** A nesting query from `domain` went to the component. */
  asked(id: string, domain: string): void {
    if (this.#asked.size < 1000) this.#asked.set(id, domain);
  }

  /** The component's result to IQ `id` went to the server: if it answered a nesting query, the clock starts. */
  answered(id: string, now: number): void {
    const domain = this.#asked.get(id);
    if (domain === undefined) return;
    this.#asked.delete(id);
    if (this.#advertised.has(domain) || this.#reported.has(domain) || this.#deadlines.has(domain)) return;
    this.#deadlines.set(domain, now + this.deadlineMs);
  }

  /** The server advertised a delegation from `domain`: it works. */
  advertised(domain: string): void {
    this.#advertised.add(domain);
    this.#deadlines.delete(domain);
  }

  nextDeadline(): number | undefined {
    let at: number | undefined;
    for (const d of this.#deadlines.values()) if (at === undefined || d < at) at = d;
    return at;
  }

  /** The domains whose advertisement is overdue at `now`; each is returned once. */
  due(now: number): string[] {
    const out: string[] = [];
    for (const [domain, at] of this.#deadlines) {
      if (at > now) continue;
      this.#deadlines.delete(domain);
      this.#reported.add(domain);
      out.push(domain);
    }
    return out;
  }
}
